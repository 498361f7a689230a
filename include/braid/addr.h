// SPDX-License-Identifier: MIT
// Owns addresses: a stream target in SOCKS5 address form (IPv4, IPv6 or a domain name plus a
// port), as carried by OPEN frames and SOCKS5 requests, and sockaddr formatting for logs.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace braid {

enum class Atyp : uint8_t { Ipv4 = 1, Domain = 3, Ipv6 = 4 };

struct Target {
  Atyp atyp = Atyp::Ipv4;
  uint8_t ip[16] = {};  // network order, 4 or 16 bytes used
  std::string domain;   // Atyp::Domain, 1..255 bytes
  uint16_t port = 0;
  std::string str() const;  // "1.2.3.4:80", "[::1]:80", "example.org:443"
};

enum class AddrParse { NeedMore, Ok, Error };
// Decodes atyp | addr | port from [p, p+n); *used set on Ok. Unknown atyp or an empty or
// NUL-containing domain is an Error.
AddrParse target_decode(const uint8_t *p, size_t n, Target &out, size_t *used);
std::string target_encode(const Target &t);
// Parses "HOST:PORT" / "[V6]:PORT"; literal IPs become Ipv4/Ipv6, the rest Domain.
bool target_from_string(const std::string &host, uint16_t port, Target &out);
// Fills a sockaddr for an IP target (not a domain); returns its length or 0.
socklen_t target_sockaddr(const Target &t, sockaddr_storage &ss);

std::string sockaddr_str(const sockaddr *sa);  // "1.2.3.4:80", "[::1]:80"
std::string peer_str(int fd);                    // sockaddr_str of getpeername
std::string local_str(int fd);                   // sockaddr_str of getsockname

}  // namespace braid
