// SPDX-License-Identifier: MIT
// DNS over the tunnel: a UDP socket and a TCP listener on one address; queries ride DATAGRAM
// frames (flag DNS) to the server's dns-upstream.
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>

#include "braid/buf.h"
#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/listen.h"
#include "braid/log.h"

namespace braid {
namespace {
constexpr size_t DNS_HEADER = 12;
constexpr size_t DNS_TCP_MAX = 65535 + 2;
constexpr int DNS_TCP_IDLE_S = 10;
}  // namespace

// One TCP client: 2-byte length-prefixed queries in, answers out the same way.
class DnsTcpConn {
 public:
  DnsTcpConn(DnsTcpListener &l, DnsForwarder &fwd, int fd, uint64_t id);
  ~DnsTcpConn() {
    if (fd_ >= 0) close(fd_);
  }
  void answer(const uint8_t *p, size_t n);
  uint64_t id() const { return id_; }

 private:
  DnsTcpListener &l_;
  DnsForwarder &fwd_;
  int fd_;
  uint64_t id_;
  Buf in_;
  IoEvent ev_;
  Timer idle_;
  void on_read();
  void end();
};

class DnsTcpListener : public Listener {
 public:
  DnsTcpListener(Loop &loop, DnsForwarder &fwd) : Listener(loop, "dns"), fwd_(fwd) {}
  DnsTcpConn *find(uint64_t id) {
    for (auto &c : conns_)
      if (c->id() == id) return c.get();
    return nullptr;
  }
  void gone(DnsTcpConn *c) {
    fwd_.tcp_gone(c->id());
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      if (it->get() != c) continue;
      std::shared_ptr<DnsTcpConn> dead(it->release());
      conns_.erase(it);
      loop_.defer([dead] {});
      return;
    }
  }

 protected:
  void on_accept(int fd, const std::string &) override {
    if (conns_.size() >= 256) {  // a DNS client needs one or two; this bounds a flood
      close(fd);
      return;
    }
    conns_.push_back(std::make_unique<DnsTcpConn>(*this, fwd_, fd, ++next_));
  }

 private:
  DnsForwarder &fwd_;
  std::list<std::unique_ptr<DnsTcpConn>> conns_;
  uint64_t next_ = 0;
};

DnsTcpConn::DnsTcpConn(DnsTcpListener &l, DnsForwarder &fwd, int fd, uint64_t id)
    : l_(l), fwd_(fwd), fd_(fd), id_(id) {
  ev_.set(l.loop(), fd_, EV_READ, [this](short) { on_read(); });
  ev_.add();
  idle_.set(l.loop(), [this] { end(); });
  idle_.start(DNS_TCP_IDLE_S);
}

void DnsTcpConn::on_read() {
  uint8_t *p = in_.reserve(4096);
  ssize_t n = read(fd_, p, 4096);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0 || in_.size() + size_t(n) > DNS_TCP_MAX) {
    end();
    return;
  }
  in_.commit(size_t(n));
  idle_.start(DNS_TCP_IDLE_S);
  while (in_.size() >= 2) {
    size_t len = size_t(in_.data()[0]) << 8 | in_.data()[1];
    if (in_.size() < 2 + len) break;
    fwd_.query(in_.data() + 2, len, nullptr, id_);
    in_.consume(2 + len);
  }
}

void DnsTcpConn::answer(const uint8_t *p, size_t n) {
  uint8_t len[2] = {uint8_t(n >> 8), uint8_t(n)};
  // Answers are small and the socket is ours alone; a short write means a stuck client.
  if (write(fd_, len, 2) != 2 || write(fd_, p, n) != ssize_t(n)) end();
}

void DnsTcpConn::end() {
  ev_.reset();
  idle_.stop();
  l_.gone(this);
}

DnsForwarder::DnsForwarder(Loop &loop, StreamOpener &opener) : loop_(loop), opener_(opener) {
  expire_.set(loop_, [this] { expire(); });
}

DnsForwarder::~DnsForwarder() {
  if (assoc_) opener_.close_assoc(assoc_);
  ev_.reset();
  if (fd_ >= 0) close(fd_);
}

