// SPDX-License-Identifier: MIT
// Unit tests for src/socks5.cc: greeting, username/password and request parsers fed whole and
// one byte at a time; error replies; reply bytes and RESET code mapping.
#include "braid/socks5.h"
#include "check.h"

#include <cstdint>
#include <string>

using namespace braid;

namespace {

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }
std::string B(const char *s, size_t n) { return std::string(s, n); }

// --- greeting ----------------------------------------------------------------------------------

SocksParse greet(const std::string &s, size_t n, std::string &methods, size_t *used,
                 std::string &err) {
  return socks5_parse_greeting(bytes(s), n, methods, used, err);
}

void test_greeting() {
  const std::string cases[] = {B("\x05\x01\x00", 3), B("\x05\x02\x00\x02", 4),
                               B("\x05\x03\x02\x00\xff", 5)};
  for (const std::string &g : cases) {
    std::string methods, err;
    size_t used = 0;
    // Whole, with trailing bytes that belong to the next message.
    std::string with_tail = g + B("\x01\x02", 2);
    CHECK_EQ(greet(with_tail, with_tail.size(), methods, &used, err), SocksParse::Ok);
    CHECK_EQ(used, g.size());
    CHECK(methods == g.substr(2));
    // One byte at a time: NeedMore until complete.
    for (size_t n = 0; n < g.size(); ++n) {
      size_t u = 999;
      CHECK_EQ(greet(g, n, methods, &u, err), SocksParse::NeedMore);
      CHECK_EQ(u, size_t(999));
    }
    CHECK_EQ(greet(g, g.size(), methods, &used, err), SocksParse::Ok);
  }
  // 255 methods.
  std::string g = B("\x05\xff", 2);
  for (int i = 0; i < 255; ++i) g += char(i);
  std::string methods, err;
  size_t used = 0;
  CHECK_EQ(greet(g, g.size(), methods, &used, err), SocksParse::Ok);
  CHECK_EQ(methods.size(), size_t(255));
  CHECK_EQ(used, size_t(257));
  CHECK_EQ(greet(g, g.size() - 1, methods, &used, err), SocksParse::NeedMore);
}

void test_greeting_errors() {
  std::string methods, err;
  size_t used = 0;
  for (int v : {0, 4, 1, 0x47}) {  // 0x47: "GET " from an HTTP client
    std::string g = std::string(1, char(v)) + B("\x01\x00", 2);
    err.clear();
    CHECK_EQ(greet(g, 1, methods, &used, err), SocksParse::Error);  // known from one byte
    CHECK_EQ(err, "not SOCKS5 (version byte " + std::to_string(v) + ")");
  }
  std::string zero = B("\x05\x00", 2);
  CHECK_EQ(greet(zero, 2, methods, &used, err), SocksParse::Error);
  CHECK_EQ(err, "greeting offers no methods");
}

// --- username/password -------------------------------------------------------------------------

void test_auth() {
  struct {
    std::string user, pass;
  } cases[] = {{"alice", "secret"}, {"u", "p"}, {std::string(255, 'U'), std::string(255, 'P')}};
  for (const auto &c : cases) {
    std::string a = B("\x01", 1) + char(c.user.size()) + c.user + char(c.pass.size()) + c.pass;
    std::string user, pass, err;
    size_t used = 0;
    std::string with_tail = a + "extra";
    CHECK_EQ(socks5_parse_auth(bytes(with_tail), with_tail.size(), user, pass, &used, err),
             SocksParse::Ok);
    CHECK_EQ(used, a.size());
    CHECK(user == c.user);
    CHECK(pass == c.pass);
    for (size_t n = 0; n < a.size(); ++n) {
      std::string prefix = a.substr(0, n);  // a copy: ASan catches reads past n
      size_t u = 999;
      CHECK_EQ(socks5_parse_auth(bytes(prefix), n, user, pass, &u, err), SocksParse::NeedMore);
      CHECK_EQ(u, size_t(999));
    }
  }
  std::string user, pass, err;
  size_t used = 0;
  for (int v : {0, 2, 5}) {
    std::string a = std::string(1, char(v)) + B("\x01u\x01p", 4);
    CHECK_EQ(socks5_parse_auth(bytes(a), 1, user, pass, &used, err), SocksParse::Error);
    CHECK_EQ(err, "bad username/password auth version " + std::to_string(v));
  }
}

// --- request -----------------------------------------------------------------------------------

struct ReqResult {
  SocksParse r;
  uint8_t cmd = 0xee;
  Target t;
  size_t used = 999;
  uint8_t reply = 0xee;
  std::string err;
};

ReqResult request(const std::string &s, size_t n) {
  ReqResult res;
  std::string copy = s.substr(0, n);
  res.r = socks5_parse_request(bytes(copy), n, res.cmd, res.t, &res.used, &res.reply, res.err);
  return res;
}

