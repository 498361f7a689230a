// SPDX-License-Identifier: MIT
// Targets in SOCKS5 address form and sockaddr formatting.
#include "braid/addr.h"

#include <arpa/inet.h>

#include <cstring>

namespace braid {

std::string Target::str() const {
  char buf[INET6_ADDRSTRLEN];
  std::string host;
  switch (atyp) {
    case Atyp::Ipv4: host = inet_ntop(AF_INET, ip, buf, sizeof buf); break;
    case Atyp::Ipv6: host = "[" + std::string(inet_ntop(AF_INET6, ip, buf, sizeof buf)) + "]"; break;
    case Atyp::Domain: host = domain; break;
  }
  return host + ":" + std::to_string(port);
}

AddrParse target_decode(const uint8_t *p, size_t n, Target &out, size_t *used) {
  if (n < 1) return AddrParse::NeedMore;
  size_t alen;
  size_t start = 1;
  switch (p[0]) {
    case 1: alen = 4; break;
    case 4: alen = 16; break;
    case 3:
      if (n < 2) return AddrParse::NeedMore;
      alen = p[1];
      start = 2;
      if (alen == 0) return AddrParse::Error;
      break;
    default: return AddrParse::Error;
  }
  if (n < start + alen + 2) return AddrParse::NeedMore;
  out = Target{};
  out.atyp = Atyp(p[0]);
  if (out.atyp == Atyp::Domain) {
    out.domain.assign(reinterpret_cast<const char *>(p + start), alen);
    if (out.domain.find('\0') != std::string::npos) return AddrParse::Error;
  } else {
    memcpy(out.ip, p + start, alen);
  }
  out.port = uint16_t(p[start + alen] << 8 | p[start + alen + 1]);
  *used = start + alen + 2;
  return AddrParse::Ok;
}

std::string target_encode(const Target &t) {
  std::string s(1, char(t.atyp));
  if (t.atyp == Atyp::Domain) {
    s.push_back(char(t.domain.size()));
    s += t.domain;
  } else {
    s.append(reinterpret_cast<const char *>(t.ip), t.atyp == Atyp::Ipv4 ? 4 : 16);
  }
  s.push_back(char(t.port >> 8));
  s.push_back(char(t.port));
  return s;
}

bool target_from_string(const std::string &host, uint16_t port, Target &out) {
  out = Target{};
  out.port = port;
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (inet_pton(AF_INET, h.c_str(), out.ip) == 1) {
    out.atyp = Atyp::Ipv4;
  } else if (inet_pton(AF_INET6, h.c_str(), out.ip) == 1) {
    out.atyp = Atyp::Ipv6;
  } else {
    if (h.empty() || h.size() > 255) return false;
    out.atyp = Atyp::Domain;
    out.domain = h;
  }
  return true;
}

socklen_t target_sockaddr(const Target &t, sockaddr_storage &ss) {
  memset(&ss, 0, sizeof ss);
  if (t.atyp == Atyp::Ipv4) {
    auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, t.ip, 4);
    sin->sin_port = htons(t.port);
    return sizeof *sin;
  }
  if (t.atyp == Atyp::Ipv6) {
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, t.ip, 16);
    sin6->sin6_port = htons(t.port);
    return sizeof *sin6;
  }
  return 0;
}

std::string sockaddr_str(const sockaddr *sa) {
  char buf[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    auto *sin = reinterpret_cast<const sockaddr_in *>(sa);
    return std::string(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) + ":" +
           std::to_string(ntohs(sin->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(sa);
    return "[" + std::string(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf)) +
           "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  return "?";
}

std::string peer_str(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "?";
  return sockaddr_str(reinterpret_cast<sockaddr *>(&ss));
}

std::string local_str(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0) return "?";
  return sockaddr_str(reinterpret_cast<sockaddr *>(&ss));
}

}  // namespace braid
