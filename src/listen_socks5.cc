// SPDX-License-Identifier: MIT
// SOCKS5 listener: greeting, optional username/password, CONNECT; then hands off the socket.
#include <event2/event.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/buf.h"
#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/listen.h"
#include "braid/log.h"
#include "braid/socks5.h"

namespace braid {

class Socks5Conn {
 public:
  Socks5Conn(Socks5Listener &l, int fd, std::string peer) : l_(l), fd_(fd), peer_(std::move(peer)) {
    ev_.set(l.loop(), fd_, EV_READ, [this](short) { on_read(); });
    ev_.add();
    deadline_.set(l.loop(), [this] { fail("no complete request within " +
                                                  std::to_string(SOCKS_HEAD_DEADLINE_S) + " s"); });
    deadline_.start(SOCKS_HEAD_DEADLINE_S);
  }
  ~Socks5Conn() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  enum class Stage { Greeting, Auth, Request, Done };
  Socks5Listener &l_;
  int fd_;
  std::string peer_;
  Stage stage_ = Stage::Greeting;
  Buf in_;
  IoEvent ev_;
  Timer deadline_;

  bool need_auth() const { return !l_.config().socks_auth.empty(); }

  void send(const std::string &s) {
    // Replies are a few bytes on a fresh socket: they fit its send buffer.
    if (write(fd_, s.data(), s.size()) != ssize_t(s.size())) LOG_DEBUG("socks5 %s: short reply write", peer_.c_str());
  }

  void fail(const std::string &why) {
    LOG_INFO("socks5 %s %s: %s", l_.bound().c_str(), peer_.c_str(), why.c_str());
    finish();
  }

  void finish() {
    stage_ = Stage::Done;
    ev_.reset();
    deadline_.stop();
    l_.finished(this);
  }

  void on_read() {
    uint8_t *p = in_.reserve(SOCKS_HEAD_MAX);
    ssize_t n = read(fd_, p, SOCKS_HEAD_MAX);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      fail(n == 0 ? "client closed before finishing the request" : strerror(errno));
      return;
    }
    in_.commit(size_t(n));
    if (in_.size() > SOCKS_HEAD_MAX) {
      fail("request too large");
      return;
    }
    while (stage_ != Stage::Done && step()) {
    }
  }

  // One parser step; true if it consumed a message and another may follow.
  bool step() {
    std::string err;
    size_t used = 0;
    if (stage_ == Stage::Greeting) {
      std::string methods;
      SocksParse r = socks5_parse_greeting(in_.data(), in_.size(), methods, &used, err);
      if (r == SocksParse::NeedMore) return false;
      if (r == SocksParse::Error) return fail(err), false;
      in_.consume(used);
      uint8_t want = need_auth() ? SOCKS_USERPASS : SOCKS_NO_AUTH;
      if (methods.find(char(want)) == std::string::npos) {
        send(std::string("\x05\xff", 2));
        return fail(need_auth() ? "client offers no username/password auth, which is required"
                                : "client offers no acceptable auth method"),
               false;
      }
      send(std::string("\x05", 1) + char(want));
      stage_ = need_auth() ? Stage::Auth : Stage::Request;
      return true;
    }
    if (stage_ == Stage::Auth) {
      std::string user, pass;
      SocksParse r = socks5_parse_auth(in_.data(), in_.size(), user, pass, &used, err);
      if (r == SocksParse::NeedMore) return false;
      if (r == SocksParse::Error) return fail(err), false;
      in_.consume(used);
      bool ok = false;
      for (auto &up : l_.config().socks_auth) ok = ok || (up.first == user && up.second == pass);
      send(std::string("\x01", 1) + char(ok ? 0 : 1));
      if (!ok) return fail("wrong username or password for user \"" + user + "\""), false;
      stage_ = Stage::Request;
      return true;
    }
    uint8_t cmd = 0, rep = 1;
    Target t;
    SocksParse r = socks5_parse_request(in_.data(), in_.size(), cmd, t, &used, &rep, err);
    if (r == SocksParse::NeedMore) return false;
    if (r == SocksParse::Error) {
      send(socks5_reply(rep));
      return fail(err), false;
    }
    in_.consume(used);
    if (cmd == SOCKS_CMD_UDP) {
      std::string bound;
      int fd = fd_;
      if (!l_.start_udp(fd, peer_, bound)) {
        send(socks5_reply(1));
        return fail("UDP ASSOCIATE: no session to carry it"), false;
      }
      fd_ = -1;  // the association owns the control connection now
      finish();
      return false;
    }
    if (cmd != SOCKS_CMD_CONNECT) {
      send(socks5_reply(7));
      return fail("command " + std::to_string(cmd) + " not supported"), false;
    }
    hand_off(t);
    return false;
  }

