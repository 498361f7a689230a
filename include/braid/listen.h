// SPDX-License-Identifier: MIT
// Owns the shared accept path of every local listener and the hand-off contract: a listener
// only learns a connection's target (SOCKS5 request, ...) and hands socket + target to a
// StreamOpener, which relays it through the tunnel. The relay itself exists once (stream.cc).
#pragma once
#include <functional>
#include <list>
#include <unordered_map>
#include <memory>
#include <string>

#include "braid/addr.h"
#include "braid/config.h"
#include "braid/loop.h"
#include "braid/stream.h"
#include "braid/udp.h"

namespace braid {

class StreamOpener {
 public:
  virtual ~StreamOpener() = default;
  // Takes fd. `confirm`: cb(0) only once the server connected the target, else cb(code);
  // otherwise cb(0) as soon as a session can carry the stream (before any tunnelled byte is
  // written to fd). On failure cb(code) runs and the opener closes fd afterwards.
  // `via`: relay to the client of that name, which connects t (peer-forward).
  virtual void open(int fd, const Target &t, const std::string &label, bool confirm,
                    OpenCallback cb, const std::string &via = "") = 0;
  // UDP: an association on the current session for sink (0 when no session is up; the sink
  // hears on_assoc_closed when the session ends), datagrams on it, and its end.
  virtual uint32_t open_assoc(DatagramSink *sink) = 0;
  virtual void send_datagram(uint32_t id, const Target &to, const uint8_t *p, size_t n,
                             uint8_t flags) = 0;
  virtual void close_assoc(uint32_t id) = 0;
};

// A bound, listening TCP socket that calls on_accept for each connection (non-blocking fd).
class Listener {
 public:
  Listener(Loop &loop, std::string kind);
  virtual ~Listener();
  // Binds and listens; err names the address and the fix on failure.
  bool bind(const Endpoint &ep, std::string &err);
  std::string bound() const;  // actual address, port 0 resolved
  const std::string &kind() const { return kind_; }
  Loop &loop() { return loop_; }

 protected:
  Loop &loop_;
  std::string kind_;
  virtual void on_accept(int fd, const std::string &peer) = 0;

 private:
  int fd_ = -1;
  IoEvent ev_;
  Timer pause_;  // accepting paused after running out of file descriptors
  void accept_ready();
};

class Socks5Conn;
class Socks5Udp;

class Socks5Listener : public Listener {
 public:
  Socks5Listener(Loop &loop, StreamOpener &opener, const Config &cfg);
  ~Socks5Listener() override;
  void finished(Socks5Conn *c);  // a connection handed off or failed; freed later
  // UDP ASSOCIATE: takes the control connection fd; false if no association could be made.
  bool start_udp(int fd, const std::string &peer, std::string &bound);
  void udp_finished(Socks5Udp *u);
  StreamOpener &opener() { return opener_; }
  const Config &config() const { return cfg_; }
  size_t pending() const { return conns_.size(); }

 protected:
  void on_accept(int fd, const std::string &peer) override;

 private:
  StreamOpener &opener_;
  const Config &cfg_;
  std::list<std::unique_ptr<Socks5Conn>> conns_;
  std::list<std::unique_ptr<Socks5Udp>> udp_;
};

class DnsTcpListener;

// Replaces the id of a DNS message (its first two bytes) and returns the old one; false for a
// message shorter than a DNS header (12 bytes), which is dropped.
bool dns_swap_id(std::string &msg, uint16_t id, uint16_t *old_id);

// DNS over the tunnel: queries on UDP and TCP at one address are answered by the server's
// resolver (dns-upstream), so nothing leaks to the local network. Query ids are rewritten so
// clients cannot collide; answers go back to whoever asked.
class DnsForwarder : public DatagramSink {
 public:
  DnsForwarder(Loop &loop, StreamOpener &opener);
  ~DnsForwarder() override;
  bool bind(const Endpoint &ep, std::string &err);
  std::string bound() const;
  // A query from a TCP client (conn != 0) or UDP (conn == 0, from = its address).
  void query(const uint8_t *p, size_t n, const sockaddr_storage *from, uint64_t conn);
  void on_datagram(const Target &from, const uint8_t *p, size_t n, uint8_t flags) override;
  void on_assoc_closed() override { assoc_ = 0; }
  void tcp_gone(uint64_t conn);

 private:
  struct Pending {
    uint16_t orig_id;
    sockaddr_storage from;
    uint64_t conn;
    double at;
  };
  Loop &loop_;
  StreamOpener &opener_;
  int fd_ = -1;
  IoEvent ev_;
  Timer expire_;
  uint32_t assoc_ = 0;
  uint16_t next_id_ = 1;
  std::unordered_map<uint16_t, Pending> pending_;
  std::unique_ptr<DnsTcpListener> tcp_;
  void on_udp();
  void expire();
};

// ssh -L style: every connection goes to one fixed target; for a peer-forward, as seen from
// the client named f.peer, through the server.
class ForwardListener : public Listener {
 public:
  ForwardListener(Loop &loop, StreamOpener &opener, const Forward &f);

 protected:
  void on_accept(int fd, const std::string &peer) override;

 private:
  StreamOpener &opener_;
  Target target_;
  std::string peer_;
};

// Transparent proxy: connections that nftables/iptables redirected here go to their original
// destination (SO_ORIGINAL_DST, IPv4 and IPv6).
class RedirListener : public Listener {
 public:
  RedirListener(Loop &loop, StreamOpener &opener);

 protected:
  void on_accept(int fd, const std::string &peer) override;

 private:
  StreamOpener &opener_;
};

// Logs and closes nothing: what a listener's OpenCallback does when the tunnel refuses a
// stream for a protocol without error replies (forward, redir): the stream resets the socket.
OpenCallback log_refusal(const std::string &label, const std::string &target);

}  // namespace braid
