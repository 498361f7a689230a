// SPDX-License-Identifier: MIT
// Unit tests for src/acl.cc: the default deny list (including v4-mapped IPv6), allow and deny
// rules and their order, the server's own addresses, and cidr_match.
#include "braid/acl.h"
#include "braid/config.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

using namespace braid;

namespace {

// A sockaddr for a literal IPv4 or IPv6 address.
struct Addr {
  sockaddr_storage ss{};
  explicit Addr(const std::string &ip, uint16_t port = 443) {
    auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) == 1) {
      sin->sin_family = AF_INET;
      sin->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) == 1) {
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(port);
    } else {
      CHECK(!"bad literal in test");
    }
  }
  const sockaddr *sa() const { return reinterpret_cast<const sockaddr *>(&ss); }
};

std::vector<Cidr> cidrs(std::initializer_list<const char *> texts) {
  std::vector<Cidr> out;
  for (const char *t : texts) {
    Cidr c;
    std::string err;
    CHECK(parse_cidr(t, c, err));
    out.push_back(c);
  }
  return out;
}

bool permits(const Acl &acl, const std::string &ip, std::string *why_out = nullptr) {
  std::string why;
  bool ok = acl.permits(Addr(ip).sa(), why);
  CHECK(!why.empty());
  if (why_out) *why_out = why;
  return ok;
}

