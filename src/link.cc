// SPDX-License-Identifier: MIT
// One TLS link: socket I/O, TLS, frame reassembly, keepalive.
#include "braid/link.h"

#include <event2/event.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstring>

#include "braid/log.h"
#include "braid/stream.h"

namespace braid {
namespace {
int g_next_link_id = 1;
constexpr int READS_PER_EVENT = 8;  // fairness: other sockets get a turn after 512 KiB
constexpr double TICK_S = 0.25;     // liveness, probe and rate bookkeeping
constexpr double PROBE_S = 1.0;     // RTT probe interval while the link carries data
}  // namespace

Link::Link(Loop &loop, TlsConfig &tls, int fd, bool connecting, LinkOwner *owner, std::string name)
    : loop_(loop), tls_(tls), fd_(fd), owner_(owner), name_(std::move(name)), id_(g_next_link_id++),
      connecting_(connecting) {
  last_rx_ = rate_t0_ = loop_.now();
  // Keep the kernel's unsent queue small so the scheduler decides late which link carries
  // what (research/protocol.md 3.2); EV_WRITE then means "below the low-water mark".
  int lowat = TCP_NOTSENT_LOWAT_BYTES;
  setsockopt(fd_, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  rev_.set(loop_, fd_, EV_READ, [this](short) { on_read(); });
  wev_.set(loop_, fd_, EV_WRITE, [this](short) { on_write(); });
  ka_timer_.set(loop_, [this] { on_keepalive(); });
  ka_timer_.start(TICK_S);
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
    if (proxy_) {
      tls_.out.append(proxy_->start());
      write_out();
      return;
    }
    drive_handshake();
    return;
  }
  bool was_blocked = kernel_full_ || backlog() >= LINK_OUT_HIGH / 2;
  kernel_full_ = false;
  write_out();
  if (!dead_ && up_ && was_blocked && writable()) owner_->on_link_writable(*this);
}

void Link::write_out() {
  while (!tls_.out.empty()) {
    struct iovec iov[2];
    int k = tls_.out.data_iov(iov);
    ssize_t n = ::writev(fd_, iov, k);
    if (n > 0) {
      tls_.out.consume(size_t(n));
      bytes_out_ += uint64_t(n);
      last_tx_ = loop_.now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      busy_ = true;
      wev_.add();
      return;
    }
    die(std::string("write failed: ") + strerror(errno));
    return;
  }
  if (closing_) {
    die(close_why_);
    return;
  }
  if (up_ && notsent() >= size_t(TCP_NOTSENT_LOWAT_BYTES)) {
    kernel_full_ = busy_ = true;  // EV_WRITE fires once the kernel drained below the mark
    wev_.add();
  } else {
    wev_.del();
  }
}

size_t Link::notsent() const {
  int n = 0;
  if (fd_ < 0 || ioctl(fd_, SIOCOUTQNSD, &n) != 0) return 0;
  return size_t(n);
}

double Link::expected_delivery() const {
  double rate = rate_ > 0 ? rate_ : 10e6;  // unmeasured: assume 10 MB/s until known
  return double(backlog() + carried_bytes) / rate + srtt_ms_ / 2000.0;
}

void Link::update_rate() {
  double now = loop_.now(), dt = now - rate_t0_;
  if (dt < 0.5) return;
  double measured = double(bytes_out_ - rate_bytes0_) / dt;
  // Only an interval in which the link was the bottleneck measures its capacity; otherwise
  // the application limited it and the figure is a lower bound.
  if (busy_)
    rate_ = rate_ == 0 ? measured : 0.7 * rate_ + 0.3 * measured;
  else
    rate_ = std::max(rate_, measured);
  busy_ = false;
  rate_t0_ = now;
  rate_bytes0_ = bytes_out_;
}

void Link::flush() {
  if (dead_ || !up_) return;
  absorb();
  seal();
  if (write_failed_) {
    die(tls_.error());
    return;
  }
  if (!tls_.out.empty() && !wev_.pending()) write_out();
}

// A failed TLS write is remembered, not acted on: put_frame runs inside the session's fill, which
// records what the frame carried only after it returns; flush() then closes the link and the
// session resends that from the carried log.
void Link::tls_write(const uint8_t *p, size_t n) {
  if (write_failed_) return;
  if (tls_.write(p, n) != TlsResult::Ok) write_failed_ = true;
}

void Link::seal() {
  if (!rec_len_) return;
  tls_write(rec_, rec_len_);
  rec_len_ = 0;
}

void Link::put_bytes(const uint8_t *p, size_t n) {
  queued_ += n;
  while (n > 0) {
    size_t k = std::min(n, TLS_RECORD - rec_len_);
    memcpy(rec_ + rec_len_, p, k);
    rec_len_ += k;
    p += k;
    n -= k;
    if (rec_len_ == TLS_RECORD) seal();
  }
}

void Link::absorb() {
  if (plain_.empty()) return;
  put_bytes(reinterpret_cast<const uint8_t *>(plain_.data()), plain_.size());
  plain_.clear();
}

size_t Link::data_room() {
  absorb();
  // Below 1 KiB of room a frame would be mostly header: start the next record instead.
  if (TLS_RECORD - rec_len_ < DATA_HEADER + 1024) seal();
  return TLS_RECORD - rec_len_ - DATA_HEADER;
}

void Link::put_frame(const uint8_t *head, size_t hn, uint8_t *p1, size_t n1, const uint8_t *p2,
                     size_t n2, size_t before) {
  absorb();
  size_t total = hn + n1 + n2;
  if (total > TLS_RECORD - rec_len_) seal();
  if (rec_len_ == 0 && total == TLS_RECORD && n2 == 0 && before >= hn) {
    // A whole record of one frame: TLS reads the payload where it lies.
    uint8_t saved[DATA_HEADER + 8];
    if (hn <= sizeof saved) {
      memcpy(saved, p1 - hn, hn);
      memcpy(p1 - hn, head, hn);
      tls_write(p1 - hn, total);
      memcpy(p1 - hn, saved, hn);
      queued_ += total;
      return;
    }
  }
  put_bytes(head, hn);
  if (n1) put_bytes(p1, n1);
  if (n2) put_bytes(p2, n2);
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
      if (suspect_) {
        suspect_ = false;
        LOG_INFO("link %d (%s): alive again", id_, name_.c_str());
        if (up_) owner_->on_link_writable(*this);
        if (dead_) return;
      }
      if (size_t(n) < READ_CHUNK) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    die(n == 0 ? std::string("connection closed by peer") : std::string("read failed: ") + strerror(errno));
    return;
  }
  if (proxy_) {
    drive_proxy();
    if (proxy_ || dead_) return;
  }
  if (!up_) {
    drive_handshake();
    if (!up_ || dead_) return;
  }
  parse_frames();
}

