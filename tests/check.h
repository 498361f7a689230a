// SPDX-License-Identifier: MIT
// Minimal Unity-style test harness: CHECK/CHECK_EQ print both sides of a failed comparison,
// each test file registers a named case table and calls check_main().
#pragma once
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

namespace check {
inline int failures = 0;
inline const char *current = "";

template <typename T> std::string show(const T &v) {
  std::ostringstream os;
  if constexpr (std::is_same_v<T, unsigned char> || std::is_same_v<T, signed char> ||
                std::is_same_v<T, char>)
    os << int(v);
  else if constexpr (std::is_enum_v<T>)
    os << static_cast<long long>(v);
  else
    os << v;
  return os.str();
}
inline std::string show(const std::string &v) { return "\"" + v + "\""; }
inline std::string show(const char *v) { return v ? "\"" + std::string(v) + "\"" : "(null)"; }

inline void fail(const char *file, int line, const std::string &what) {
  std::fprintf(stderr, "%s:%d: %s: FAIL: %s\n", file, line, current, what.c_str());
  ++failures;
}
} // namespace check

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")");                        \
  } while (0)

#define CHECK_OP(a, op, b)                                                                   \
  do {                                                                                       \
    const auto &check_a_ = (a);                                                              \
    const auto &check_b_ = (b);                                                              \
    if (!(check_a_ op check_b_))                                                             \
      check::fail(__FILE__, __LINE__,                                                        \
                  std::string(#a " " #op " " #b ": ") + check::show(check_a_) + " vs " +     \
                      check::show(check_b_));                                                \
  } while (0)
#define CHECK_EQ(a, b) CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) CHECK_OP(a, <, b)
#define CHECK_LE(a, b) CHECK_OP(a, <=, b)
#define CHECK_GT(a, b) CHECK_OP(a, >, b)
#define CHECK_GE(a, b) CHECK_OP(a, >=, b)
#define CHECK_STR_CONTAINS(hay, needle)                                                      \
  do {                                                                                       \
    const std::string check_h_ = (hay);                                                      \
    const std::string check_n_ = (needle);                                                   \
    if (check_h_.find(check_n_) == std::string::npos)                                        \
      check::fail(__FILE__, __LINE__,                                                        \
                  "\"" + check_h_ + "\" does not contain \"" + check_n_ + "\"");             \
  } while (0)

struct CheckCase {
  const char *name;
  void (*fn)();
};

// Runs every case (or only the one named in argv[1]); exit status 1 if any check failed.
template <size_t N> int check_main(const CheckCase (&cases)[N], int argc, char **argv) {
  int run = 0;
  for (const CheckCase &c : cases) {
    if (argc > 1 && std::strcmp(argv[1], c.name) != 0) continue;
    check::current = c.name;
    int before = check::failures;
    c.fn();
    std::fprintf(stderr, "%s %s\n", check::failures == before ? "ok  " : "FAIL", c.name);
    ++run;
  }
  if (run == 0) {
    std::fprintf(stderr, "no test case named %s\n", argc > 1 ? argv[1] : "");
    return 1;
  }
  return check::failures ? 1 : 0;
}
