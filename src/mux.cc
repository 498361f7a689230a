// SPDX-License-Identifier: MIT
// Session: stream table, frame dispatch, session credit, scheduling onto links.
#include "braid/mux.h"

#include <algorithm>

#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/control.h"
#include "braid/log.h"
#include "braid/sched.h"

namespace braid {

Session::Session(Loop &loop, Role role, uint64_t id, SessionHost *host, const Acl *acl,
                 std::string peer)
    : loop_(loop), role_(role), id_(id), host_(host), acl_(acl), peer_(std::move(peer)),
      next_id_(role == Role::Client ? 1 : 2), created_(loop.now()), peer_max_data_(SESSION_WINDOW),
      granted_(SESSION_WINDOW) {
  pump_timer_.set(loop_, [this] {
    pump_armed_ = false;
    pump();
  });
  ack_timer_.set(loop_, [this] {
    std::vector<uint32_t> ids;
    ids.swap(ack_pending_);
    for (uint32_t id : ids)
      if (Stream *st = find(id)) st->send_ack();
    if (session_ack_wanted_) send_session_ack();
  });
  resume_timer_.set(loop_, [this] {
    shutdown("no link came back within " + std::to_string(resume_timeout_) + " s (resume-timeout)");
  });
}

Session::~Session() = default;

void Session::add_link(std::unique_ptr<Link> l) {
  l->set_owner(this);
  control_event("link_up", "\"link\":" + std::to_string(l->id()) + ",\"peer\":" + json_str(l->name()));
  bool resumed = links_.empty() && resume_timer_.armed();
  links_.push_back(std::move(l));
  if (resumed) {
    resume_timer_.stop();
    LOG_INFO("session %016llx: resumed with %zu open streams", (unsigned long long)id_,
             streams_.size());
    char sid[24];
    snprintf(sid, sizeof sid, "%016llx", (unsigned long long)id_);
    control_event("session_resumed", "\"session\":\"" + std::string(sid) + "\",\"streams\":" +
                                         std::to_string(streams_.size()));
    // What the other side holds is unknown: absolute ACKs let it free and resend precisely.
    for (auto &kv : streams_) kv.second->reannounce();
  }
  schedule_pump();
}

Link *Session::link_by_id(int id) const {
  for (auto &l : links_)
    if (l->id() == id) return l.get();
  return nullptr;
}

size_t Session::links_up() const {
  size_t n = 0;
  for (auto &l : links_) n += l->up() && !l->dead();
  return n;
}

bool Session::open_stream(int fd, const Target &t, const std::string &label, bool early,
                          OpenCallback cb, const std::string &via) {
  if (down_ || streams_.size() >= max_streams_ || next_id_ > 0x7ffffff0u) return false;
  uint32_t id = next_id_;
  next_id_ += 2;
  auto st = std::make_unique<Stream>(*this, id, t, label);
  Stream *p = st.get();
  p->set_compress(compress_);
  p->set_via(via);
  streams_.emplace(id, std::move(st));
  stats_.streams_total++;
  credit_out_ += STREAM_WINDOW;  // the implicit initial credit of every stream
  rebalance_windows();
  p->start_client(fd, early, std::move(cb));
  return true;
}

void Session::send_control(const std::string &frames) {
  control_ += frames;
  schedule_pump();
}

void Session::stream_ready(Stream *st) {
  if (!st->in_ready_) {
    st->in_ready_ = true;
    ready_.push_back(st);
  }
  schedule_pump();
}

void Session::stream_finished(Stream *st) {
  auto it = streams_.find(st->id());
  if (it == streams_.end()) return;
  // Bytes that arrived but were never written still return their session credit.
  if (st->highest_received() > st->written()) consumed(st->highest_received() - st->written());
  if (st->in_ready_) ready_.erase(std::remove(ready_.begin(), ready_.end(), st), ready_.end());
  send_store_release(st->buffered());
  credit_out_ -= std::min(credit_out_, st->granted_ - std::min(st->granted_, st->written()));
  uint64_t grown = st->window() - STREAM_WINDOW;
  window_growth_ -= std::min(window_growth_, grown);
  // Never free a stream inside its own callback: hand it to the loop.
  std::shared_ptr<Stream> dead(it->second.release());
  streams_.erase(it);
  loop_.defer([dead] {});
}

void Session::log_stats() const {
  LOG_INFO("stats: session %016llx peer %s links_up %zu streams_open %zu streams_total %llu "
           "bytes_sent %llu bytes_received %llu resent_bytes %llu compressed_frames %llu "
           "incompressible_frames %llu compress_saved %llu compress_gave_up %llu "
           "datagrams_dropped %llu",
           (unsigned long long)id_, peer_.c_str(), links_up(), streams_.size(),
           (unsigned long long)stats_.streams_total, (unsigned long long)stats_.bytes_sent,
           (unsigned long long)stats_.bytes_received, (unsigned long long)stats_.resent_bytes,
           (unsigned long long)stats_.compressed_frames,
           (unsigned long long)stats_.incompressible_frames,
           (unsigned long long)stats_.compress_saved, (unsigned long long)stats_.compress_gave_up,
           (unsigned long long)datagrams_dropped_);
  for (auto &l : links_)
    LOG_INFO("stats: link %d peer %s state %s rtt_ms %.1f rate_mbps %.1f bytes_sent %llu "
             "bytes_received %llu resent_bytes %llu",
             l->id(), l->name().c_str(), l->suspect() ? "suspect" : "up", l->srtt_ms(),
             l->rate() * 8 / 1e6, (unsigned long long)l->bytes_out(),
             (unsigned long long)l->bytes_in(), (unsigned long long)l->resent_bytes);
  // Flow-control state, for diagnosing a stall (verbose >= 2).
  LOG_DEBUG("flow: session %016llx credit tx %llu/%llu rx %llu consumed %llu granted %llu "
            "send_store %llu/%llu waiters %zu ready %zu control %zu",
            (unsigned long long)id_, (unsigned long long)tx_total_,
            (unsigned long long)peer_max_data_, (unsigned long long)rx_total_,
            (unsigned long long)consumed_, (unsigned long long)granted_,
            (unsigned long long)send_buffered_, (unsigned long long)send_cap_,
            send_waiters_.size(), ready_.size(), control_.size());
  for (auto &kv : streams_) kv.second->log_state();
}

size_t Session::send_store_room(Stream *st) const {
  if (send_buffered_ < send_cap_) return size_t(send_cap_ - send_buffered_);
  return st->buffered() < MAX_DATA_PAYLOAD ? size_t(MAX_DATA_PAYLOAD - st->buffered()) : 0;
}

bool Session::send_store_full(Stream *st) {
  // Every stream may keep one frame's worth whatever the others hold, so streams nobody reads
  // cannot starve the rest of the session (the cap then overshoots by at most that per stream).
  if (send_buffered_ < send_cap_ || st->buffered() < MAX_DATA_PAYLOAD) return false;
  if (send_waiters_.size() < streams_.size() + 1) send_waiters_.push_back(st->id());
  return true;
}

void Session::send_store_release(uint64_t n) {
  send_buffered_ -= std::min(send_buffered_, n);
  if (send_waiters_.empty() || send_buffered_ > send_cap_ * 3 / 4) return;
  std::vector<uint32_t> wake;
  wake.swap(send_waiters_);
  for (uint32_t id : wake)
    if (Stream *st = find(id)) st->resume_reading();
}

uint32_t Session::open_assoc(DatagramSink *sink) {
  if (down_ || sinks_.size() >= MAX_UDP_ASSOC || next_id_ > 0x7ffffff0u) return 0;
  uint32_t id = next_id_;
  next_id_ += 2;
  sinks_[id] = sink;
  return id;
}

void Session::close_assoc(uint32_t id, const std::string &why) {
  std::string f;
  frame_reset(f, id, uint32_t(ResetCode::Cancelled), 0);
  send_control(f);
  sinks_.erase(id);
  auto it = assocs_.find(id);
  if (it == assocs_.end()) return;
  closed_assocs_.push_back(id);
  if (closed_assocs_.size() > 1024) closed_assocs_.pop_front();
  LOG_DEBUG("session %016llx: udp association %u closed: %s", (unsigned long long)id_, id, why.c_str());
  std::shared_ptr<UdpAssoc> dead(it->second.release());
  assocs_.erase(it);
  loop_.defer([dead] {});
}

void Session::send_datagram(uint32_t id, const Target &addr, const uint8_t *p, size_t n,
                            uint8_t flags) {
  if (down_ || control_.size() > DATAGRAM_QUEUE_MAX ||
      !frame_datagram(control_, id, target_encode(addr), p, n, flags)) {
    datagrams_dropped_++;
    return;
  }
  schedule_pump();
}

void Session::on_datagram(const Frame &f) {
  uint32_t id = f.h.stream;
  Target t;
  size_t used = 0;
  if (target_decode(f.body, f.h.len, t, &used) != AddrParse::Ok) return;  // UDP: drop quietly
  const uint8_t *p = f.body + used;
  size_t n = f.h.len - used;
  if (role_ == Role::Client) {
    auto it = sinks_.find(id);
    if (it != sinks_.end()) it->second->on_datagram(t, p, n, f.h.flags);
    return;
  }
  auto it = assocs_.find(id);
  if (it == assocs_.end()) {
    // A client's association starts with its first DATAGRAM; ids of streams and of closed
    // associations (a late datagram) do not start one.
    bool closed = std::find(closed_assocs_.begin(), closed_assocs_.end(), id) != closed_assocs_.end();
    if ((id & 1) != 1 || !acl_ || find(id) || closed || assocs_.size() >= MAX_UDP_ASSOC) {
      datagrams_dropped_++;
      return;
    }
    missing_.erase(id);  // association ids come from the same counter as stream ids
    it = assocs_.emplace(id, std::make_unique<UdpAssoc>(*this, id, *acl_, dns_upstream_)).first;
  }
  it->second->send(t, p, n, f.h.flags);
}

std::string Session::json_links() const {
  std::string o;
  char buf[512];
  for (auto &l : links_) {
    snprintf(buf, sizeof buf,
             "{\"id\":%d,\"server\":%s,\"session\":\"%016llx\",\"state\":\"%s\",\"rtt_ms\":%.1f,"
             "\"rate_mbps\":%.1f,\"bytes_sent\":%llu,\"bytes_received\":%llu,\"resent_bytes\":%llu}",
             l->id(), json_str(l->name()).c_str(), (unsigned long long)id_,
             l->suspect() ? "suspect" : "up", l->srtt_ms(), l->rate() * 8 / 1e6,
             (unsigned long long)l->bytes_out(), (unsigned long long)l->bytes_in(),
             (unsigned long long)l->resent_bytes);
    o += (o.empty() ? "" : ",") + std::string(buf);
  }
  return o;
}

std::string Session::json_streams() const {
  std::string o;
  char buf[256];
  for (auto &kv : streams_) {
    const Stream &st = *kv.second;
    std::string links;
    for (int i = 0; i < 64; i++)
      if (st.links_used() & (1ULL << i)) links += (links.empty() ? "" : ",") + std::to_string(i);
    snprintf(buf, sizeof buf, ",\"state\":\"%s\",\"bytes_sent\":%llu,\"bytes_received\":%llu,\"links\":[%s]}",
             st.state() == StreamState::Opening ? "opening" : st.state() == StreamState::Open ? "open" : "closing",
             (unsigned long long)st.bytes_sent(), (unsigned long long)st.written(), links.c_str());
    o += (o.empty() ? "" : ",") + std::string("{\"id\":") + std::to_string(st.id()) +
         ",\"target\":" + json_str(st.target().str()) + ",\"listener\":" + json_str(st.label()) + buf;
  }
  return o;
}

double Session::srtt_s() const {
  double best = 0;
  for (auto &l : links_)
    if (l->up() && l->srtt_ms() > 0 && (best == 0 || l->srtt_ms() < best)) best = l->srtt_ms();
  return best / 1000;
}

bool Session::may_grow_window(uint64_t cur) {
  if (window_growth_ + cur + streams_.size() * STREAM_WINDOW > SESSION_WINDOW * 3 / 4) return false;
  window_growth_ += cur;
  return true;
}

void Session::stream_reset_sent(uint32_t id, uint32_t code, uint64_t final_size) {
  double now = loop_.now();
  while (!recent_resets_.empty() && now - recent_resets_.front().at > 10) recent_resets_.pop_front();
  if (recent_resets_.size() < MAX_STREAMS_PER_SESSION) recent_resets_.push_back({id, code, final_size, now});
}

void Session::want_ack(Stream *st) {
  ack_pending_.push_back(st->id());
  if (!ack_timer_.armed()) ack_timer_.start(ACK_DELAY_S);
}

uint64_t Session::grant_target() const {
  // Streams nobody reads hold at most the stream credit they were given (credit_out_). While
  // that sum is near the session window, those bytes could fill it and starve the stream that
  // is being read (seen: 50 unread streams, 20 MiB of credit granted while their sockets still
  // drained). So the session grants a quarter window beyond the outstanding stream credit, up
  // to twice the window: what a session can make us hold stays bounded, and a stream being
  // read always finds session credit unless more than 1.75 windows of credit sit unread.
  uint64_t want = std::min(credit_out_ + SESSION_WINDOW / 4, 2 * SESSION_WINDOW);
  return consumed_ + std::max(SESSION_WINDOW, want);
}

void Session::consumed(uint64_t n) {
  consumed_ += n;
  // Granted in steps of 1/16 window at once, and whatever was consumed within ACK_DELAY_S
  // otherwise: bytes parked for streams nobody reads must not hold back the credit that the
  // one stream being read frees, however little it needs (50 unread streams stalled a
  // session with half-window steps, and again with 1 MiB steps when the reader needed 19 KiB).
  if (grant_target() < granted_ + SESSION_WINDOW / 16) {
    session_ack_wanted_ = true;
    if (!ack_timer_.armed()) ack_timer_.start(ACK_DELAY_S);
    return;
  }
  send_session_ack();
}

void Session::send_session_ack() {
  session_ack_wanted_ = false;
  uint64_t target = grant_target();
  if (target <= granted_) return;
  granted_ = target;
  std::string f;
  frame_ack(f, 0, consumed_, granted_);
  send_control(f);
}

void Session::rebalance_windows() {
  // Windows grown while few streams were open must make room for the streams opened since:
  // the sum of receive windows stays within 3/4 of the session window (as far as the fixed
  // initial windows allow), or streams nobody reads could hold all of it and starve the one
  // being read (seen: 7 early streams grown to 1-2 MiB each, 43 more at 256 KiB, none read).
  // Shrinking applies to later grants; credit already granted stands.
  while (window_growth_ > 0 && window_growth_ + streams_.size() * STREAM_WINDOW > SESSION_WINDOW * 3 / 4) {
    Stream *big = nullptr;
    for (auto &kv : streams_)
      if (!big || kv.second->window_ > big->window_) big = kv.second.get();
    if (!big || big->window_ <= STREAM_WINDOW) break;
    big->window_ /= 2;
    window_growth_ -= std::min(window_growth_, big->window_);
  }
}

uint64_t Session::session_send_credit() const {
  return peer_max_data_ > tx_total_ ? peer_max_data_ - tx_total_ : 0;
}

void Session::schedule_pump() {
  if (pump_armed_ || down_) return;
  pump_armed_ = true;
  pump_timer_.start(0);
}

void Session::pump() {
  // Each round offers every writable link, best first, a batch of frames (up to
  // LINK_OUT_HIGH) and hands it to TLS and the socket. A bounded number of rounds per call
  // keeps one busy session from starving other events.
  for (auto &l : links_) trim_carried(*l);
  for (int round = 0; round < 16; round++) {
    std::vector<Link *> order = sched_order(links_);
    bool progress = false;
    for (size_t i = 0; i < order.size(); i++) progress |= fill(*order[i], i == 0);
    if (!progress || ready_.empty()) return;
  }
  schedule_pump();
}

// Fills one link from the ready streams that may use it; true if it sent anything.
bool Session::fill(Link &l, bool first) {
  bool sent = false;
  if (first && !control_.empty()) {
    sent = true;
    l.batch() += control_;
    control_.clear();
  }
  // Round robin, one frame per turn: a bulk stream cannot starve the small ones. Streams that
  // may not use this link, or that are blocked by session credit, keep their place.
  size_t turns = ready_.size();
  while (turns-- > 0 && !ready_.empty() && l.writable()) {
    Stream *st = ready_.front();
    ready_.pop_front();
    Link *home = st->link_id() ? link_by_id(st->link_id()) : nullptr;
    if (!sched_may_use(*st, l, home)) {
      ready_.push_back(st);
      continue;
    }
    if (!home || home->dead() || home->suspect()) st->set_link(l.id());
    SentRange r{};
    bool more = false;
    uint64_t size0 = l.queued();
    uint64_t resent0 = st->resent();
    if (st->produce(l, session_send_credit(), r, more)) {
      l.carried.push_back(r);
      l.carried_bytes += r.end - r.start;
      st->note_link(l.id());
      l.resent_bytes += st->resent() - resent0;
      stats_.resent_bytes += st->resent() - resent0;
    }
    sent |= l.queued() != size0;
    if (more) {
      ready_.push_back(st);
      if (l.queued() != size0) turns++;  // it may take another turn on this link
    } else {
      st->in_ready_ = false;
    }
  }
  l.flush();
  return sent;
}

void Session::trim_carried(Link &l) {
  while (!l.carried.empty()) {
    const SentRange &r = l.carried.front();
    Stream *st = find(r.stream);
    if (st && !st->acked_through(r.end, r.fin)) break;
    l.carried_bytes -= std::min(l.carried_bytes, r.end - r.start);
    l.carried.pop_front();
  }
}

void Session::on_link_writable(Link &) { schedule_pump(); }

Stream *Session::find(uint32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Session::protocol_error(Link &l, const std::string &why) {
  LOG_ERROR("session %016llx link %d (%s): protocol error: %s; closing the link",
            (unsigned long long)id_, l.id(), l.name().c_str(), why.c_str());
  std::string f;
  frame_goaway(f, highest_peer_, uint32_t(GoAwayCode::Protocol));
  l.batch() += f;
  l.close("protocol error");
}

void Session::on_open(const Frame &f) {
  uint32_t id = f.h.stream;
  bool peer_parity = role_ == Role::Server ? (id & 1) == 1 : (id & 1) == 0;
  if (!peer_parity) {
    std::string rst;
    frame_reset(rst, id, uint32_t(ResetCode::Protocol), 0);
    send_control(rst);
    return;
  }
  // A seen id is a duplicate OPEN (resent after a link loss): drop it quietly.
  if (peer_opened(id)) return;
  if (id > highest_peer_) {
    // Ids the peer skipped may still arrive on a slower link; remember them (bounded).
    // The oldest are forgotten first: an OPEN that late was lost, not delayed.
    for (uint32_t gap = std::max(highest_peer_ + 2, id > 2 * MAX_MISSING_IDS ? id - 2 * MAX_MISSING_IDS : 1);
         gap < id; gap += 2) {
      missing_.insert(gap);
      if (missing_.size() > MAX_MISSING_IDS) missing_.erase(missing_.begin());
    }
    highest_peer_ = id;
  } else {
    missing_.erase(id);
  }
  Target t;
  size_t used = 0, skip = 0;
  std::string rst, via;
  if (f.h.flags & FLAG_VIA) {
    // len u8 | client name, then the target.
    skip = 1 + size_t(f.body[0]);
    if (f.body[0] == 0 || skip + 4 > f.h.len) skip = f.h.len;
    else via.assign(reinterpret_cast<const char *>(f.body + 1), f.body[0]);
  }
  if (skip >= f.h.len || target_decode(f.body + skip, f.h.len - skip, t, &used) != AddrParse::Ok ||
      skip + used != f.h.len) {
    frame_reset(rst, id, uint32_t(ResetCode::AddressUnsupported), 0);
  } else if (streams_.size() >= max_streams_) {
    LOG_INFO("session %016llx: stream %u to %s refused: %zu streams open (max-streams)",
             (unsigned long long)id_, id, t.str().c_str(), streams_.size());
    frame_reset(rst, id, uint32_t(ResetCode::SessionLimit), 0);
  }
  if (!rst.empty()) {
    send_control(rst);
    return;
  }
  auto st = std::make_unique<Stream>(*this, id, t, via.empty() ? peer_ : via + " via " + peer_);
  Stream *p = st.get();
  p->set_compress(f.h.flags & FLAG_COMPRESS_ON     ? CompressMode::On
                  : f.h.flags & FLAG_COMPRESS_AUTO ? CompressMode::Auto
                                                   : CompressMode::Off);
  p->set_via(via);
  streams_.emplace(id, std::move(st));
  stats_.streams_total++;
  credit_out_ += STREAM_WINDOW;  // the implicit initial credit of every stream
  rebalance_windows();
  if (role_ == Role::Server && via.empty()) {
    p->start_server(*acl_);
    return;
  }
  uint32_t code = host_->on_peer_open(*this, *p, via);
  if (code) p->abort(code, "", true);
}

void Session::on_link_frame(Link &l, const Frame &f) {
  FrameType type = FrameType(f.h.type);
  if (type == FrameType::Open) {
    on_open(f);
    return;
  }
  if (type == FrameType::Ack && f.h.stream == 0) {
    uint64_t max = get_u64(f.body + 8);
    if (max > peer_max_data_) {
      peer_max_data_ = max;
      schedule_pump();
    }
    return;
  }
  if (type == FrameType::Datagram) {
    on_datagram(f);
    return;
  }
  if (type == FrameType::Listen) {
    host_->on_listen(*this, f);
    return;
  }
  if (type == FrameType::Reset && (assocs_.count(f.h.stream) || sinks_.count(f.h.stream))) {
    auto it = sinks_.find(f.h.stream);
    DatagramSink *sink = it == sinks_.end() ? nullptr : it->second;
    sinks_.erase(f.h.stream);
    auto a = assocs_.find(f.h.stream);
    if (a != assocs_.end()) {
      closed_assocs_.push_back(f.h.stream);
      if (closed_assocs_.size() > 1024) closed_assocs_.pop_front();
      std::shared_ptr<UdpAssoc> dead(a->second.release());
      assocs_.erase(a);
      loop_.defer([dead] {});
    }
    if (sink) sink->on_assoc_closed();
    return;
  }
  if (type == FrameType::GoAway) {
    uint32_t code = get_u32(f.body + 4);
    LOG_INFO("session %016llx: peer is going away (code %u)", (unsigned long long)id_, code);
    if (code == uint32_t(GoAwayCode::Normal)) shutdown("the peer closed the session");
    return;
  }
  if (type == FrameType::Hello || type == FrameType::HelloAck) {
    protocol_error(l, "HELLO on an established link");
    return;
  }
  Stream *st = find(f.h.stream);
  if (!st) {
    // A closed stream's late frames are dropped; their bytes still count as received and
    // consumed so session credit does not leak.
    if (type == FrameType::Data && f.payload_len) {
      account_received(f.payload_len);
      consumed(f.payload_len);
    }
    // A FIN sent again after a link loss, for a stream we already finished: everything up to
    // it arrived (or we would not have finished), so confirm it and let the sender finish too.
    if (type == FrameType::Data && (f.h.flags & FLAG_FIN) && peer_finished(f.h.stream)) {
      std::string ack;
      uint64_t end = f.offset + f.payload_len;
      frame_ack(ack, f.h.stream, end, end, FLAG_FIN);
      send_control(ack);
    }
    return;
  }
  switch (type) {
    case FrameType::Data:
      if (f.h.flags & FLAG_COMPRESSED) {
        // Bounded: the announced raw length is at most one frame's payload, and LZ4 must
        // produce exactly that many bytes.
        uint8_t raw[MAX_DATA_PAYLOAD];
        size_t raw_len = f.payload_len >= 2 ? get_u16(f.payload) : 0;
        if (f.payload_len < 3 || raw_len == 0 || raw_len > MAX_DATA_PAYLOAD ||
            !lz4_decompress(f.payload + 2, f.payload_len - 2, raw, raw_len)) {
          protocol_error(l, "bad compressed DATA on stream " + std::to_string(f.h.stream));
          return;
        }
        st->on_data(f.offset, raw, raw_len, f.h.flags & FLAG_FIN, false);
      } else {
        st->on_data(f.offset, f.payload, f.payload_len, f.h.flags & FLAG_FIN, true);
      }
      if (rx_total_ > granted_) protocol_error(l, "peer exceeded the session window");
      break;
    case FrameType::OpenAck: st->on_open_ack(); break;
    case FrameType::Ack:
      st->on_ack(get_u64(f.body), get_u64(f.body + 8), f.h.flags & FLAG_FIN);
      break;
    case FrameType::Reset: {
      uint64_t final_size = get_u64(f.body + 4);
      if (final_size > st->highest_received()) account_received(final_size - st->highest_received());
      st->on_reset(get_u32(f.body));
      break;
    }
    case FrameType::StopSending: st->on_stop_sending(get_u32(f.body)); break;
    default: break;
  }
}

void Session::strand(Link &l) {
  size_t ranges = l.carried.size();
  for (const SentRange &r : l.carried)
    if (Stream *st = find(r.stream)) st->requeue(r.start, r.end, r.fin);
  l.carried.clear();
  l.carried_bytes = 0;
  // Control frames may have died with the link; all of them are safe to repeat.
  for (auto &kv : streams_) kv.second->reannounce();
  std::string f;
  frame_ack(f, 0, consumed_, granted_);
  for (const RecentReset &rr : recent_resets_) frame_reset(f, rr.id, rr.code, rr.final_size);
  control_ += f;
  LOG_DEBUG("session %016llx: link %d stranded %zu ranges", (unsigned long long)id_, l.id(), ranges);
  schedule_pump();
}

void Session::on_link_suspect(Link &l) { strand(l); }

void Session::on_link_down(Link &l, const std::string &why) {
  LOG_INFO("link %d (%s): down: %s", l.id(), l.name().c_str(), why.c_str());
  control_event("link_down", "\"link\":" + std::to_string(l.id()) + ",\"peer\":" + json_str(l.name()) +
                                  ",\"why\":" + json_str(why));
  auto it = std::find_if(links_.begin(), links_.end(), [&](auto &p) { return p.get() == &l; });
  if (it == links_.end()) return;
  strand(l);
  std::shared_ptr<Link> dead(it->release());
  links_.erase(it);
  loop_.defer([dead] {});
  if (down_) return;
  if (!links_.empty()) {
    host_->on_link_lost(*this);
    return;
  }
  LOG_INFO("session %016llx: no link left; %zu streams wait up to %d s for one", (unsigned long long)id_,
           streams_.size(), resume_timeout_);
  resume_timer_.start(resume_timeout_);
  host_->on_session_detached(*this, why);
}

void Session::shutdown(const std::string &why) {
  if (down_) return;
  down_ = true;
  pump_timer_.stop();
  resume_timer_.stop();
  std::vector<uint32_t> ids;
  for (auto &kv : streams_) ids.push_back(kv.first);
  if (!ids.empty())
    LOG_INFO("session %016llx: resetting %zu open streams: %s", (unsigned long long)id_,
             ids.size(), why.c_str());
  for (uint32_t id : ids)
    if (Stream *st = find(id)) st->abort(uint32_t(ResetCode::LinkLost), "reset: " + why, false);
  auto sinks = std::move(sinks_);
  sinks_.clear();
  for (auto &kv : sinks) kv.second->on_assoc_closed();
  auto assocs = std::make_shared<decltype(assocs_)>(std::move(assocs_));
  assocs_.clear();
  loop_.defer([assocs] {});
  // Closing a link calls back into on_link_down; take them out of the table first.
  auto links = std::make_shared<std::vector<std::unique_ptr<Link>>>(std::move(links_));
  links_.clear();
  // A peer that hears GOAWAY Normal ends the session at once instead of keeping it for a
  // resume that will not come (a stopped client's listeners and relays go with it).
  std::string bye;
  frame_goaway(bye, highest_peer_, uint32_t(GoAwayCode::Normal));
  for (auto &l : *links) {
    if (l->up()) l->batch() += bye;
    l->close("session closed");
  }
  loop_.defer([links] {});
  host_->on_session_down(*this, why);
}

}  // namespace braid
