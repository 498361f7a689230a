// SPDX-License-Identifier: MIT
// Owns UDP over the tunnel. Server side: an association is one UDP socket per family that
// sends the client's datagrams to their targets (ACL-checked, names resolved with evdns) or to
// the DNS upstream, returns the answers as DATAGRAM frames, and ends with an idle timeout or a
// RESET. Client side: DatagramSink is what a local endpoint (SOCKS5 UDP ASSOCIATE, the DNS
// forwarder) implements to receive its answers.
#pragma once
#include <event2/util.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <string>

#include "braid/addr.h"
#include "braid/loop.h"

struct evdns_getaddrinfo_request;

namespace braid {

class Session;
class Acl;

class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  // A datagram from `from` (flags: FLAG_DNS for an answer of the DNS upstream).
  virtual void on_datagram(const Target &from, const uint8_t *p, size_t n, uint8_t flags) = 0;
  // The association is gone (session ended, peer reset it); the sink may not use its id again.
  virtual void on_assoc_closed() = 0;
};

class UdpAssoc {
 public:
  // dns_upstream: where FLAG_DNS datagrams go (an IP target).
  UdpAssoc(Session &s, uint32_t id, const Acl &acl, const Target &dns_upstream);
  ~UdpAssoc();
  UdpAssoc(const UdpAssoc &) = delete;
  UdpAssoc &operator=(const UdpAssoc &) = delete;

  void send(const Target &to, const uint8_t *p, size_t n, uint8_t flags);
  uint64_t dropped() const { return dropped_; }

 private:
  Session &s_;
  uint32_t id_;
  const Acl &acl_;
  Target dns_;
  int fd4_ = -1, fd6_ = -1;
  IoEvent ev4_, ev6_;
  Timer idle_;
  uint64_t dropped_ = 0;
  // One name resolution at a time; datagrams for it wait (a few, then they are dropped).
  evdns_getaddrinfo_request *req_ = nullptr;
  std::string resolving_;
  std::deque<std::pair<uint16_t, std::string>> waiting_;  // port, payload
  std::string cached_name_;
  sockaddr_storage cached_{};

  int socket_for(int family);
  void send_to(const sockaddr *sa, const uint8_t *p, size_t n, bool dns);
  void on_readable(int fd);
  static void on_resolved(int err, evutil_addrinfo *res, void *arg);
  void touch();
};

}  // namespace braid