const char *const DENIED_BY_DEFAULT[] = {
    "127.0.0.1", "127.255.255.254", "10.1.2.3",  "192.168.1.1",     "172.16.0.1",
    "172.31.255.255", "169.254.1.1", "100.64.0.1", "100.127.255.255", "0.0.0.0",
    "0.1.2.3",   "224.0.0.1",       "239.255.255.250", "240.0.0.1",  "255.255.255.255",
    "::1",       "::",              "fe80::1",   "febf::1",         "fc00::1",
    "fd12:3456::1", "ff02::1",      "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "::ffff:192.168.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0"};

const char *const ALLOWED_BY_DEFAULT[] = {
    "8.8.8.8",   "1.1.1.1",  "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0",
    "11.0.0.1",  "192.169.0.1", "223.255.255.255", "2001:4860::8888", "2606:4700::1111",
    "fec0::1",   "::ffff:8.8.8.8"};

void test_default_deny() {
  Acl acl({}, {});
  for (const char *ip : DENIED_BY_DEFAULT) {
    std::string why;
    if (permits(acl, ip, &why)) {
      CHECK_EQ(std::string(ip), "denied");
    } else {
      CHECK_STR_CONTAINS(why, "default deny");
    }
  }
  for (const char *ip : ALLOWED_BY_DEFAULT) {
    std::string why;
    if (!permits(acl, ip, &why)) {
      CHECK_EQ(std::string(ip) + " " + why, "allowed");
    } else {
      CHECK_EQ(why, "default allow");
    }
  }
  std::string why;
  permits(acl, "127.0.0.1", &why);
  CHECK_EQ(why, "default deny 127.0.0.0/8 (add an allow rule to reach it)");
  permits(acl, "::ffff:127.0.0.1", &why);
  CHECK_EQ(why, "default deny 127.0.0.0/8 (add an allow rule to reach it)");
}

// A default-constructed Acl (no rules at all) must still apply the default deny list: acl.h says
// the defaults always follow the rules, and a fresh `Acl acl_;` member must not mean "allow all".
void test_default_constructed() {
  Acl acl;
  for (const char *ip : {"127.0.0.1", "10.1.2.3", "::1", "::ffff:127.0.0.1", "169.254.169.254"}) {
    std::string why;
    if (permits(acl, ip, &why)) CHECK_EQ(std::string(ip) + " " + why, "denied by default");
  }
  CHECK(permits(acl, "8.8.8.8"));
}

void test_allow() {
  Acl acl(cidrs({"127.0.0.0/8"}), {});
  std::string why;
  CHECK(permits(acl, "127.0.0.1", &why));
  CHECK_EQ(why, "allow = 127.0.0.0/8");
  CHECK(permits(acl, "::ffff:127.0.0.1"));  // v4-mapped follows the IPv4 rule
  CHECK(!permits(acl, "10.0.0.1"));
  CHECK(!permits(acl, "::1"));  // IPv6 loopback is another rule
  CHECK(permits(acl, "8.8.8.8"));

  Acl v6(cidrs({"fd00::/8", "::1/128"}), {});
  CHECK(permits(v6, "fd00::5"));
  CHECK(permits(v6, "::1"));
  CHECK(!permits(v6, "fc00::1"));
  CHECK(!permits(v6, "127.0.0.1"));
}

void test_deny_beats_allow() {
  Acl acl(cidrs({"10.0.0.0/8"}), cidrs({"10.9.0.0/16", "8.8.8.8/32", "2001:4860::/32"}));
  std::string why;
  CHECK(permits(acl, "10.1.0.1"));
  CHECK(!permits(acl, "10.9.1.1", &why));
  CHECK_EQ(why, "deny = 10.9.0.0/16");
  CHECK(!permits(acl, "8.8.8.8", &why));  // an otherwise public address
  CHECK_EQ(why, "deny = 8.8.8.8/32");
  CHECK(!permits(acl, "::ffff:8.8.8.8"));
  CHECK(permits(acl, "8.8.4.4"));
  CHECK(!permits(acl, "2001:4860::8888"));
  // Same prefix in both lists: deny wins.
  Acl both(cidrs({"1.2.3.0/24"}), cidrs({"1.2.3.0/24"}));
  CHECK(!permits(both, "1.2.3.4"));
  // 0.0.0.0/0 deny refuses everything IPv4, not IPv6.
  Acl all4({}, cidrs({"0.0.0.0/0"}));
  CHECK(!permits(all4, "8.8.8.8"));
  CHECK(permits(all4, "2001:4860::8888"));
}

void test_own_addresses() {
  Acl acl({}, {});
  acl.add_own(Addr("1.2.3.4").sa());
  acl.add_own(Addr("2001:db8::10").sa());
  acl.add_own(Addr("0.0.0.0").sa());  // wildcard listeners add nothing
  acl.add_own(Addr("::").sa());
  std::string why;
  CHECK(!permits(acl, "1.2.3.4", &why));
  CHECK_STR_CONTAINS(why, "the server's own address");
  CHECK(!permits(acl, "::ffff:1.2.3.4"));
  CHECK(!permits(acl, "2001:db8::10"));
  CHECK(permits(acl, "1.2.3.5"));
  CHECK(permits(acl, "2001:db8::11"));
  CHECK(permits(acl, "8.8.8.8"));

  Acl allowed(cidrs({"1.2.3.4/32"}), {});
  allowed.add_own(Addr("1.2.3.4").sa());
  allowed.add_own(Addr("::ffff:5.6.7.8").sa());  // a v4-mapped listener is its IPv4 address
  CHECK(permits(allowed, "1.2.3.4", &why));
  CHECK_EQ(why, "allow = 1.2.3.4/32");
  CHECK(!permits(allowed, "5.6.7.8"));
}

void test_unsupported_family() {
  Acl acl({}, {});
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  std::string why;
  CHECK(!acl.permits(reinterpret_cast<sockaddr *>(&ss), why));
  CHECK_EQ(why, "unsupported address family");
  acl.add_own(reinterpret_cast<sockaddr *>(&ss));  // ignored
  CHECK(permits(acl, "8.8.8.8"));
}

void test_cidr_match() {
  struct {
    const char *cidr, *ip;
    bool match;
  } cases[] = {
      {"10.0.0.0/8", "10.255.255.255", true},     {"10.0.0.0/8", "11.0.0.0", false},
      {"192.168.77.0/20", "192.168.64.1", true},  {"192.168.77.0/20", "192.168.80.1", false},
      {"1.2.3.4/32", "1.2.3.4", true},            {"1.2.3.4/32", "1.2.3.5", false},
      {"0.0.0.0/0", "203.0.113.9", true},         {"0.0.0.0/0", "::1", false},
      {"1.2.3.0/31", "1.2.3.1", true},            {"1.2.3.0/31", "1.2.3.2", false},
      {"fe80::/10", "febf:ffff::1", true},        {"fe80::/10", "fec0::1", false},
      {"::/0", "2001:db8::1", true},              {"::/0", "1.2.3.4", false},
      {"2001:db8::/127", "2001:db8::1", true},    {"2001:db8::/127", "2001:db8::2", false},
      {"10.0.0.0/8", "::ffff:10.1.1.1", true},    {"::ffff:0:0/96", "::ffff:10.1.1.1", false},
  };
  for (const auto &c : cases) {
    std::vector<Cidr> v = cidrs({c.cidr});
    if (cidr_match(v[0], Addr(c.ip).sa()) != c.match)
      CHECK_EQ(std::string(c.cidr) + " " + c.ip, std::string(c.match ? "match" : "no match"));
  }
}

const CheckCase CASES[] = {
    {"default_deny", test_default_deny},
    {"default_constructed", test_default_constructed},
    {"allow", test_allow},
    {"deny_beats_allow", test_deny_beats_allow},
    {"own_addresses", test_own_addresses},
    {"unsupported_family", test_unsupported_family},
    {"cidr_match", test_cidr_match},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
