// SPDX-License-Identifier: MIT
// Owns logging: one call per level with a printf format, one sink (stderr, syslog or a file).
// Messages are prefixed with the object they are about ("link 1: ...", "stream 5 ...").
#pragma once
#include <string>

namespace braid {

enum class LogLevel { Error = 0, Info = 1, Debug = 2, Trace = 3 };

// Sets the sink: "stderr", "syslog", or a file path (appended). Returns false with err.
bool log_open(const std::string &sink, std::string &err);
void log_set_level(int verbose);
bool log_enabled(LogLevel lvl);
void log_msg(LogLevel lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

} // namespace braid

#define LOG_ERROR(...) ::braid::log_msg(::braid::LogLevel::Error, __VA_ARGS__)
#define LOG_INFO(...) ::braid::log_msg(::braid::LogLevel::Info, __VA_ARGS__)
#if BRAID_DEBUG_LOG
#define LOG_DEBUG(...)                                                                   \
  do {                                                                                   \
    if (::braid::log_enabled(::braid::LogLevel::Debug))                                  \
      ::braid::log_msg(::braid::LogLevel::Debug, __VA_ARGS__);                           \
  } while (0)
#else
#define LOG_DEBUG(...) \
  do {                 \
  } while (0)
#endif
