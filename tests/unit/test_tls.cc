// SPDX-License-Identifier: MIT
// Unit tests for src/tls.cc and src/tls_keygen.cc: key generation and pins, and a client and a
// server TlsConn talking through their in/out buffers in memory (no sockets): handshake, data
// both ways, pin mismatch, garbage input.
#include "braid/config.h"
#include "braid/tls.h"
#include "check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace braid;

namespace {

// A mkdtemp directory holding generated key pairs; removed when the test case ends.
struct TmpDir {
  std::string dir;
  std::vector<std::string> files;
  TmpDir() {
    char tmpl[] = "/tmp/braid_test_tls.XXXXXX";
    const char *d = mkdtemp(tmpl);
    dir = d ? d : "";
    CHECK(d != nullptr);
  }
  ~TmpDir() {
    for (const std::string &f : files) unlink(f.c_str());
    if (!dir.empty()) rmdir(dir.c_str());
  }
  // Generates <dir>/<name>.key and .crt; returns the prefix and sets pin.
  std::string keygen(const std::string &name, std::string &pin) {
    std::string prefix = dir + "/" + name, err;
    files.push_back(prefix + ".key");
    files.push_back(prefix + ".crt");
    bool ok = tls_keygen(prefix, pin, err);
    CHECK(ok);
    CHECK_EQ(err, "");
    return prefix;
  }
};

std::string raw_pin(const std::string &pin_text) {
  std::string raw, err;
  CHECK(parse_pin(pin_text, raw, err));
  return raw;
}

void move_bytes(Ring &from, Buf &to) {
  struct iovec iov[2];
  int k = from.data_iov(iov);
  for (int i = 0; i < k; ++i) to.append(iov[i].iov_base, iov[i].iov_len);
  from.consume(from.size());
}

// Runs both handshakes, shuttling ciphertext, until both are Ok or one fails; bounded.
struct Pair {
  TlsResult client = TlsResult::WantIo, server = TlsResult::WantIo;
};
Pair handshake(TlsConn &c, TlsConn &s) {
  Pair r;
  for (int round = 0; round < 50; ++round) {
    if (r.client == TlsResult::WantIo) r.client = c.handshake();
    move_bytes(c.out, s.in);
    if (r.server == TlsResult::WantIo) r.server = s.handshake();
    move_bytes(s.out, c.in);
    if (r.client != TlsResult::WantIo && r.server != TlsResult::WantIo) break;
    if (r.client == TlsResult::Error || r.server == TlsResult::Error) {
      // Let the other side see the alert, then stop.
      if (r.client == TlsResult::WantIo) r.client = c.handshake();
      if (r.server == TlsResult::WantIo) r.server = s.handshake();
      break;
    }
  }
  return r;
}

// Sends `data` from `a` to `b` and reads it back out of `b`.
std::string transfer(TlsConn &a, TlsConn &b, const std::string &data) {
  CHECK_EQ(a.write(reinterpret_cast<const uint8_t *>(data.data()), data.size()), TlsResult::Ok);
  move_bytes(a.out, b.in);
  std::string got;
  std::vector<uint8_t> buf(16384 + 1024);
  for (int i = 0; i < 1000 && got.size() < data.size(); ++i) {
    size_t n = 0;
    TlsResult r = b.read(buf.data(), buf.size(), &n);
    if (r != TlsResult::Ok) {
      CHECK_EQ(r, TlsResult::Ok);
      CHECK_EQ(b.error(), "");
      break;
    }
    CHECK(n > 0);
    got.append(reinterpret_cast<const char *>(buf.data()), n);
  }
  size_t n = 0;
  CHECK_EQ(b.read(buf.data(), buf.size(), &n), TlsResult::WantIo);  // nothing more queued
  return got;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char &c : s) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c = char(x);
  }
  return s;
}

struct Server {
  std::unique_ptr<TlsConfig> cfg;
  std::string pin;
};

Server make_server(TmpDir &t, const std::string &name) {
  Server s;
  std::string prefix = t.keygen(name, s.pin), err;
  s.cfg = TlsConfig::server(prefix + ".crt", prefix + ".key", err);
  CHECK(s.cfg != nullptr);
  CHECK_EQ(err, "");
  return s;
}

// --- keygen and pins ---------------------------------------------------------------------------

