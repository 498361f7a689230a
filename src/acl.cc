// SPDX-License-Identifier: MIT
// Target ACL.
#include "braid/acl.h"

#include <netinet/in.h>

#include <cstring>

namespace braid {
namespace {
const char *const DEFAULT_DENY[] = {
    "0.0.0.0/8",     "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128",
    "fe80::/10", "fc00::/7", "ff00::/8", "::ffff:0:0/96"};

// Maps v4-mapped IPv6 to IPv4 so "::ffff:127.0.0.1" cannot slip past 127.0.0.0/8.
bool addr_bytes(const sockaddr *sa, int &family, uint8_t out[16]) {
  if (sa->sa_family == AF_INET) {
    family = AF_INET;
    memcpy(out, &reinterpret_cast<const sockaddr_in *>(sa)->sin_addr, 4);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const uint8_t *a = reinterpret_cast<const sockaddr_in6 *>(sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0) {
      family = AF_INET;
      memcpy(out, a + 12, 4);
    } else {
      family = AF_INET6;
      memcpy(out, a, 16);
    }
    return true;
  }
  return false;
}

bool match_bytes(const Cidr &c, int family, const uint8_t *a) {
  if (c.family != family) return false;
  int bits = c.prefix;
  for (int i = 0; bits > 0; i++, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : uint8_t(0xff << (8 - bits));
    if ((a[i] & mask) != (c.addr[i] & mask)) return false;
  }
  return true;
}

const Cidr *find(const std::vector<Cidr> &rules, int family, const uint8_t *a) {
  for (const Cidr &c : rules)
    if (match_bytes(c, family, a)) return &c;
  return nullptr;
}
}  // namespace

bool cidr_match(const Cidr &c, const sockaddr *sa) {
  int family;
  uint8_t a[16];
  return addr_bytes(sa, family, a) && match_bytes(c, family, a);
}

Acl::Acl(std::vector<Cidr> allow, std::vector<Cidr> deny)
    : allow_(std::move(allow)), deny_(std::move(deny)) {
  for (const char *d : DEFAULT_DENY) {
    Cidr c;
    std::string err;
    if (parse_cidr(d, c, err)) defaults_.push_back(c);
  }
}

void Acl::add_own(const sockaddr *sa) {
  Cidr c;
  uint8_t a[16];
  if (!addr_bytes(sa, c.family, a)) return;
  memcpy(c.addr, a, 16);
  c.prefix = c.family == AF_INET ? 32 : 128;
  bool any = true;
  for (int i = 0; i < (c.family == AF_INET ? 4 : 16); i++) any = any && a[i] == 0;
  if (any) return;  // a wildcard listener: its addresses are covered by the loopback rules
  c.text = "the server's own address";
  own_.push_back(c);
}

bool Acl::permits(const sockaddr *sa, std::string &why) const {
  int family;
  uint8_t a[16];
  if (!addr_bytes(sa, family, a)) {
    why = "unsupported address family";
    return false;
  }
  if (const Cidr *c = find(deny_, family, a)) {
    why = "deny = " + c->text;
    return false;
  }
  if (const Cidr *c = find(allow_, family, a)) {
    why = "allow = " + c->text;
    return true;
  }
  if (const Cidr *c = find(own_, family, a)) {
    why = c->text + " (add an allow rule to reach it)";
    return false;
  }
  if (const Cidr *c = find(defaults_, family, a)) {
    why = "default deny " + c->text + " (add an allow rule to reach it)";
    return false;
  }
  why = "default allow";
  return true;
}

}  // namespace braid