// Parses whole, then checks every strict prefix is NeedMore.
ReqResult request_both_ways(const std::string &s) {
  for (size_t n = 0; n < s.size(); ++n) {
    ReqResult p = request(s, n);
    CHECK_EQ(p.r, SocksParse::NeedMore);
    CHECK_EQ(p.used, size_t(999));
  }
  ReqResult r = request(s + "tail", s.size() + 4);
  CHECK_EQ(r.r, SocksParse::Ok);
  CHECK_EQ(r.used, s.size());
  return r;
}

void test_request_ipv4() {
  ReqResult r = request_both_ways(B("\x05\x01\x00\x01\x0a\x00\x00\x05\x01\xbb", 10));
  CHECK_EQ(int(r.cmd), SOCKS_CMD_CONNECT);
  CHECK_EQ(r.t.atyp, Atyp::Ipv4);
  CHECK_EQ(r.t.str(), "10.0.0.5:443");
  CHECK_EQ(int(r.t.port), 443);
  CHECK_EQ(int(r.reply), 0xee);  // untouched on success
}

void test_request_ipv6() {
  std::string s = B("\x05\x01\x00\x04", 4) +
                  B("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16) +
                  B("\x00\x50", 2);
  ReqResult r = request_both_ways(s);
  CHECK_EQ(r.t.atyp, Atyp::Ipv6);
  CHECK_EQ(r.t.str(), "[2001:db8::1]:80");
}

void test_request_domain() {
  ReqResult r = request_both_ways(B("\x05\x01\x00\x03\x0b" "example.org" "\x1f\x90", 18));
  CHECK_EQ(r.t.atyp, Atyp::Domain);
  CHECK_EQ(r.t.domain, "example.org");
  CHECK_EQ(r.t.str(), "example.org:8080");
  // 255-byte name, and other commands are parsed (the caller refuses them with REP 7).
  std::string name(255, 'd');
  r = request_both_ways(B("\x05\x03\x00\x03\xff", 5) + name + B("\x00\x35", 2));
  CHECK_EQ(int(r.cmd), SOCKS_CMD_UDP);
  CHECK(r.t.domain == name);
  CHECK_EQ(int(r.t.port), 53);
  r = request_both_ways(B("\x05\x02\x00\x01\x01\x02\x03\x04\x00\x01", 10));
  CHECK_EQ(int(r.cmd), SOCKS_CMD_BIND);
}

void test_request_errors() {
  // Bad version: Error from the first byte, general failure.
  for (int v : {4, 0, 1}) {
    ReqResult r = request(std::string(1, char(v)) + B("\x01\x00\x01\x01\x02\x03\x04\x00\x50", 9), 1);
    CHECK_EQ(r.r, SocksParse::Error);
    CHECK_EQ(int(r.reply), 1);
    CHECK_EQ(r.err, "bad request version " + std::to_string(v));
  }
  // Bad address types: Error with REP 8 (address type not supported), known from 4 bytes.
  for (int atyp : {0, 2, 5, 0xff}) {
    std::string s = B("\x05\x01\x00", 3) + char(atyp) + B("\x01\x02\x03\x04\x00\x50", 6);
    for (size_t n = 0; n < 4; ++n) CHECK_EQ(request(s, n).r, SocksParse::NeedMore);
    ReqResult r = request(s, 4);
    CHECK_EQ(r.r, SocksParse::Error);
    CHECK_EQ(int(r.reply), 8);
    CHECK_EQ(r.err, "bad address type " + std::to_string(atyp));
    CHECK_EQ(request(s, s.size()).r, SocksParse::Error);
  }
  // Empty domain, or a NUL inside it: Error, REP 8.
  ReqResult r = request(B("\x05\x01\x00\x03\x00\x00\x50", 7), 7);
  CHECK_EQ(r.r, SocksParse::Error);
  CHECK_EQ(int(r.reply), 8);
  r = request(B("\x05\x01\x00\x03\x03" "a\0b" "\x00\x50", 10), 10);
  CHECK_EQ(r.r, SocksParse::Error);
  CHECK_EQ(int(r.reply), 8);
}

// --- replies -----------------------------------------------------------------------------------

void test_reply() {
  for (int rep = 0; rep <= 8; ++rep) {
    std::string r = socks5_reply(uint8_t(rep));
    CHECK(r == std::string(1, '\x05') + char(rep) + B("\x00\x01\x00\x00\x00\x00\x00\x00", 8));
    CHECK_EQ(r.size(), size_t(10));
  }
  CHECK_EQ(int(socks5_rep_for(0)), 0);
  for (uint32_t c = 1; c <= 8; ++c) CHECK_EQ(uint32_t(socks5_rep_for(c)), c);
  CHECK_EQ(int(socks5_rep_for(5)), 5);
  for (uint32_t c : {9u, 0xffu, 0x100u, 0x101u, 0x105u, 0xffffffffu})
    CHECK_EQ(int(socks5_rep_for(c)), 1);
}

const CheckCase CASES[] = {
    {"greeting", test_greeting},
    {"greeting_errors", test_greeting_errors},
    {"auth", test_auth},
    {"request_ipv4", test_request_ipv4},
    {"request_ipv6", test_request_ipv6},
    {"request_domain", test_request_domain},
    {"request_errors", test_request_errors},
    {"reply", test_reply},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