void test_keygen() {
  TmpDir t;
  std::string pin;
  std::string prefix = t.keygen("server", pin);
  CHECK_EQ(pin.size(), size_t(7 + 64));
  CHECK_EQ(pin.substr(0, 7), "sha256:");
  std::string file_pin, err;
  CHECK(tls_cert_pin(prefix + ".crt", file_pin, err));
  CHECK_EQ(file_pin, pin);
  struct stat st;
  CHECK_EQ(stat((prefix + ".key").c_str(), &st), 0);
  CHECK_EQ(int(st.st_mode & 07777), 0600);
  CHECK(st.st_size > 0);
  // A second key pair has another pin.
  std::string pin2;
  t.keygen("other", pin2);
  CHECK(pin2 != pin);
  // Errors name the file.
  CHECK(!tls_cert_pin(t.dir + "/missing.crt", file_pin, err));
  CHECK_STR_CONTAINS(err, t.dir + "/missing.crt: cannot load certificate");
  CHECK(!tls_cert_pin(prefix + ".key", file_pin, err));  // a key is not a certificate
  CHECK_STR_CONTAINS(err, prefix + ".key: cannot load certificate");
  std::string bad_pin;
  CHECK(!tls_keygen(t.dir + "/no/such/dir/x", bad_pin, err));
  CHECK_STR_CONTAINS(err, "cannot write");
  CHECK(!tls_library_version().empty());
}

void test_server_config_errors() {
  TmpDir t;
  std::string pin;
  std::string a = t.keygen("a", pin), b = t.keygen("b", pin), err;
  CHECK(TlsConfig::server(t.dir + "/none.crt", a + ".key", err) == nullptr);
  CHECK_STR_CONTAINS(err, t.dir + "/none.crt: cannot load certificate");
  CHECK(TlsConfig::server(a + ".crt", t.dir + "/none.key", err) == nullptr);
  CHECK_STR_CONTAINS(err, t.dir + "/none.key: cannot load private key");
  CHECK(TlsConfig::server(a + ".crt", b + ".key", err) == nullptr);
  CHECK_STR_CONTAINS(err, "do not go together");
}

// --- connections -------------------------------------------------------------------------------

void test_handshake_and_data() {
  TmpDir t;
  Server srv = make_server(t, "server");
  std::string err;
  auto ccfg = TlsConfig::client(raw_pin(srv.pin), err);
  CHECK(ccfg != nullptr);
  if (!srv.cfg || !ccfg) return;
  TlsConn c(*ccfg), s(*srv.cfg);
  CHECK(!c.established());
  Pair r = handshake(c, s);
  CHECK_EQ(r.client, TlsResult::Ok);
  CHECK_EQ(r.server, TlsResult::Ok);
  CHECK_EQ(c.error(), "");
  CHECK_EQ(s.error(), "");
  if (r.client != TlsResult::Ok || r.server != TlsResult::Ok) return;
  CHECK(c.established());
  CHECK(s.established());
  CHECK(!c.pin_mismatch());
  CHECK_EQ(c.peer_pin(), srv.pin);
  CHECK_STR_CONTAINS(c.cipher(), "ECDHE-ECDSA");
  CHECK_EQ(c.cipher(), s.cipher());

  unsigned seed = 1;
  for (size_t size : {size_t(1), size_t(16384), size_t(100000)}) {
    std::string up = pattern(size, seed++), down = pattern(size, seed++);
    std::string got = transfer(c, s, up);
    CHECK_EQ(got.size(), up.size());
    CHECK(got == up);
    got = transfer(s, c, down);
    CHECK_EQ(got.size(), down.size());
    CHECK(got == down);
  }

  // close_notify: the peer reads Closed.
  c.close_notify();
  move_bytes(c.out, s.in);
  uint8_t buf[64];
  size_t n = 0;
  CHECK_EQ(s.read(buf, sizeof buf, &n), TlsResult::Closed);
}

void test_pin_mismatch() {
  TmpDir t;
  Server srv = make_server(t, "server");
  std::string other_pin;
  t.keygen("other", other_pin);
  std::string err;
  auto ccfg = TlsConfig::client(raw_pin(other_pin), err);
  CHECK(ccfg != nullptr);
  if (!srv.cfg || !ccfg) return;
  TlsConn c(*ccfg), s(*srv.cfg);
  Pair r = handshake(c, s);
  CHECK_EQ(r.client, TlsResult::Error);
  CHECK(r.server != TlsResult::Ok);
  CHECK(c.pin_mismatch());
  CHECK_STR_CONTAINS(c.error(), "certificate pin mismatch: expected " + other_pin);
  CHECK_STR_CONTAINS(c.error(), "got " + srv.pin);
  CHECK_STR_CONTAINS(c.error(), "certificate pin mismatch: expected sha256:");
  CHECK_STR_CONTAINS(c.error(), "got sha256:");
  CHECK_EQ(c.peer_pin(), srv.pin);
  // No application data may flow over the refused session.
  const uint8_t msg[] = "secret";
  if (c.write(msg, sizeof msg) == TlsResult::Ok) {
    move_bytes(c.out, s.in);
    uint8_t buf[64];
    size_t n = 0;
    CHECK(s.read(buf, sizeof buf, &n) != TlsResult::Ok);
  }
}

