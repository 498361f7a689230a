// SPDX-License-Identifier: MIT
// Transparent redirect listener: the original destination from netfilter's conntrack.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "braid/listen.h"
#include "braid/log.h"

namespace braid {
namespace {
// From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which do not mix
// well with the libc headers.
constexpr int SO_ORIGINAL_DST_V4 = 80;
constexpr int IP6T_SO_ORIGINAL_DST_V6 = 80;

bool original_dst(int fd, Target &t) {
  sockaddr_storage ss;
  socklen_t len = sizeof(sockaddr_in);
  memset(&ss, 0, sizeof ss);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST_V4, &ss, &len) == 0 && ss.ss_family == AF_INET) {
    auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
    t.atyp = Atyp::Ipv4;
    memcpy(t.ip, &sin->sin_addr, 4);
    t.port = ntohs(sin->sin_port);
    return true;
  }
  len = sizeof(sockaddr_in6);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST_V6, &ss, &len) == 0 && ss.ss_family == AF_INET6) {
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    t.atyp = Atyp::Ipv6;
    memcpy(t.ip, &sin6->sin6_addr, 16);
    t.port = ntohs(sin6->sin6_port);
    return true;
  }
  return false;
}
}  // namespace

RedirListener::RedirListener(Loop &loop, StreamOpener &opener) : Listener(loop, "redir"), opener_(opener) {}

void RedirListener::on_accept(int fd, const std::string &peer) {
  std::string label = "redir " + bound() + " " + peer;
  Target t;
  if (!original_dst(fd, t)) {
    LOG_INFO("%s: no original destination (was the connection redirected by nftables/iptables?)",
             label.c_str());
    close(fd);
    return;
  }
  // A connection made straight to the listener would loop through the tunnel back to itself.
  if (t.str() == bound() || t.str() == local_str(fd)) {
    LOG_INFO("%s: connection was not redirected (destination is the listener itself)", label.c_str());
    close(fd);
    return;
  }
  opener_.open(fd, t, label, false, log_refusal(label, t.str()));
}

}  // namespace braid
