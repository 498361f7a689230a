// SPDX-License-Identifier: MIT
// HELLO / HELLO_ACK encoding, HMAC verification, replay cache.
#include "braid/hello.h"

#include <cstring>

#include "braid/buf.h"
#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/loop.h"
#include "braid/tls.h"

namespace braid {
namespace {
constexpr size_t MAC_LEN = 32;
constexpr size_t NONCE_LEN = 16;
constexpr size_t TOKEN_LEN = 16;

void put_tlv(std::string &out, uint8_t type, uint64_t v, int width) {
  out.push_back(char(type));
  out.push_back(char(width));
  for (int s = (width - 1) * 8; s >= 0; s -= 8) out.push_back(char(v >> s));
}
}  // namespace

std::string hello_encode(const Hello &h, const std::string &secret) {
  std::string b = "BRD";
  b.push_back(char(HELLO_VERSION));
  b.push_back(char(h.kind));
  b.push_back(char(h.name.size()));
  b += h.name;
  std::string nonce = h.nonce;
  if (nonce.size() != NONCE_LEN) {
    nonce.assign(NONCE_LEN, '\0');
    rand_bytes(&nonce[0], NONCE_LEN);
  }
  b += nonce;
  put_u64(b, h.timestamp);
  put_u64(b, h.session);
  std::string tok = h.join_token;
  tok.resize(TOKEN_LEN, '\0');
  b += tok;
  b += hmac_sha256(secret, reinterpret_cast<const uint8_t *>(b.data()), b.size());
  return b;
}

bool hello_parse(const uint8_t *p, size_t n, Hello &out, std::string &err) {
  Reader r(p, n);
  std::string magic;
  uint8_t version = 0, kind = 0, name_len = 0;
  if (!r.bytes(3, magic) || magic != "BRD") {
    err = "not a HELLO (bad magic)";
    return false;
  }
  if (!r.u8(version)) {
    err = "malformed HELLO (truncated)";
    return false;
  }
  if (version != HELLO_VERSION) {
    err = "unsupported protocol version " + std::to_string(version);
    return false;
  }
  if (!r.u8(kind) || kind > uint8_t(HelloKind::Resume)) {
    err = "bad HELLO kind";
    return false;
  }
  out.kind = HelloKind(kind);
  if (!r.u8(name_len) || name_len == 0 || name_len > MAX_NAME || !r.bytes(name_len, out.name) ||
      !r.bytes(NONCE_LEN, out.nonce) || !r.u64(out.timestamp) || !r.u64(out.session) ||
      !r.bytes(TOKEN_LEN, out.join_token) || r.left() != MAC_LEN) {
    err = "malformed HELLO";
    return false;
  }
  for (char c : out.name)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      err = "malformed HELLO (bad name)";
      return false;
    }
  return true;
}

bool hello_verify_mac(const uint8_t *p, size_t n, const std::string &secret) {
  if (n < MAC_LEN) return false;
  std::string mac = hmac_sha256(secret, p, n - MAC_LEN);
  unsigned char diff = 0;
  for (size_t i = 0; i < MAC_LEN; i++) diff |= uint8_t(mac[i]) ^ p[n - MAC_LEN + i];
  return diff == 0;
}

std::string hello_ack_encode(const HelloAck &a) {
  std::string b;
  put_u64(b, a.session);
  std::string tok = a.join_token;
  tok.resize(TOKEN_LEN, '\0');
  b += tok;
  if (a.keepalive) put_tlv(b, 1, a.keepalive, 2);
  if (a.stream_window) put_tlv(b, 2, a.stream_window, 4);
  if (a.session_window) put_tlv(b, 3, a.session_window, 4);
  if (a.links_allowed) put_tlv(b, 4, a.links_allowed, 1);
  if (a.resume_timeout) put_tlv(b, 5, a.resume_timeout, 2);
  return b;
}

bool hello_ack_parse(const uint8_t *p, size_t n, HelloAck &out, std::string &err) {
  out = HelloAck{};
  Reader r(p, n);
  // Known settings have fixed widths; anything else is malformed rather than truncated.
  static const uint8_t WIDTH[] = {0, 2, 4, 4, 1, 2};
  if (!r.u64(out.session) || !r.bytes(TOKEN_LEN, out.join_token)) {
    err = "malformed HELLO_ACK";
    return false;
  }
  while (r.left()) {
    uint8_t type, len;
    std::string v;
    if (!r.u8(type) || !r.u8(len) || !r.bytes(len, v)) {
      err = "malformed HELLO_ACK setting";
      return false;
    }
    if (type >= 1 && type <= 5 && len != WIDTH[type]) {
      err = "malformed HELLO_ACK setting " + std::to_string(type);
      return false;
    }
    uint64_t val = 0;
    for (char c : v) val = val << 8 | uint8_t(c);
    switch (type) {
      case 1: out.keepalive = int(val); break;
      case 2: out.stream_window = uint32_t(val); break;
      case 3: out.session_window = uint32_t(val); break;
      case 4: out.links_allowed = int(val); break;
      case 5: out.resume_timeout = int(val); break;
      default: break;  // unknown settings are skipped
    }
  }
  return true;
}

void ReplayCache::expire(uint64_t now) {
  while (!order_.empty() && order_.front().first + HELLO_TIME_WINDOW_S < now) {
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
}

bool ReplayCache::check_and_add(const std::string &nonce, uint64_t ts, uint64_t now) {
  expire(now);
  if (ts < floor_) return false;
  if (seen_.count(nonce)) return false;
  if (order_.size() >= REPLAY_CACHE_MAX) {
    // Forget the oldest, and refuse anything not newer than it from now on. A HELLO that
    // would itself fall under the new floor is refused before anything is forgotten.
    uint64_t next_floor = std::max(floor_, order_.front().first + 1);
    if (ts < next_floor) return false;
    floor_ = next_floor;
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
  seen_.emplace(nonce, ts);
  order_.emplace_back(ts, nonce);
  return true;
}

} // namespace braid
