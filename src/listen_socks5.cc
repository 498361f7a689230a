// SPDX-License-Identifier: MIT
// SOCKS5 listener: greeting, optional username/password, CONNECT; then hands off the socket.
#include <event2/event.h>
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
