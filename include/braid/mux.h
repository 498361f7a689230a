// SPDX-License-Identifier: MIT
// Owns a session: everything one client and the server share over their links. The stream
// table (client ids odd, server ids even, never reused), frame dispatch by type, session-level
// credit, the control-frame queue and the hand-off of sendable streams to the scheduler.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "braid/addr.h"
#include "braid/config.h"
#include "braid/link.h"
#include "braid/loop.h"
#include "braid/stream.h"
#include "braid/udp.h"

namespace braid {

class Session;
class Acl;

class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The session is over (resume timeout, shutdown); every stream was reset. The host frees
  // it later (not from inside this call).
  virtual void on_session_down(Session &s, const std::string &why) = 0;
  // A link died and others remain (the client dials a replacement).
  virtual void on_link_lost(Session &) {}
  // The last link died: streams wait up to the resume timeout for a link to come back.
  virtual void on_session_detached(Session &, const std::string &) {}
  // The peer opened st where the session cannot dial by itself: an OPEN naming a peer client
  // (server, `via` = that client), or a stream the server opened (client; `via` = the client
  // it comes from, empty for a remote forward). Returns 0 once the host has taken the stream
  // over (it calls st.start_server or st.complete_open), else the ResetCode that refuses it.
  virtual uint32_t on_peer_open(Session &, Stream &, const std::string & /*via*/) {
    return uint32_t(ResetCode::NotAllowed);
  }
  // A LISTEN frame (remote forwards): request or cancel on the server, reply on the client.
  virtual void on_listen(Session &, const Frame &) {}
};

struct SessionStats {
  uint64_t streams_total = 0;
  uint64_t bytes_sent = 0, bytes_received = 0, resent_bytes = 0;
  uint64_t compressed_frames = 0, incompressible_frames = 0, compress_saved = 0, compress_gave_up = 0;
};

class Session : public LinkOwner {
 public:
  Session(Loop &loop, Role role, uint64_t id, SessionHost *host, const Acl *acl, std::string peer);
  ~Session() override;

  Loop &loop() { return loop_; }
  Role role() const { return role_; }
  uint64_t id() const { return id_; }
  const std::string &peer() const { return peer_; }
  bool alive() const { return !down_; }
  double created() const { return created_; }  // loop time
  size_t stream_count() const { return streams_.size(); }
  void set_max_streams(size_t n) { max_streams_ = n; }

  // Joins a link to the session (a new session's first link, a join, or a resume).
  void add_link(std::unique_ptr<Link> l);
  size_t links_up() const;
  size_t link_count() const { return links_.size(); }
  const std::vector<std::unique_ptr<Link>> &links() const { return links_; }
  const std::unordered_map<uint32_t, std::unique_ptr<Stream>> &streams() const { return streams_; }
  // Seconds a session without links waits for one before resetting its streams.
  void set_resume_timeout(int s) { resume_timeout_ = s; }
  const std::string &join_token() const { return join_token_; }
  const std::string &client() const { return client_; }
  void set_client(std::string name) { client_ = std::move(name); }
  void set_join_token(std::string t) { join_token_ = std::move(t); }
  // Opens a stream for fd to target (client ids odd, server ids even: remote and peer
  // forwards). `via`: the client name its OPEN carries (peer forwards). Returns false (and
  // leaves fd alone) if the session cannot take one more stream.
  bool open_stream(int fd, const Target &t, const std::string &label, bool early, OpenCallback cb,
                   const std::string &via = "");
  Stream *stream(uint32_t id) { return find(id); }
  // Resets every stream and closes every link; on_session_down follows.
  void shutdown(const std::string &why);

  // --- UDP associations ---
  // Client: a new association for sink; returns its id (0 if the session cannot take one).
  uint32_t open_assoc(DatagramSink *sink);
  // Either side: ends an association (RESET to the peer); safe from its own callbacks.
  void close_assoc(uint32_t id, const std::string &why);
  // Queues a DATAGRAM; dropped (and counted) when the queue is full or it does not fit.
  void send_datagram(uint32_t id, const Target &addr, const uint8_t *p, size_t n, uint8_t flags);
  void set_dns_upstream(const Target &t) { dns_upstream_ = t; }
  void set_compress(CompressMode m) { compress_ = m; }  // client: mode of new streams
  uint64_t datagrams_dropped() const { return datagrams_dropped_; }

