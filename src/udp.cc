// SPDX-License-Identifier: MIT
// Server-side UDP associations.
#include "braid/udp.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/acl.h"
#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/log.h"
#include "braid/mux.h"

namespace braid {

UdpAssoc::UdpAssoc(Session &s, uint32_t id, const Acl &acl, const Target &dns_upstream)
    : s_(s), id_(id), acl_(acl), dns_(dns_upstream) {
  idle_.set(s_.loop(), [this] { s_.close_assoc(id_, "idle for " + std::to_string(UDP_IDLE_S) + " s"); });
  touch();
}

UdpAssoc::~UdpAssoc() {
  if (req_) evdns_getaddrinfo_cancel(req_);
  ev4_.reset();
  ev6_.reset();
  if (fd4_ >= 0) close(fd4_);
  if (fd6_ >= 0) close(fd6_);
}

void UdpAssoc::touch() { idle_.start(UDP_IDLE_S); }

int UdpAssoc::socket_for(int family) {
  int &fd = family == AF_INET ? fd4_ : fd6_;
  if (fd >= 0) return fd;
  fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  IoEvent &ev = family == AF_INET ? ev4_ : ev6_;
  int f = fd;
  ev.set(s_.loop(), fd, EV_READ, [this, f](short) { on_readable(f); });
  ev.add();
  return fd;
}

void UdpAssoc::send_to(const sockaddr *sa, const uint8_t *p, size_t n, bool dns) {
  std::string why;
  if (!dns && !acl_.permits(sa, why)) {
    LOG_DEBUG("udp %u -> %s: not allowed: %s", id_, sockaddr_str(sa).c_str(), why.c_str());
    dropped_++;
    return;
  }
  int fd = socket_for(sa->sa_family);
  socklen_t len = sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (fd < 0 || sendto(fd, p, n, 0, sa, len) < 0) dropped_++;
}

void UdpAssoc::send(const Target &to, const uint8_t *p, size_t n, uint8_t flags) {
  touch();
  bool dns = flags & FLAG_DNS;
  const Target &t = dns ? dns_ : to;
  sockaddr_storage ss;
  if (t.atyp != Atyp::Domain) {
    if (!target_sockaddr(t, ss)) {
      dropped_++;
      return;
    }
    send_to(reinterpret_cast<sockaddr *>(&ss), p, n, dns);
    return;
  }
  if (t.domain == cached_name_) {
    ss = cached_;
    reinterpret_cast<sockaddr_in *>(&ss)->sin_port = htons(t.port);  // same offset for v6
    send_to(reinterpret_cast<sockaddr *>(&ss), p, n, false);
    return;
  }
  if (req_ && t.domain != resolving_) {
    dropped_++;  // one name at a time keeps this bounded; UDP may drop
    return;
  }
  if (waiting_.size() >= 8) {
    dropped_++;
    return;
  }
  waiting_.emplace_back(t.port, std::string(reinterpret_cast<const char *>(p), n));
  if (req_) return;
  resolving_ = t.domain;
  evutil_addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  evdns_getaddrinfo_request *r =
      evdns_getaddrinfo(s_.loop().dns(), t.domain.c_str(), nullptr, &hints, on_resolved, this);
  if (r && !resolving_.empty()) req_ = r;
}

void UdpAssoc::on_resolved(int err, evutil_addrinfo *res, void *arg) {
  if (err == EVUTIL_EAI_CANCEL) {
    if (res) evutil_freeaddrinfo(res);
    return;
  }
  UdpAssoc *a = static_cast<UdpAssoc *>(arg);
  a->req_ = nullptr;
  if (!err && res && res->ai_addrlen <= sizeof a->cached_) {
    memcpy(&a->cached_, res->ai_addr, res->ai_addrlen);
    a->cached_name_ = a->resolving_;
    for (auto &w : a->waiting_) {
      sockaddr_storage ss = a->cached_;
      reinterpret_cast<sockaddr_in *>(&ss)->sin_port = htons(w.first);
      a->send_to(reinterpret_cast<sockaddr *>(&ss), reinterpret_cast<const uint8_t *>(w.second.data()),
                 w.second.size(), false);
    }
  } else {
    a->dropped_ += a->waiting_.size();
  }
  a->waiting_.clear();
  a->resolving_.clear();
  if (res) evutil_freeaddrinfo(res);
}

void UdpAssoc::on_readable(int fd) {
  uint8_t buf[MAX_DATAGRAM_PAYLOAD + 1];
  for (int i = 0; i < 64; i++) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&ss), &len);
    if (n < 0) return;
    if (size_t(n) > MAX_DATAGRAM_PAYLOAD) {
      dropped_++;
      continue;
    }
    touch();
    Target from;
    from.atyp = ss.ss_family == AF_INET ? Atyp::Ipv4 : Atyp::Ipv6;
    if (ss.ss_family == AF_INET) {
      auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
      memcpy(from.ip, &sin->sin_addr, 4);
      from.port = ntohs(sin->sin_port);
    } else {
      auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
      memcpy(from.ip, &sin6->sin6_addr, 16);
      from.port = ntohs(sin6->sin6_port);
    }
    sockaddr_storage up;
    bool dns = target_sockaddr(dns_, up) && sockaddr_str(reinterpret_cast<sockaddr *>(&up)) ==
                                                 sockaddr_str(reinterpret_cast<sockaddr *>(&ss));
    s_.send_datagram(id_, from, buf, size_t(n), dns ? FLAG_DNS : 0);
  }
}

}  // namespace braid