bool DnsForwarder::bind(const Endpoint &ep, std::string &err) {
  Target t;
  sockaddr_storage ss;
  if (!target_from_string(ep.host, ep.port, t) || !target_sockaddr(t, ss)) {
    err = "dns " + ep.str() + ": bind address must be an IP address";
    return false;
  }
  // Port 0: UDP takes the port TCP got, so both share one address; that UDP port may be in
  // use, so an ephemeral pick is retried a few times.
  for (int attempt = 0;; attempt++) {
    tcp_ = std::make_unique<DnsTcpListener>(loop_, *this);
    if (!tcp_->bind(ep, err)) return false;
    std::string b = tcp_->bound();
    uint16_t port = uint16_t(std::stoi(b.substr(b.rfind(':') + 1)));
    if (ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in *>(&ss)->sin_port = htons(port);
    else reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port = htons(port);
    fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len = ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr *>(&ss), len) == 0) break;
    int e = errno;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (ep.port != 0 || attempt >= 20) {
      err = "dns " + ep.str() + ": cannot bind UDP: " + strerror(e);
      return false;
    }
  }
  ev_.set(loop_, fd_, EV_READ, [this](short) { on_udp(); });
  ev_.add();
  return true;
}

std::string DnsForwarder::bound() const { return tcp_ ? tcp_->bound() : "?"; }

void DnsForwarder::on_udp() {
  uint8_t buf[4096];
  for (int i = 0; i < 64; i++) {
    sockaddr_storage from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &len);
    if (n < 0) return;
    query(buf, size_t(n), &from, 0);
  }
}

bool dns_swap_id(std::string &msg, uint16_t id, uint16_t *old_id) {
  if (msg.size() < DNS_HEADER) return false;
  *old_id = uint16_t(uint8_t(msg[0]) << 8 | uint8_t(msg[1]));
  msg[0] = char(id >> 8);
  msg[1] = char(id);
  return true;
}

void DnsForwarder::query(const uint8_t *p, size_t n, const sockaddr_storage *from, uint64_t conn) {
  if (n < DNS_HEADER || pending_.size() >= DNS_PENDING_MAX) return;  // the client retries
  if (!assoc_) assoc_ = opener_.open_assoc(this);
  if (!assoc_) return;  // no session: drop, the resolver asks again
  uint16_t id = next_id_;
  while (pending_.count(id) || id == 0) id++;
  next_id_ = uint16_t(id + 1);
  std::string msg(reinterpret_cast<const char *>(p), n);
  Pending q{0, {}, conn, loop_.now()};
  dns_swap_id(msg, id, &q.orig_id);
  if (from) q.from = *from;
  pending_[id] = q;
  Target any;  // the server sends FLAG_DNS datagrams to its dns-upstream, whatever this says
  any.port = 53;
  opener_.send_datagram(assoc_, any, reinterpret_cast<const uint8_t *>(msg.data()), msg.size(),
                        FLAG_DNS);
  if (!expire_.armed()) expire_.start(1);
}

void DnsForwarder::on_datagram(const Target &, const uint8_t *p, size_t n, uint8_t flags) {
  std::string msg(reinterpret_cast<const char *>(p), n);
  uint16_t id = 0;
  if (!(flags & FLAG_DNS) || !dns_swap_id(msg, 0, &id)) return;
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending q = it->second;
  pending_.erase(it);
  dns_swap_id(msg, q.orig_id, &id);
  if (q.conn) {
    if (DnsTcpConn *c = tcp_->find(q.conn))
      c->answer(reinterpret_cast<const uint8_t *>(msg.data()), msg.size());
    return;
  }
  socklen_t len = q.from.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr *>(&q.from), len);
}

void DnsForwarder::tcp_gone(uint64_t conn) {
  for (auto &kv : pending_)
    if (kv.second.conn == conn) kv.second.conn = UINT64_MAX;  // answer goes nowhere
}

void DnsForwarder::expire() {
  double now = loop_.now();
  for (auto it = pending_.begin(); it != pending_.end();)
    it = now - it->second.at > DNS_TIMEOUT_S ? pending_.erase(it) : std::next(it);
  if (!pending_.empty()) expire_.start(1);
}

}  // namespace braid
