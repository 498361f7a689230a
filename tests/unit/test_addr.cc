// SPDX-License-Identifier: MIT
// Unit tests for src/addr.cc: SOCKS5-form target encode/decode, Target::str(), parsing host
// strings, sockaddr conversion and formatting.
#include "braid/addr.h"
#include "check.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

using namespace braid;

namespace {

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }
std::string B(const char *s, size_t n) { return std::string(s, n); }

Target from(const std::string &host, uint16_t port) {
  Target t;
  CHECK(target_from_string(host, port, t));
  return t;
}

// Encodes t, checks the bytes, decodes them whole and byte by byte, and compares.
void round_trip(const Target &t, const std::string &want_bytes) {
  std::string e = target_encode(t);
  CHECK(e == want_bytes);
  for (size_t n = 0; n < e.size(); ++n) {
    std::string prefix = e.substr(0, n);
    Target o;
    size_t used = 999;
    CHECK_EQ(target_decode(bytes(prefix), n, o, &used), AddrParse::NeedMore);
    CHECK_EQ(used, size_t(999));
  }
  Target o;
  size_t used = 0;
  std::string tail = e + "zz";
  CHECK_EQ(target_decode(bytes(tail), tail.size(), o, &used), AddrParse::Ok);
  CHECK_EQ(used, e.size());
  CHECK_EQ(o.atyp, t.atyp);
  CHECK_EQ(int(o.port), int(t.port));
  CHECK_EQ(o.domain, t.domain);
  CHECK(memcmp(o.ip, t.ip, 16) == 0);
  CHECK_EQ(o.str(), t.str());
}

void test_round_trips() {
  round_trip(from("1.2.3.4", 80), B("\x01\x01\x02\x03\x04\x00\x50", 7));
  round_trip(from("255.255.255.255", 65535), B("\x01\xff\xff\xff\xff\xff\xff", 7));
  round_trip(from("0.0.0.0", 0), B("\x01\x00\x00\x00\x00\x00\x00", 7));
  round_trip(from("::1", 80), B("\x04", 1) + std::string(15, '\0') + B("\x01\x00\x50", 3));
  round_trip(from("2001:db8::ff00:42:8329", 443),
             B("\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\xff\x00\x00\x42\x83\x29\x01\xbb", 19));
  round_trip(from("example.org", 443), B("\x03\x0b" "example.org" "\x01\xbb", 15));
  round_trip(from("a", 1), B("\x03\x01" "a" "\x00\x01", 5));
  std::string longest(255, 'x');
  round_trip(from(longest, 8080), B("\x03\xff", 2) + longest + B("\x1f\x90", 2));
}

void test_str() {
  CHECK_EQ(from("1.2.3.4", 80).str(), "1.2.3.4:80");
  CHECK_EQ(from("::1", 80).str(), "[::1]:80");
  CHECK_EQ(from("[::1]", 80).str(), "[::1]:80");
  CHECK_EQ(from("example.org", 443).str(), "example.org:443");
  CHECK_EQ(from("2001:DB8:0:0:0:0:0:1", 8443).str(), "[2001:db8::1]:8443");
  CHECK_EQ(from("::ffff:10.0.0.1", 1).str(), "[::ffff:10.0.0.1]:1");
  CHECK_EQ(from("10.0.0.1", 0).str(), "10.0.0.1:0");
}

void test_from_string() {
  Target t = from("192.168.1.1", 22);
  CHECK_EQ(t.atyp, Atyp::Ipv4);
  CHECK_EQ(int(t.ip[0]), 192);
  CHECK_EQ(int(t.ip[3]), 1);
  CHECK_EQ(int(t.port), 22);
  CHECK_EQ(t.domain, "");
  t = from("fe80::1", 9);
  CHECK_EQ(t.atyp, Atyp::Ipv6);
  CHECK_EQ(int(t.ip[0]), 0xfe);
  CHECK_EQ(int(t.ip[15]), 1);
  t = from("[2001:db8::2]", 9);
  CHECK_EQ(t.atyp, Atyp::Ipv6);
  CHECK_EQ(int(t.ip[15]), 2);
  // Not quite literals: names.
  for (const char *name : {"localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "host-1.example",
                           "xn--bcher-kva.example"}) {
    t = from(name, 80);
    CHECK_EQ(t.atyp, Atyp::Domain);
    CHECK_EQ(t.domain, name);
  }
  // A reused Target is reset: no stale domain or address bytes.
  t = from("example.org", 1);
  CHECK(target_from_string("1.2.3.4", 2, t));
  CHECK_EQ(t.domain, "");
  t = from("::ffff:1.2.3.4", 1);
  CHECK(target_from_string("9.9.9.9", 2, t));
  for (int i = 4; i < 16; ++i) CHECK_EQ(int(t.ip[i]), 0);
  // Empty and too long names fail.
  CHECK(!target_from_string("", 80, t));
  CHECK(!target_from_string(std::string(256, 'x'), 80, t));
}