  void hand_off(const Target &t) {
    int fd = fd_;
    fd_ = -1;
    std::string label = "socks5 " + peer_;
    bool confirm = l_.config().connect_reply == ConnectReply::Confirmed;
    std::string early = std::string(reinterpret_cast<const char *>(in_.data()), in_.size());
    if (!early.empty()) {
      // Bytes after the request (a client that did not wait for the reply) would be lost.
      LOG_INFO("socks5 %s: %zu bytes sent before the reply; refusing", peer_.c_str(), early.size());
      send(socks5_reply(1));
      close(fd);
      finish();
      return;
    }
    std::string peer = peer_;
    std::string tstr = t.str();
    finish();
    l_.opener().open(fd, t, label, confirm, [fd, peer, tstr](uint32_t code) {
      std::string reply = socks5_reply(socks5_rep_for(code));
      if (write(fd, reply.data(), reply.size()) < 0) return;
      if (code)
        LOG_INFO("socks5 %s -> %s: %s", peer.c_str(), tstr.c_str(), reset_code_str(code));
    });
  }
};

// One UDP ASSOCIATE: a UDP socket for the application's datagrams, tied to its TCP control
// connection (the association ends when that closes) and to a tunnel association.
class Socks5Udp : public DatagramSink {
 public:
  Socks5Udp(Socks5Listener &l, int ctl, std::string peer) : l_(l), ctl_(ctl), peer_(std::move(peer)) {}
  ~Socks5Udp() override {
    if (id_) l_.opener().close_assoc(id_);
    ctl_ev_.reset();
    udp_ev_.reset();
    if (ctl_ >= 0) close(ctl_);
    if (udp_ >= 0) close(udp_);
  }

