// SPDX-License-Identifier: MIT
// Stream state machine: relay between a local socket and the tunnel, credit, delayed close.
#include "braid/stream.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "braid/control.h"
#include "braid/dial.h"
#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/link.h"
#include "braid/log.h"
#include "braid/mux.h"

namespace braid {
namespace {
constexpr int READS_PER_EVENT = 4;

// Closes fd so the application sees a TCP RST rather than an orderly FIN.
void close_rst(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}
}  // namespace

Stream::Stream(Session &s, uint32_t id, Target target, std::string label)
    : s_(s), id_(id), target_(std::move(target)), label_(std::move(label)) {
  peer_max_ = STREAM_WINDOW;
  granted_ = window_ = STREAM_WINDOW;
  window_t_ = s_.loop().now();
}

size_t Stream::send_room() const {
  uint64_t cap = std::max(STREAM_WINDOW, peer_max_ - std::min(peer_max_, send_base_)) + STREAM_SEND_SLACK;
  cap = std::min(cap, STREAM_WINDOW_MAX + STREAM_SEND_SLACK);
  return sendbuf_.size() >= cap ? 0 : size_t(cap - sendbuf_.size());
}

namespace {

// WriteBatch state: one reactor thread, so plain statics.
struct Deferred {
  Stream *st;
  const uint8_t *p;
  size_t n;
};
int g_batch_depth = 0;
std::vector<Deferred> g_deferred;  // in arrival order
constexpr int DEFER_IOV = 64;      // pieces per writev

}  // namespace

WriteBatch::WriteBatch() { g_batch_depth++; }

bool WriteBatch::active() { return g_batch_depth > 0; }

WriteBatch::~WriteBatch() {
  if (--g_batch_depth > 0) return;
  std::vector<Deferred> w;
  w.swap(g_deferred);
  // Each stream's pieces together, in arrival order (a stable sort by stream).
  std::stable_sort(w.begin(), w.end(),
                   [](const Deferred &a, const Deferred &b) { return std::less<Stream *>()(a.st, b.st); });
  struct iovec iov[DEFER_IOV];
  for (size_t i = 0; i < w.size();) {
    Stream *st = w[i].st;
    size_t j = i;
    while (j < w.size() && w[j].st == st) j++;
    for (size_t k = i; st && k < j; k += DEFER_IOV) {
      int n = 0;
      for (size_t m = k; m < j && n < DEFER_IOV; m++)
        iov[n++] = {const_cast<uint8_t *>(w[m].p), w[m].n};
      st->write_deferred(iov, n, k + DEFER_IOV >= j);
    }
    i = j;
  }
  w.clear();
  if (g_deferred.empty()) g_deferred.swap(w);  // keep the allocation for the next batch
}

Stream::~Stream() {
  if (deferred_)
    for (Deferred &d : g_deferred)
      if (d.st == this) d.st = nullptr;
  if (fd_ >= 0) close(fd_);
}

void Stream::write_deferred(struct iovec *iov, int n, bool last) {
  if (last) deferred_ = false;
  if (state_ == StreamState::Done || fd_ < 0) return;  // reset meanwhile: dropped with it
  ssize_t w = 0;
  if (recvbuf_.empty()) {
    w = writev(fd_, iov, n);
    if (w > 0) note_written(uint64_t(w));
    else w = 0;  // EAGAIN, or an error flush_local reports
  }
  size_t skip = size_t(w);
  for (int i = 0; i < n; i++) {
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    recvbuf_.append(static_cast<const uint8_t *>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
    skip = 0;
  }
  if (last) flush_local();
}

void Stream::undefer() {
  if (!deferred_) return;
  struct iovec iov[DEFER_IOV];
  int n = 0;
  for (Deferred &d : g_deferred) {
    if (d.st != this) continue;
    if (n == DEFER_IOV) {
      write_deferred(iov, n, false);
      n = 0;
    }
    iov[n++] = {const_cast<uint8_t *>(d.p), d.n};
    d.st = nullptr;
  }
  deferred_ = false;
  if (n) write_deferred(iov, n, false);
}

void Stream::attach(int fd) {
  fd_ = fd;
  rev_.set(s_.loop(), fd_, EV_READ, [this](short) { on_readable(); });
  wev_.set(s_.loop(), fd_, EV_WRITE, [this](short) { on_writable(); });
}

void Stream::start_client(int fd, bool early, OpenCallback cb) {
  is_client_ = true;
  attach(fd);
  s_.stream_ready(this);  // OPEN goes out with the first DATA, in the same record
  if (early) {
    state_ = StreamState::Open;
    update_read_interest();
    return;
  }
  open_cb_ = std::move(cb);
  open_timer_.set(s_.loop(), [this] {
    abort(uint32_t(ResetCode::TtlExpired),
          "no answer to OPEN within " + std::to_string(OPEN_TIMEOUT_S) + " s", true);
  });
  open_timer_.start(OPEN_TIMEOUT_S);
}

void Stream::start_server(const Acl &acl) {
  dial_.reset(new DialJob(s_.loop(), acl, target_,
                          [this](int fd, uint32_t code, const std::string &why) {
                            dial_done(fd, code, why);
                          }));
}

void Stream::dial_done(int fd, uint32_t code, const std::string &why) {
  if (state_ == StreamState::Done) {
    if (fd >= 0) close(fd);
    return;
  }
  if (fd < 0) {
    abort(code, "cannot connect: " + why, true);
    return;
  }
  // The job is done: free it (it holds a timer, an event and the address list) from the loop,
  // since this runs inside its callback.
  s_.loop().defer([job = std::shared_ptr<DialJob>(std::move(dial_))] {});
  attach(fd);
  state_ = StreamState::Open;
  std::string f;
  frame_open_ack(f, id_);
  s_.send_control(f);
  LOG_DEBUG("stream %u %s -> %s: connected", id_, label_.c_str(), target_.str().c_str());
  flush_local();
  update_read_interest();
}

void Stream::on_open_ack() {
  open_acked_ = true;
  if (state_ != StreamState::Opening) return;  // early mode: nothing to wait for
  state_ = StreamState::Open;
  open_timer_.stop();
  if (open_cb_) {
    OpenCallback cb = std::move(open_cb_);
    open_cb_ = nullptr;
    cb(0);
  }
  flush_local();
  update_read_interest();
}

void Stream::update_read_interest() {
  bool want = state_ == StreamState::Open && fd_ >= 0 && !local_eof_ && send_room() > 0 &&
              !s_.send_store_full(this);
  if (want)
    rev_.add();
  else
    rev_.del();
}

void Stream::on_readable() {
  bool got = false;
  for (int i = 0; i < READS_PER_EVENT && !local_eof_; i++) {
    size_t room = send_room();
    if (room == 0 || s_.send_store_full(this)) break;
    room = std::min(room, s_.send_store_room(this));  // reads never overshoot send-buffer
    size_t want = std::min(room, READ_CHUNK);
    // A stream whose buffer is small reads into a shared scratch buffer and keeps only what
    // arrived: 10,000 idle streams must not hold 64 KiB each. Bulk streams read in place, into
    // all the free space of their ring (up to its two runs) that the send room allows.
    static uint8_t scratch[READ_CHUNK];
    bool direct = sendbuf_.room() >= want;
    ssize_t n;
    if (direct) {
      want = std::min(room, sendbuf_.room());
      struct iovec iov[2];
      int k = sendbuf_.space_iov(want, iov);
      if (iov[0].iov_len >= want) {
        iov[0].iov_len = want;
        k = 1;
      } else if (k == 2) {
        iov[1].iov_len = std::min(iov[1].iov_len, want - iov[0].iov_len);
      }
      n = readv(fd_, iov, k);
    } else {
      n = read(fd_, scratch, want);
    }
    if (n > 0) {
      if (direct)
        sendbuf_.commit(size_t(n));
      else
        sendbuf_.append(scratch, size_t(n));
      s_.send_store_add(uint64_t(n));
      got = true;
      if (size_t(n) < want) break;
    } else if (n == 0) {
      local_eof_ = true;
      got = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      abort(uint32_t(ResetCode::Cancelled), std::string("local read: ") + strerror(errno), true);
      return;
    }
  }
  if (got) s_.stream_ready(this);
  update_read_interest();
}

bool Stream::has_sendable() const {
  if (state_ == StreamState::Done) return false;
  if (is_client_ && !open_sent_) return true;
  if (!resend_.empty()) return true;
  if (state_ != StreamState::Open) return false;
  if (read_total() > send_next_) return peer_max_ > send_next_;
  return local_eof_ && !fin_sent_;
}

void Stream::emit_data(Link &l, uint64_t at, size_t n, bool fin) {
  // The payload lies in the send ring as one run, or two where the ring wraps.
  size_t off = size_t(at - send_base_), run = 0, run2 = 0;
  uint8_t *src = n ? sendbuf_.at(off, &run) : nullptr;
  run = std::min(run, n);
  uint8_t *src2 = run < n ? sendbuf_.at(off + run, &run2) : nullptr;
  bool try_it = compress_ == CompressMode::On || (compress_ == CompressMode::Auto && at >= probe_at_);
  if (n >= LZ4_MIN_FRAME && try_it) {
    // COMPRESSED payload: raw length u16 | LZ4 block, worth it only if it saves 1/16. The
    // compressor needs its input in one piece: a wrapped payload is joined in scratch first.
    uint8_t flat[MAX_DATA_PAYLOAD], block[MAX_DATA_PAYLOAD];
    const uint8_t *in = src;
    if (run < n) {
      memcpy(flat, src, run);
      memcpy(flat + run, src2, n - run);
      in = flat;
    }
    size_t c = lz4_compress(in, n, block, n - n / 16 - 2);
    SessionStats &st = s_.stats();
    if (c) {
      uint8_t head[DATA_HEADER + 2];
      frame_data_header(head, id_, at, 2 + c, FLAG_COMPRESSED | (fin ? FLAG_FIN : 0));
      head[DATA_HEADER] = uint8_t(n >> 8);
      head[DATA_HEADER + 1] = uint8_t(n);
      l.put_frame(head, sizeof head, block, c);
      st.compressed_frames++;
      st.compress_saved += n - c - 2;
      misses_ = 0;
      return;
    }
    st.incompressible_frames++;
    if (compress_ == CompressMode::Auto && ++misses_ >= LZ4_AUTO_MISSES) {
      probe_at_ = at + n + LZ4_AUTO_REPROBE;
      misses_ = 0;
      st.compress_gave_up++;
      LOG_DEBUG("stream %u: data does not compress; trying again after %llu KiB", id_,
                (unsigned long long)(LZ4_AUTO_REPROBE >> 10));
    }
  }
  uint8_t head[DATA_HEADER];
  frame_data_header(head, id_, at, n, fin ? FLAG_FIN : 0);
  l.put_frame(head, sizeof head, src, run, src2, n - run, n ? sendbuf_.before(off) : 0);
}

bool Stream::produce(Link &l, uint64_t session_credit, SentRange &sent, bool &more) {
  more = false;
  if (state_ == StreamState::Done) return false;
  if (is_client_ && !open_sent_) {
    uint8_t flags = compress_ == CompressMode::On     ? FLAG_COMPRESS_ON
                    : compress_ == CompressMode::Auto ? FLAG_COMPRESS_AUTO
                                                      : 0;
    if (via_.empty()) {
      frame_open(l.batch(), id_, target_encode(target_), flags);
    } else {
      std::string body(1, char(via_.size()));
      frame_open(l.batch(), id_, body + via_ + target_encode(target_), flags | FLAG_VIA);
    }
    open_sent_ = true;
  }
  size_t max_payload = l.data_room();
  // Bytes stranded on a dead link go first; they were within credit when first sent.
  while (!resend_.empty()) {
    Resend &r = resend_.front();
    r.start = std::max(r.start, send_base_);
    if (r.start >= r.end && (!r.fin || send_done_)) {
      resend_.pop_front();
      continue;
    }
    size_t n = size_t(std::min<uint64_t>(r.end > r.start ? r.end - r.start : 0, max_payload));
    bool fin = r.fin && r.start + n == r.end;
    emit_data(l, r.start, n, fin);
    sent = SentRange{id_, r.start, r.start + n, fin};
    r.start += n;
    resent_ += n;
    if (r.start >= r.end) resend_.pop_front();
    more = has_sendable();
    return true;
  }
  if (state_ != StreamState::Open) return false;
  uint64_t unsent = read_total() - send_next_;
  uint64_t credit = peer_max_ > send_next_ ? peer_max_ - send_next_ : 0;
  size_t n = size_t(std::min<uint64_t>({unsent, credit, max_payload, session_credit}));
  bool fin = local_eof_ && !fin_sent_ && send_next_ + n == read_total();
  if (n == 0 && !fin) {
    // Blocked by credit (the session's, here): the stream keeps its place in the ready list
    // and goes on when the peer's ACK raises the limit.
    more = has_sendable();
    return false;
  }
  emit_data(l, send_next_, n, fin);
  sent = SentRange{id_, send_next_, send_next_ + n, fin};
  send_next_ += n;
  s_.account_sent(n);
  s_.stats().bytes_sent += n;
  if (fin) fin_sent_ = true;
  more = has_sendable();
  return true;
}

void Stream::requeue(uint64_t start, uint64_t end, bool fin) {
  if (state_ == StreamState::Done) return;
  if (is_client_ && !open_acked_) {
    // The OPEN may have died with the link: send it again, then everything not yet acked.
    if (!open_sent_) return;  // already rewound for this loss
    open_sent_ = false;
    link_id_ = 0;
    resend_.clear();
    if (send_next_ > send_base_ || fin_sent_) resend_.push_back(Resend{send_base_, send_next_, fin_sent_});
    s_.stream_ready(this);
    return;
  }
  start = std::max(start, send_base_);
  if (start >= end && !fin) return;
  resend_.push_back(Resend{start, end, fin});
  s_.stream_ready(this);
}

void Stream::reannounce() {
  if (state_ == StreamState::Done) return;
  std::string f;
  frame_ack(f, id_, recv_next_, granted_, recv_next_ == fin_at_ ? FLAG_FIN : 0);
  if (!is_client_ && state_ == StreamState::Open) frame_open_ack(f, id_);
  s_.send_control(f);
}

void Stream::on_ack(uint64_t delivered, uint64_t max_offset, bool fin_acked) {
  if (state_ == StreamState::Done) return;
  if (delivered > send_next_) {
    abort(uint32_t(ResetCode::Protocol), "peer acknowledged bytes never sent", true);
    return;
  }
  if (max_offset > peer_max_) {
    peer_max_ = max_offset;
    if (has_sendable()) s_.stream_ready(this);
    update_read_interest();  // a larger window lets us read further ahead
  }
  if (delivered > send_base_) {
    sendbuf_.consume(size_t(delivered - send_base_));
    s_.send_store_release(delivered - send_base_);
    send_base_ = delivered;
    if (sendbuf_.empty()) sendbuf_.clear();  // all acked: an idle stream holds no buffer
    else sendbuf_.fit();
    update_read_interest();
  }
  if (fin_acked && fin_sent_ && delivered == read_total()) {
    send_done_ = true;
    check_done();
  }
}

void Stream::on_data(uint64_t offset, const uint8_t *p, size_t n, bool fin, bool in_record) {
  if (state_ == StreamState::Done || recv_done_) return;
  uint64_t end = offset + n;
  if (fin) {
    if (fin_at_ != UINT64_MAX && fin_at_ != end) {
      abort(uint32_t(ResetCode::Protocol), "FIN moved", true);
      return;
    }
    fin_at_ = end;
  }
  if (end > fin_at_) {
    abort(uint32_t(ResetCode::Protocol), "data beyond the FIN", true);
    return;
  }
  if (end > granted_) {
    abort(uint32_t(ResetCode::FlowControl),
          "peer sent beyond its credit (" + std::to_string(end) + " > " + std::to_string(granted_) + ")",
          true);
    return;
  }
  if (end > highest_rx_) {
    s_.account_received(end - highest_rx_);
    highest_rx_ = end;
  }
  accept_bytes(offset, p, n, in_record);
  s_.stats().bytes_received += n;
  flush_local();
}

void Stream::accept_bytes(uint64_t offset, const uint8_t *p, size_t n, bool in_record) {
  uint64_t end = offset + n;
  if (end <= recv_next_) return;  // duplicate (resent after a link loss)
  if (offset > recv_next_) {
    std::string &slot = reorder_[offset];
    if (slot.size() < n) slot.assign(reinterpret_cast<const char *>(p), n);
    return;
  }
  size_t skip = size_t(recv_next_ - offset);
  p += skip;
  n -= skip;
  if (in_record && recvbuf_.empty() && fd_ >= 0 && state_ == StreamState::Open &&
      WriteBatch::active() && reorder_.empty()) {
    // Nothing queued before these bytes: they go to the socket from the decrypted record when
    // the link's batch ends, with the stream's other pieces of that batch in one writev.
    g_deferred.push_back(Deferred{this, p, n});
    deferred_ = true;
    recv_next_ = end;
    return;
  }
  undefer();  // bytes out of order may follow: what was deferred goes first
  if (recvbuf_.empty() && fd_ >= 0 && state_ == StreamState::Open) {
    // Nothing queued before these bytes: write them to the socket straight from the decrypted
    // record, and keep only what the socket did not take (flush_local reports errors).
    ssize_t w = write(fd_, p, n);
    if (w > 0) {
      p += w;
      n -= size_t(w);
      note_written(uint64_t(w));
    }
  }
  recvbuf_.append(p, n);
  recv_next_ = end;
  while (!reorder_.empty() && reorder_.begin()->first <= recv_next_) {
    auto it = reorder_.begin();
    uint64_t e = it->first + it->second.size();
    if (e > recv_next_) {
      size_t k = size_t(recv_next_ - it->first);
      recvbuf_.append(it->second.data() + k, it->second.size() - k);
      recv_next_ = e;
    }
    reorder_.erase(it);
  }
}

void Stream::flush_local() {
  if (fd_ < 0 || state_ != StreamState::Open || deferred_) return;  // deferred: at the batch end
  while (!recvbuf_.empty()) {
    ssize_t n = write(fd_, recvbuf_.data(), recvbuf_.size());
    if (n > 0) {
      recvbuf_.consume(size_t(n));
      note_written(uint64_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    abort(uint32_t(ResetCode::Cancelled), std::string("local write: ") + strerror(errno), true);
    return;
  }
  if (recvbuf_.empty()) {
    wev_.del();
    recvbuf_.clear();  // drained: an idle stream holds no buffer (10,000 of them, no 40 MiB)
  } else {
    wev_.add();
  }
  bool all_in = recv_next_ == fin_at_;
  maybe_ack(all_in);
  if (all_in && recvbuf_.empty() && !recv_done_) {
    shutdown(fd_, SHUT_WR);
    recv_done_ = true;
    check_done();
  }
}

void Stream::on_writable() { flush_local(); }

void Stream::maybe_ack(bool force) {
  if (!force && written_ + window_ - granted_ < window_ / 2) {
    if (recv_next_ > acked_rx_ && !ack_wanted_) {
      ack_wanted_ = true;
      s_.want_ack(this);
    }
    return;
  }
  // The application drained half a window within 2 x SRTT: the window is what limits the
  // stream, so double it (quic-go / rust-yamux rule), within the cap and the session budget.
  double now = s_.loop().now();
  if (!force && window_ < STREAM_WINDOW_MAX && now - window_t_ < 2 * s_.srtt_s() + 0.002 &&
      s_.may_grow_window(window_)) {
    window_ *= 2;
    LOG_DEBUG("stream %u: receive window now %llu KiB", id_, (unsigned long long)(window_ >> 10));
  }
  window_t_ = now;
  if (written_ + window_ > granted_) {
    s_.credit_granted(written_ + window_ - granted_);
    granted_ = written_ + window_;
  }
  send_ack();
}

void Stream::send_ack() {
  ack_wanted_ = false;
  if (state_ == StreamState::Done) return;
  acked_rx_ = recv_next_;
  std::string f;
  frame_ack(f, id_, recv_next_, granted_, recv_next_ == fin_at_ ? FLAG_FIN : 0);
  s_.send_control(f);
}

void Stream::check_done() {
  if (!send_done_ || !recv_done_ || state_ == StreamState::Done) return;
  state_ = StreamState::Done;
  rev_.reset();
  wev_.reset();
  close(fd_);
  fd_ = -1;
  LOG_DEBUG("stream %u %s -> %s: closed (%llu bytes out, %llu in)", id_, label_.c_str(),
            target_.str().c_str(), (unsigned long long)send_next_, (unsigned long long)written_);
  s_.loop().trim_soon();  // what it held goes back to the OS once the burst is over
  s_.stream_finished(this);
}

void Stream::on_reset(uint32_t code) {
  if (state_ == StreamState::Done) return;
  LOG_INFO("stream %u %s -> %s: reset by peer: %s", id_, label_.c_str(), target_.str().c_str(),
           reset_code_str(code));
  abort(code, "", false);
}

void Stream::on_stop_sending(uint32_t code) {
  abort(code, "peer stopped reading", true);
}

void Stream::note_written(uint64_t n) {
  written_ += n;
  s_.credit_written(n);
  s_.consumed(n);
}

void Stream::log_state() const {
  LOG_DEBUG("flow: stream %u state %d fd %d send base %llu next %llu read %llu cap %zu peer_max %llu "
            "resend %zu eof %d fin_sent %d done %d | recv next %llu written %llu granted %llu "
            "window %llu buffered %zu reorder %zu fin_at %lld done %d ready %d",
            id_, int(state_), fd_, (unsigned long long)send_base_, (unsigned long long)send_next_,
            (unsigned long long)read_total(), sendbuf_.capacity(), (unsigned long long)peer_max_, resend_.size(),
            local_eof_, fin_sent_, send_done_, (unsigned long long)recv_next_,
            (unsigned long long)written_, (unsigned long long)granted_,
            (unsigned long long)window_, recvbuf_.size(), reorder_.size(),
            fin_at_ == UINT64_MAX ? -1LL : (long long)fin_at_, recv_done_, in_ready_);
}

void Stream::abort(uint32_t code, const std::string &why, bool send_reset) {
  if (state_ == StreamState::Done) return;
  if (!why.empty())
    LOG_INFO("stream %u %s -> %s: %s", id_, label_.c_str(), target_.str().c_str(), why.c_str());
  control_event("stream_reset", "\"stream\":" + std::to_string(id_) + ",\"target\":" +
                                    json_str(target_.str()) + ",\"code\":" + std::to_string(code) +
                                    ",\"why\":" + json_str(why.empty() ? reset_code_str(code) : why));
  if (send_reset) {
    std::string f;
    frame_reset(f, id_, code, send_next_);
    s_.send_control(f);
    s_.stream_reset_sent(id_, code, send_next_);
  }
  bool was_opening = state_ == StreamState::Opening;
  state_ = StreamState::Done;
  open_timer_.stop();
  rev_.reset();
  wev_.reset();
  if (was_opening && open_cb_) {
    // The application has not been told "connected": it gets a protocol error reply instead.
    OpenCallback cb = std::move(open_cb_);
    open_cb_ = nullptr;
    cb(code);
    if (fd_ >= 0) close(fd_);
  } else if (fd_ >= 0) {
    close_rst(fd_);
  }
  fd_ = -1;
  s_.loop().trim_soon();  // what it held goes back to the OS once the burst is over
  s_.stream_finished(this);
}

}  // namespace braid