void test_decode_errors() {
  Target t;
  size_t used = 999;
  const std::string bad[] = {
      B("\x02\x01\x02\x03\x04\x00\x50", 7),   // atyp 2
      B("\x00\x01\x02\x03\x04\x00\x50", 7),   // atyp 0
      B("\x05\x01\x02\x03\x04\x00\x50", 7),   // atyp 5
      B("\x03\x00\x00\x50", 4),               // zero-length domain
      B("\x03\x03" "a\0b" "\x00\x50", 7),     // NUL inside
      B("\x03\x01\0\x00\x50", 5),             // only a NUL
  };
  for (const std::string &b : bad) {
    CHECK_EQ(target_decode(bytes(b), b.size(), t, &used), AddrParse::Error);
    CHECK_EQ(used, size_t(999));
  }
  // Unknown atyp is known from its first byte; a zero length from the second.
  CHECK_EQ(target_decode(bytes(bad[0]), 1, t, &used), AddrParse::Error);
  CHECK_EQ(target_decode(bytes(bad[3]), 2, t, &used), AddrParse::Error);
  CHECK_EQ(target_decode(nullptr, 0, t, &used), AddrParse::NeedMore);
}

void test_sockaddr() {
  sockaddr_storage ss;
  Target t = from("10.1.2.3", 8080);
  socklen_t len = target_sockaddr(t, ss);
  CHECK_EQ(len, socklen_t(sizeof(sockaddr_in)));
  auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
  CHECK_EQ(int(sin->sin_family), AF_INET);
  CHECK_EQ(int(ntohs(sin->sin_port)), 8080);
  CHECK_EQ(ntohl(sin->sin_addr.s_addr), 0x0a010203u);
  CHECK_EQ(sockaddr_str(reinterpret_cast<sockaddr *>(&ss)), "10.1.2.3:8080");

  t = from("2001:db8::7", 443);
  len = target_sockaddr(t, ss);
  CHECK_EQ(len, socklen_t(sizeof(sockaddr_in6)));
  auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
  CHECK_EQ(int(sin6->sin6_family), AF_INET6);
  CHECK_EQ(int(ntohs(sin6->sin6_port)), 443);
  CHECK(memcmp(&sin6->sin6_addr, t.ip, 16) == 0);
  CHECK_EQ(int(sin6->sin6_scope_id), 0);
  CHECK_EQ(sockaddr_str(reinterpret_cast<sockaddr *>(&ss)), "[2001:db8::7]:443");

  t = from("example.org", 80);
  CHECK_EQ(target_sockaddr(t, ss), socklen_t(0));

  sockaddr_storage un{};
  un.ss_family = AF_UNIX;
  CHECK_EQ(sockaddr_str(reinterpret_cast<sockaddr *>(&un)), "?");
}

// peer_str / local_str on a connected socket, and on an fd that is not a socket.
void test_peer_local() {
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(ls >= 0);
  if (ls < 0) return;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  bool ok = bind(ls, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 && listen(ls, 1) == 0 &&
            getsockname(ls, reinterpret_cast<sockaddr *>(&a), &alen) == 0;
  CHECK(ok);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (ok && c >= 0 && connect(c, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0) {
    std::string want = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    CHECK_EQ(peer_str(c), want);
    CHECK_EQ(local_str(ls), want);
    CHECK_EQ(local_str(c).substr(0, 10), "127.0.0.1:");
  } else {
    CHECK(!"connect to a loopback listener failed");
  }
  if (c >= 0) close(c);
  close(ls);
  CHECK_EQ(peer_str(-1), "?");
  CHECK_EQ(local_str(-1), "?");
}

const CheckCase CASES[] = {
    {"round_trips", test_round_trips},   {"str", test_str},
    {"from_string", test_from_string},   {"decode_errors", test_decode_errors},
    {"sockaddr", test_sockaddr},         {"peer_local", test_peer_local},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