// Several connections from one client configuration (later ones may resume the first session)
// all complete and carry data; the same configuration against a server with another key still
// fails on the pin, resumption or not.
void test_reconnect() {
  TmpDir t;
  Server srv = make_server(t, "server");
  Server evil = make_server(t, "evil");
  std::string err;
  auto ccfg = TlsConfig::client(raw_pin(srv.pin), err);
  if (!srv.cfg || !evil.cfg || !ccfg) return;
  for (int i = 0; i < 3; ++i) {
    TlsConn c(*ccfg), s(*srv.cfg);
    Pair r = handshake(c, s);
    CHECK_EQ(r.client, TlsResult::Ok);
    CHECK_EQ(r.server, TlsResult::Ok);
    if (r.client != TlsResult::Ok || r.server != TlsResult::Ok) return;
    CHECK_EQ(c.peer_pin(), srv.pin);
    // The first connection's session (TLS 1.2: at the end of the handshake; TLS 1.3: the ticket
    // the client reads after it) is resumed by the next ones.
    CHECK_EQ(c.resumed(), i > 0);
    std::string msg = pattern(3000, unsigned(i));
    CHECK(transfer(c, s, msg) == msg);
    CHECK(transfer(s, c, msg) == msg);
  }
  TlsConn c(*ccfg), s(*evil.cfg);
  Pair r = handshake(c, s);
  CHECK_EQ(r.client, TlsResult::Error);
  CHECK(c.pin_mismatch());
  CHECK_STR_CONTAINS(c.error(), "got " + evil.pin);
  // And the good server still works afterwards.
  TlsConn c2(*ccfg), s2(*srv.cfg);
  r = handshake(c2, s2);
  CHECK_EQ(r.client, TlsResult::Ok);
  CHECK_EQ(r.server, TlsResult::Ok);
}

void test_garbage_to_server() {
  TmpDir t;
  Server srv = make_server(t, "server");
  if (!srv.cfg) return;
  const std::string inputs[] = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string(1000, '\0'),
      // A handshake record holding a whole message of an unknown type (a declared length past
      // the record, as in "\x16\x03\x01\x00\x05hello", only waits for more on mbedTLS 3.6,
      // which reassembles handshake messages split across records).
      std::string("\x16\x03\x01\x00\x05\xff\x00\x00\x01x", 10),
      std::string("\x16\x03\x03\xff\xff", 5) + std::string(20000, 'A'),  // oversized record
      pattern(5000, 99),
  };
  for (const std::string &in : inputs) {
    TlsConn s(*srv.cfg);
    s.in.append(in);
    TlsResult r = TlsResult::WantIo;
    for (int i = 0; i < 10 && r == TlsResult::WantIo; ++i) r = s.handshake();
    CHECK_EQ(r, TlsResult::Error);
    CHECK_STR_CONTAINS(s.error(), "tls handshake failed");
    CHECK(!s.established());
  }
  // A truncated but valid-looking start only waits for more.
  TlsConn s(*srv.cfg);
  s.in.append(std::string("\x16\x03\x01", 3));
  CHECK_EQ(s.handshake(), TlsResult::WantIo);
}

void test_garbage_to_client() {
  TmpDir t;
  std::string pin;
  t.keygen("server", pin);
  std::string err;
  auto ccfg = TlsConfig::client(raw_pin(pin), err);
  if (!ccfg) return;
  TlsConn c(*ccfg);
  CHECK_EQ(c.handshake(), TlsResult::WantIo);  // ClientHello written
  CHECK(c.out.size() > 0);
  c.in.append(std::string("HTTP/1.1 400 Bad Request\r\n\r\n"));
  TlsResult r = TlsResult::WantIo;
  for (int i = 0; i < 10 && r == TlsResult::WantIo; ++i) r = c.handshake();
  CHECK_EQ(r, TlsResult::Error);
  CHECK(!c.pin_mismatch());
}

const CheckCase CASES[] = {
    {"keygen", test_keygen},
    {"server_config_errors", test_server_config_errors},
    {"handshake_and_data", test_handshake_and_data},
    {"pin_mismatch", test_pin_mismatch},
    {"reconnect", test_reconnect},
    {"garbage_to_server", test_garbage_to_server},
    {"garbage_to_client", test_garbage_to_client},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
