// SPDX-License-Identifier: MIT
// SOCKS5 parsers and replies.
#include "braid/socks5.h"

namespace braid {

SocksParse socks5_parse_greeting(const uint8_t *p, size_t n, std::string &methods, size_t *used,
                                 std::string &err) {
  if (n < 1) return SocksParse::NeedMore;
  if (p[0] != 5) {
    err = "not SOCKS5 (version byte " + std::to_string(p[0]) + ")";
    return SocksParse::Error;
  }
  if (n < 2) return SocksParse::NeedMore;
  size_t k = p[1];
  if (k == 0) {
    err = "greeting offers no methods";
    return SocksParse::Error;
  }
  if (n < 2 + k) return SocksParse::NeedMore;
  methods.assign(reinterpret_cast<const char *>(p + 2), k);
  *used = 2 + k;
  return SocksParse::Ok;
}

SocksParse socks5_parse_auth(const uint8_t *p, size_t n, std::string &user, std::string &pass,
                             size_t *used, std::string &err) {
  if (n < 1) return SocksParse::NeedMore;
  if (p[0] != 1) {
    err = "bad username/password auth version " + std::to_string(p[0]);
    return SocksParse::Error;
  }
  if (n < 2) return SocksParse::NeedMore;
  size_t ulen = p[1];
  if (n < 2 + ulen + 1) return SocksParse::NeedMore;
  size_t plen = p[2 + ulen];
  if (n < 3 + ulen + plen) return SocksParse::NeedMore;
  if (ulen == 0 || plen == 0) {
    err = "empty username or password (RFC 1929 requires 1 to 255 bytes)";
    return SocksParse::Error;
  }
  user.assign(reinterpret_cast<const char *>(p + 2), ulen);
  pass.assign(reinterpret_cast<const char *>(p + 3 + ulen), plen);
  *used = 3 + ulen + plen;
  return SocksParse::Ok;
}

SocksParse socks5_parse_request(const uint8_t *p, size_t n, uint8_t &cmd, Target &t,
                                size_t *used, uint8_t *reply, std::string &err) {
  if (n < 1) return SocksParse::NeedMore;
  if (p[0] != 5) {
    err = "bad request version " + std::to_string(p[0]);
    *reply = 1;
    return SocksParse::Error;
  }
  if (n < 4) return SocksParse::NeedMore;
  cmd = p[1];
  size_t alen = 0;
  switch (target_decode(p + 3, n - 3, t, &alen)) {
    case AddrParse::NeedMore: return SocksParse::NeedMore;
    case AddrParse::Error:
      err = "bad address type " + std::to_string(p[3]);
      *reply = 8;
      return SocksParse::Error;
    case AddrParse::Ok: break;
  }
  *used = 3 + alen;
  return SocksParse::Ok;
}

SocksParse socks5_parse_udp(const uint8_t *p, size_t n, Target &t, size_t *header) {
  if (n < 4 || p[0] || p[1] || p[2]) return SocksParse::Error;  // datagrams are never partial
  size_t used = 0;
  if (target_decode(p + 3, n - 3, t, &used) != AddrParse::Ok) return SocksParse::Error;
  *header = 3 + used;
  return SocksParse::Ok;
}

std::string socks5_reply(uint8_t rep) {
  return std::string("\x05", 1) + char(rep) + std::string("\x00\x01\x00\x00\x00\x00\x00\x00", 8);
}

uint8_t socks5_rep_for(uint32_t code) { return code <= 8 ? uint8_t(code) : 1; }

}  // namespace braid