  // Binds the UDP socket beside the listener and answers the request; false on failure.
  bool start(std::string &bound) {
    id_ = l_.opener().open_assoc(this);
    if (!id_) return false;
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(ctl_, reinterpret_cast<sockaddr *>(&ss), &len);
    if (ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in *>(&ss)->sin_port = 0;
    else reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port = 0;
    udp_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (udp_ < 0 || ::bind(udp_, reinterpret_cast<sockaddr *>(&ss), len) != 0) return false;
    len = sizeof ss;
    getsockname(udp_, reinterpret_cast<sockaddr *>(&ss), &len);
    Target b;
    target_from_string(local_str(udp_).substr(0, local_str(udp_).rfind(':')), 0, b);
    b.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in *>(&ss)->sin_port
                                           : reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
    std::string reply = std::string("\x05\x00\x00", 3) + target_encode(b);
    if (write(ctl_, reply.data(), reply.size()) < 0) return false;
    bound = b.str();
    ctl_ev_.set(l_.loop(), ctl_, EV_READ, [this](short) { on_ctl(); });
    ctl_ev_.add();
    udp_ev_.set(l_.loop(), udp_, EV_READ, [this](short) { on_udp(); });
    udp_ev_.add();
    idle_.set(l_.loop(), [this] { end("idle for " + std::to_string(UDP_IDLE_S) + " s"); });
    idle_.start(UDP_IDLE_S);
    return true;
  }

  void on_datagram(const Target &from, const uint8_t *p, size_t n, uint8_t) override {
    if (!have_app_) return;
    idle_.start(UDP_IDLE_S);
    std::string pkt = std::string("\x00\x00\x00", 3) + target_encode(from);
    pkt.append(reinterpret_cast<const char *>(p), n);
    socklen_t len = app_.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    sendto(udp_, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr *>(&app_), len);
  }
  void on_assoc_closed() override {
    id_ = 0;
    end("session ended");
  }
  void release_ctl() { ctl_ = -1; }  // start() failed: the caller still owns the connection

 private:
  Socks5Listener &l_;
  int ctl_, udp_ = -1;
  std::string peer_;
  uint32_t id_ = 0;
  IoEvent ctl_ev_, udp_ev_;
  Timer idle_;
  sockaddr_storage app_{};
  bool have_app_ = false, ended_ = false;

  void end(const std::string &why) {
    if (ended_) return;
    ended_ = true;
    LOG_DEBUG("socks5 udp %s: association ends: %s", peer_.c_str(), why.c_str());
    ctl_ev_.reset();
    udp_ev_.reset();
    idle_.stop();
    l_.udp_finished(this);
  }

  void on_ctl() {
    char buf[256];
    ssize_t n = read(ctl_, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) end("control connection closed");
  }

  // RFC 1928 7: RSV(2) FRAG ATYP DST.ADDR DST.PORT DATA. Fragments are dropped, as most
  // servers do; datagrams from anyone but the client that asked are dropped too.
  void on_udp() {
    uint8_t buf[MAX_DATAGRAM_PAYLOAD + 300];
    for (int i = 0; i < 64; i++) {
      sockaddr_storage from;
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &len);
      if (n < 0) return;
      std::string who = sockaddr_str(reinterpret_cast<sockaddr *>(&from));
      if (who.substr(0, who.rfind(':')) != peer_.substr(0, peer_.rfind(':'))) continue;
      Target t;
      size_t head = 0;
      if (socks5_parse_udp(buf, size_t(n), t, &head) != SocksParse::Ok) continue;
      app_ = from;
      have_app_ = true;
      idle_.start(UDP_IDLE_S);
      if (id_) l_.opener().send_datagram(id_, t, buf + head, size_t(n) - head, 0);
    }
  }
};

bool Socks5Listener::start_udp(int fd, const std::string &peer, std::string &bound) {
  auto u = std::make_unique<Socks5Udp>(*this, fd, peer);
  if (!u->start(bound)) {
    u->release_ctl();
    return false;
  }
  LOG_DEBUG("socks5 %s: UDP association on %s", peer.c_str(), bound.c_str());
  udp_.push_back(std::move(u));
  return true;
}

void Socks5Listener::udp_finished(Socks5Udp *u) {
  for (auto it = udp_.begin(); it != udp_.end(); ++it) {
    if (it->get() != u) continue;
    std::shared_ptr<Socks5Udp> dead(it->release());
    udp_.erase(it);
    loop_.defer([dead] {});
    return;
  }
}

Socks5Listener::Socks5Listener(Loop &loop, StreamOpener &opener, const Config &cfg)
    : Listener(loop, "socks5"), opener_(opener), cfg_(cfg) {}

Socks5Listener::~Socks5Listener() = default;

void Socks5Listener::on_accept(int fd, const std::string &peer) {
  conns_.push_back(std::make_unique<Socks5Conn>(*this, fd, peer));
}

void Socks5Listener::finished(Socks5Conn *c) {
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->get() != c) continue;
    std::shared_ptr<Socks5Conn> dead(it->release());
    conns_.erase(it);
    loop_.defer([dead] {});
    return;
  }
}

}  // namespace braid
