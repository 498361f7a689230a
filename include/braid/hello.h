// SPDX-License-Identifier: MIT
// Owns link authentication: building and verifying HELLO (client identity, nonce, timestamp,
// HMAC-SHA256 with the client's secret) and HELLO_ACK (session id, join token, pushed
// settings), plus the server's replay cache. Pure functions and a bounded cache; no I/O.
//
// HELLO body (frame type 0x08, stream 0), big endian:
//   "BRD" | version u8 (=1) | kind u8 (0 new, 1 join, 2 resume) | name_len u8 | name
//   | nonce[16] | timestamp u64 (unix seconds) | session u64 | join_token[16] | hmac[32]
//   hmac = HMAC-SHA256(secret, every body byte before it)
// HELLO_ACK body (type 0x09): session u64 | join_token[16] | settings TLVs (type u8, len u8, value)
//   1 keepalive s (u16) | 2 stream window (u32) | 3 session window (u32) | 4 links allowed (u8)
//   | 5 resume timeout s (u16). Unknown TLVs are skipped.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace braid {

constexpr uint8_t HELLO_VERSION = 1;
enum class HelloKind : uint8_t { New = 0, Join = 1, Resume = 2 };

struct Hello {
  HelloKind kind = HelloKind::New;
  std::string name;
  std::string nonce;       // 16 bytes
  uint64_t timestamp = 0;
  uint64_t session = 0;
  std::string join_token;  // 16 bytes, zero for New
};

struct HelloAck {
  uint64_t session = 0;
  std::string join_token;  // 16 bytes
  int keepalive = 0;       // 0 = not pushed
  uint32_t stream_window = 0;
  uint32_t session_window = 0;
  int links_allowed = 0;
  int resume_timeout = 0;
};

// Builds a HELLO body signed with secret: h.nonce if it holds 16 bytes, else a fresh random
// one; h.timestamp as given (callers pass the current time).
std::string hello_encode(const Hello &h, const std::string &secret);
// Parses a HELLO body without checking the MAC (the name is needed to find the secret).
// Returns false with err on malformed input.
bool hello_parse(const uint8_t *p, size_t n, Hello &out, std::string &err);
// Checks the HMAC of a HELLO body in constant time.
bool hello_verify_mac(const uint8_t *p, size_t n, const std::string &secret);

std::string hello_ack_encode(const HelloAck &a);
bool hello_ack_parse(const uint8_t *p, size_t n, HelloAck &out, std::string &err);

// Nonces seen within the timestamp window; bounded by REPLAY_CACHE_MAX (oldest evicted first,
// and a HELLO older than the oldest evicted entry's time is refused, so eviction never reopens
// a replay).
class ReplayCache {
 public:
  // Returns false if the nonce was seen (replay). `now` and `ts` in unix seconds.
  bool check_and_add(const std::string &nonce, uint64_t ts, uint64_t now);
  uint64_t floor() const { return floor_; }

 private:
  std::unordered_map<std::string, uint64_t> seen_;
  std::deque<std::pair<uint64_t, std::string>> order_;  // (ts, nonce) in arrival order
  uint64_t floor_ = 0;  // HELLOs with ts below this are refused
  void expire(uint64_t now);
};

} // namespace braid
