// SPDX-License-Identifier: MIT
// Owns the SOCKS5 wire format (RFC 1928, RFC 1929 username/password): parsers for the
// greeting, the auth request and the CONNECT request as pure functions over bytes, and reply
// builders. No I/O; the listener in listen_socks5.cc drives them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/addr.h"

namespace braid {

enum class SocksParse { NeedMore, Ok, Error };

constexpr uint8_t SOCKS_NO_AUTH = 0x00;
constexpr uint8_t SOCKS_USERPASS = 0x02;
constexpr uint8_t SOCKS_NO_METHOD = 0xff;
constexpr uint8_t SOCKS_CMD_CONNECT = 1;
constexpr uint8_t SOCKS_CMD_BIND = 2;
constexpr uint8_t SOCKS_CMD_UDP = 3;

// VER=5 | NMETHODS | METHODS. `methods` gets the offered method bytes.
SocksParse socks5_parse_greeting(const uint8_t *p, size_t n, std::string &methods, size_t *used,
                                 std::string &err);
// VER=1 | ULEN | UNAME | PLEN | PASSWD
SocksParse socks5_parse_auth(const uint8_t *p, size_t n, std::string &user, std::string &pass,
                             size_t *used, std::string &err);
// VER=5 | CMD | RSV | ATYP | DST.ADDR | DST.PORT. On Error, *reply is the REP to send
// (7 command not supported is decided by the caller from cmd; 8 for a bad address type).
SocksParse socks5_parse_request(const uint8_t *p, size_t n, uint8_t &cmd, Target &t,
                                size_t *used, uint8_t *reply, std::string &err);
// UDP request header (RFC 1928 7): RSV(2)=0 | FRAG | ATYP | DST.ADDR | DST.PORT, then data.
// Ok sets *header (bytes before the data); fragments (FRAG != 0) are an Error, as most servers
// drop them.
SocksParse socks5_parse_udp(const uint8_t *p, size_t n, Target &t, size_t *header);
// A reply with REP and bound address 0.0.0.0:0.
std::string socks5_reply(uint8_t rep);
// Maps a RESET code to a SOCKS5 REP (0 = success and 1..8 map to themselves, the rest to 1).
uint8_t socks5_rep_for(uint32_t reset_code);

}  // namespace braid