void Link::drive_proxy() {
  for (;;) {
    size_t used = 0;
    std::string out, err;
    ProxyHandshake::Result r = proxy_->feed(tls_.in.data(), tls_.in.size(), &used, out, err);
    tls_.in.consume(used);
    if (r == ProxyHandshake::Result::Error) {
      die(err);
      return;
    }
    if (!out.empty()) {
      tls_.out.append(out);
      write_out();
      if (dead_) return;
    }
    if (r == ProxyHandshake::Result::Done) {
      proxy_.reset();
      drive_handshake();  // what followed the proxy's answer is already the server's TLS
      return;
    }
    if (used == 0) return;  // need more bytes
  }
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
    // Up to PARSE_BATCH of records first, then their frames: in-order DATA for one stream
    // from all of them reaches its socket in one writev when the batch ends. Frames of
    // records that decrypted are handled before a failing one ends the link.
    bool want_io = false, failed = false;
    do {
      size_t got = 0;
      uint8_t *p = frames_.reserve(TLS_RECORD);
      TlsResult r = tls_.read(p, TLS_RECORD, &got);
      if (r == TlsResult::WantIo) want_io = true;
      else if (r != TlsResult::Ok) failed = true;
      else frames_.commit(got);
    } while (!want_io && !failed && frames_.size() < PARSE_BATCH);
    if (!parse_batch()) return;
    if (failed && !dead_) {
      die(tls_.error());
      return;
    }
    if (raw_ && !dead_ && !frames_.empty()) {
      raw_(frames_.data(), frames_.size());
      frames_.clear();
    }
    if (closing_ || paused_ || want_io) return;
  }
}

bool Link::parse_batch() {
  WriteBatch batch;  // the deferred writes point into frames_: they end with this function
  size_t used = 0;
  while (!dead_ && !closing_ && !paused_ && !raw_) {
    Frame f;
    std::string err;
    Decode d = frame_decode(frames_.data(), frames_.size(), f, &used, err);
    if (d == Decode::NeedMore) break;
    if (d == Decode::Error) {
      owner_->on_link_bad_frame(*this, err);
      if (raw_) break;
      if (!dead_) pause_reading();
      return false;
    }
    if (f.h.type == uint8_t(FrameType::Ping)) {
      handle_ping(f);
    } else if (f.h.type < FRAME_EXTENSION_MIN) {
      last_frame_ = loop_.now();
      owner_->on_link_frame(*this, f);
      if (raw_) break;  // the owner switched to raw: this frame's bytes go there too
    }
    frames_.consume(used);
  }
  return true;
}

void Link::handle_ping(const Frame &f) {
  if (f.h.flags & FLAG_PONG) {
    if (ping_sent_ > 0) {
      double rtt = (loop_.now() - ping_sent_) * 1000;
      srtt_ms_ = srtt_ms_ == 0 ? rtt : 0.875 * srtt_ms_ + 0.125 * rtt;
      if (min_rtt_ms_ == 0 || rtt < min_rtt_ms_ || loop_.now() - min_rtt_at_ > 10) {
        min_rtt_ms_ = rtt;
        min_rtt_at_ = loop_.now();
      }
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
  close_why_ = why;
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
  update_rate();
  bool outstanding = !carried.empty() && last_tx_ > last_rx_;
  double quiet = std::max(2.0, 4 * srtt_ms_ / 1000);
  if (up_ && !suspect_ && outstanding && now - last_rx_ > quiet) {
    suspect_ = true;
    LOG_INFO("link %d (%s): suspect: silent for %.1f s while carrying data", id_, name_.c_str(),
             now - last_rx_);
    owner_->on_link_suspect(*this);
    if (dead_) return;
  }
  if (ping_sent_ > 0 && now - ping_sent_ > ka_interval_) ping_sent_ = 0;  // lost; probe again
  // Probe while the link carries data either way, so SRTT includes the queueing the data sees.
  bool active = !carried.empty() || now - last_frame_ < PROBE_S;
  bool probe = active && now - last_probe_ >= PROBE_S;
  if (up_ && ping_sent_ == 0 && (probe || now - std::max(last_rx_, last_probe_) >= ka_interval_)) {
    ping_sent_ = last_probe_ = now;
    frame_ping(plain_, uint64_t(now * 1e6), false);
    flush();
  }
  if (!dead_) ka_timer_.start(TICK_S);
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
