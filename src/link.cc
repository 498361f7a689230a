// SPDX-License-Identifier: MIT
// One TLS link: socket I/O, TLS, frame reassembly, keepalive.
#include "braid/link.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/log.h"

namespace braid {
namespace {
int g_next_link_id = 1;
constexpr int READS_PER_EVENT = 8;  // fairness: other sockets get a turn after 512 KiB
}  // namespace

Link::Link(Loop &loop, TlsConfig &tls, int fd, bool connecting, LinkOwner *owner, std::string name)
    : loop_(loop), tls_(tls), fd_(fd), owner_(owner), name_(std::move(name)), id_(g_next_link_id++),
      connecting_(connecting) {
  last_rx_ = loop_.now();
  rev_.set(loop_, fd_, EV_READ, [this](short) { on_read(); });
  wev_.set(loop_, fd_, EV_WRITE, [this](short) { on_write(); });
  ka_timer_.set(loop_, [this] { on_keepalive(); });
  ka_timer_.start(1);
  if (connecting_) {
    wev_.add();
  } else {
    rev_.add();
  }
}

Link::~Link() {
  if (fd_ >= 0) ::close(fd_);
}

void Link::on_write() {
  if (connecting_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      die(std::string("connect failed: ") + strerror(err));
      return;
    }
    connecting_ = false;
    wev_.del();
    rev_.add();
    drive_handshake();
    return;
  }
  bool was_full = backlog() >= LINK_OUT_HIGH / 2;
  write_out();
  if (!dead_ && up_ && was_full && backlog() < LINK_OUT_HIGH / 2) owner_->on_link_writable(*this);
}

void Link::write_out() {
  while (!tls_.out.empty()) {
    ssize_t n = ::write(fd_, tls_.out.data(), tls_.out.size());
    if (n > 0) {
      tls_.out.consume(size_t(n));
      bytes_out_ += uint64_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wev_.add();
      return;
    }
    die(std::string("write failed: ") + strerror(errno));
    return;
  }
  wev_.del();
  if (closing_) die("closed");
}

void Link::flush() {
  if (dead_ || !up_ || plain_.empty()) return;
  TlsResult r = tls_.write(reinterpret_cast<const uint8_t *>(plain_.data()), plain_.size());
  plain_.clear();
  if (r != TlsResult::Ok) {
    die(tls_.error());
    return;
  }
  if (!wev_.pending()) write_out();
}

void Link::on_read() {
  if (paused_) return;
  for (int i = 0; i < READS_PER_EVENT; i++) {
    uint8_t *p = tls_.in.reserve(READ_CHUNK);
    ssize_t n = ::read(fd_, p, READ_CHUNK);
    if (n > 0) {
      tls_.in.commit(size_t(n));
      bytes_in_ += uint64_t(n);
      last_rx_ = loop_.now();
      if (size_t(n) < READ_CHUNK) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    die(n == 0 ? std::string("connection closed by peer") : std::string("read failed: ") + strerror(errno));
    return;
  }
  if (!up_) {
    drive_handshake();
    if (!up_ || dead_) return;
  }
  parse_frames();
}

void Link::drive_handshake() {
  TlsResult r = tls_.handshake();
  write_out();
  if (dead_) return;
  if (r == TlsResult::WantIo) return;
  if (r != TlsResult::Ok) {
    die(tls_.error());
    return;
  }
  up_ = true;
  owner_->on_link_up(*this);
  if (!dead_ && !tls_.in.empty()) parse_frames();
}

void Link::parse_frames() {
  while (!dead_) {
    size_t got = 0;
    uint8_t *p = frames_.reserve(TLS_RECORD);
    TlsResult r = tls_.read(p, TLS_RECORD, &got);
    if (r == TlsResult::WantIo) return;
    if (r != TlsResult::Ok) {
      die(tls_.error());
      return;
    }
    frames_.commit(got);
    size_t used = 0;
    while (!dead_ && !closing_ && !paused_) {
      Frame f;
      std::string err;
      Decode d = frame_decode(frames_.data(), frames_.size(), f, &used, err);
      if (d == Decode::NeedMore) break;
      if (d == Decode::Error) {
        owner_->on_link_bad_frame(*this, err);
        if (!dead_) pause_reading();
        return;
      }
      if (f.h.type == uint8_t(FrameType::Ping))
        handle_ping(f);
      else if (f.h.type < FRAME_EXTENSION_MIN)
        owner_->on_link_frame(*this, f);
      frames_.consume(used);
    }
    if (closing_ || paused_) return;
  }
}

void Link::handle_ping(const Frame &f) {
  if (f.h.flags & FLAG_PONG) {
    if (ping_sent_ > 0) {
      double rtt = (loop_.now() - ping_sent_) * 1000;
      srtt_ms_ = srtt_ms_ == 0 ? rtt : 0.875 * srtt_ms_ + 0.125 * rtt;
      ping_sent_ = 0;
    }
    return;
  }
  frame_ping(plain_, get_u64(f.body), true);
  flush();
}

void Link::pause_reading() {
  paused_ = true;
  rev_.del();
}

void LinkOwner::on_link_bad_frame(Link &l, const std::string &why) {
  l.close("protocol error: " + why);
}

void Link::close(const std::string &why) {
  if (dead_) return;
  if (up_) {
    flush();
    tls_.close_notify();
  }
  closing_ = true;
  rev_.del();
  write_out();
  if (!dead_) die(why);  // do not wait for a slow peer; close_notify went out if it could
}

void Link::set_keepalive(int interval, int dead_after) {
  ka_interval_ = interval;
  ka_dead_ = dead_after;
}

void Link::on_keepalive() {
  double now = loop_.now();
  if (now - last_rx_ > ka_dead_) {
    die("no data from the peer for " + std::to_string(ka_dead_) + " s");
    return;
  }
  if (up_ && ping_sent_ == 0 && now - last_rx_ >= ka_interval_) {
    ping_sent_ = now;
    frame_ping(plain_, uint64_t(now * 1e6), false);
    flush();
  } else if (ping_sent_ > 0 && now - ping_sent_ > ka_interval_) {
    ping_sent_ = 0;  // unanswered; silence detection above decides
  }
  if (!dead_) ka_timer_.start(1);
}

void Link::die(const std::string &why) {
  if (dead_) return;
  dead_ = true;
  rev_.reset();
  wev_.reset();
  ka_timer_.stop();
  ::close(fd_);
  fd_ = -1;
  owner_->on_link_down(*this, why);
}

}  // namespace braid