  // --- used by streams ---
  void send_control(const std::string &frames);  // queued ahead of data
  void stream_ready(Stream *st);                 // has data and credit to send
  void stream_finished(Stream *st);              // both halves done or reset; freed later
  void stream_reset_sent(uint32_t id, uint32_t code, uint64_t final_size);
  void consumed(uint64_t n);                     // n bytes written to a local socket
  // Stream credit outstanding (granted to the peer, not yet written out), summed over streams.
  void credit_granted(uint64_t n) { credit_out_ += n; }
  void credit_written(uint64_t n) { credit_out_ -= std::min(credit_out_, n); }
  // The stream received bytes it has not acknowledged: an ACK follows within ACK_DELAY_S, so
  // the sender can free what it keeps for resending even if the window never half-drains.
  void want_ack(Stream *st);
  // Resend store accounting: bytes streams hold until acked, capped per session.
  void set_send_cap(uint64_t bytes) { send_cap_ = bytes; }
  bool send_store_full(Stream *st);  // true: st stops reading and is woken when room returns
  size_t send_store_room(Stream *st) const;  // bytes st may read now without passing the cap
  void send_store_add(uint64_t n) { send_buffered_ += n; }
  void send_store_release(uint64_t n);
  void account_received(uint64_t n) { rx_total_ += n; }
  uint64_t session_send_credit() const;
  void account_sent(uint64_t n) { tx_total_ += n; }
  SessionStats &stats() { return stats_; }
  void log_stats() const;  // one line for the session, one per link
  // JSON pieces for the control socket (fields as DESIGN.md 2 and braid.8 list them).
  std::string json_links() const;    // comma-separated link objects
  std::string json_streams() const;  // comma-separated stream objects
  double srtt_s() const;  // smallest SRTT over live links, seconds (0 before any probe)
  // True if a stream may double its receive window from `cur` without the sum of windows
  // outgrowing 3/4 of the session window (the memory a peer can make us hold).
  bool may_grow_window(uint64_t cur);
  const SessionStats &stats() const { return stats_; }

  // LinkOwner
  void on_link_up(Link &) override {}
  void on_link_frame(Link &l, const Frame &f) override;
  void on_link_writable(Link &l) override;
  void on_link_down(Link &l, const std::string &why) override;
  void on_link_suspect(Link &l) override;
  void on_link_bad_frame(Link &l, const std::string &why) override { protocol_error(l, why); }

 private:
  Loop &loop_;
  Role role_;
  uint64_t id_;
  SessionHost *host_;
  const Acl *acl_;
  std::string peer_;
  std::vector<std::unique_ptr<Link>> links_;
  std::unordered_map<uint32_t, std::unique_ptr<Stream>> streams_;
  std::deque<Stream *> ready_;
  std::string control_;
  uint32_t next_id_;          // next local stream id
  uint32_t highest_peer_ = 0; // highest stream id the peer opened
  size_t max_streams_ = 16384;
  bool down_ = false;
  double created_;
  // Session credit in bytes summed over streams: what we may send and what we granted.
  uint64_t tx_total_ = 0, peer_max_data_;
  uint64_t rx_total_ = 0, consumed_ = 0, granted_;
  SessionStats stats_;
  Timer pump_timer_;  // zero-delay: coalesces many ready events into one scheduling pass
  bool pump_armed_ = false;
  Timer resume_timer_;
  Timer ack_timer_;
  std::vector<uint32_t> ack_pending_;
  bool session_ack_wanted_ = false;
  void send_session_ack();
  uint64_t grant_target() const;  // session credit limit to announce now
  uint64_t credit_out_ = 0;       // stream credit granted to the peer and not yet written out
  void rebalance_windows();       // a stream was added: shrink grown windows to fit
  int resume_timeout_ = 60;
  std::string join_token_;
  std::string client_;  // server: the authenticated client's name
  uint64_t window_growth_ = 0;  // sum of autotuned window growth over live streams
  uint64_t send_buffered_ = 0, send_cap_ = 16 * 1024 * 1024;
  std::vector<uint32_t> send_waiters_;  // streams that stopped reading at the cap
  std::unordered_map<uint32_t, std::unique_ptr<UdpAssoc>> assocs_;  // server
  std::unordered_map<uint32_t, DatagramSink *> sinks_;               // client
  Target dns_upstream_;
  CompressMode compress_ = CompressMode::Off;
  std::deque<uint32_t> closed_assocs_;
  // Peer ids below highest_peer_ whose OPEN has not arrived yet: with several links OPENs of
  // different streams can arrive out of order, and a late one is still new.
  std::set<uint32_t> missing_;
  bool peer_opened(uint32_t id) const { return id <= highest_peer_ && !missing_.count(id); }
  // A stream id this side knew and has finished (so a late FIN may be confirmed).
  bool peer_finished(uint32_t id) const {
    bool ours = role_ == Role::Client ? (id & 1) == 1 : (id & 1) == 0;
    return ours ? id < next_id_ : peer_opened(id);
  }
  uint64_t datagrams_dropped_ = 0;
  void on_datagram(const Frame &f);
  // Streams we reset recently: the RESET is sent again if the link that carried it dies.
  struct RecentReset {
    uint32_t id, code;
    uint64_t final_size;
    double at;
  };
  std::deque<RecentReset> recent_resets_;

  void schedule_pump();
  void pump();
  bool fill(Link &l, bool first);
  Link *link_by_id(int id) const;
  void trim_carried(Link &l);
  void strand(Link &l);  // requeue what l carried and re-announce state on the others
  void on_open(const Frame &f);
  Stream *find(uint32_t id);
  void protocol_error(Link &l, const std::string &why);
};

}  // namespace braid
