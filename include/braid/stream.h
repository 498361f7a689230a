// SPDX-License-Identifier: MIT
// Owns the stream state machine: one proxied TCP connection inside a session. Two halves:
// send (local socket -> tunnel: read, keep until acked, FIN at the final offset) and receive
// (tunnel -> local socket: in-order delivery by offset, duplicates dropped, credit returned as
// bytes reach the socket, shutdown(SHUT_WR) once everything before the FIN is written).
// RESET aborts both halves. A stream is finished when both halves are done; the session then
// frees it (ids are never reused, so late frames for it are recognised and dropped).
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "braid/addr.h"
#include "braid/buf.h"
#include "braid/loop.h"
#include "braid/lz4.h"

namespace braid {

class Session;
class Link;
class DialJob;
class Acl;
struct SentRange;

// Called once when the peer answers an OPEN: code 0 = opened, else a ResetCode value.
using OpenCallback = std::function<void(uint32_t code)>;

// While a link parses a batch of records, in-order DATA for a stream with nothing queued is
// not written at once but remembered (it stays in the link's plaintext buffer); when the
// outermost batch ends, each stream's pieces go to its socket in one writev, and what the
// socket does not take is queued as before.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(const WriteBatch &) = delete;
  WriteBatch &operator=(const WriteBatch &) = delete;
  static bool active();
};

enum class StreamState {
  Opening,  // client: OPEN sent, waiting (confirmed mode); server: dialling the target
  Open,
  Done,     // both halves finished or reset; waiting to be freed
};

class Stream {
 public:
  Stream(Session &s, uint32_t id, Target target, std::string label);
  ~Stream();
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;

  uint32_t id() const { return id_; }
  const Target &target() const { return target_; }
  const std::string &label() const { return label_; }
  StreamState state() const { return state_; }

  // Client: takes fd. early = the application was already told "connected", so start reading
  // now (OPEN and the first DATA leave together); else wait for on_open_ack and call cb.
  void start_client(int fd, bool early, OpenCallback cb);
  // Server (and a client answering a server-opened stream): resolve + connect the target
  // through acl; OPEN_ACK or RESET follows.
  void start_server(const Acl &acl);
  // The same ending without a dial: fd is already connected (the server's end of a peer
  // relay), or fd < 0 and code says why not (RESET with code).
  void complete_open(int fd, uint32_t code, const std::string &why) { dial_done(fd, code, why); }
  // Peer forwards: the client name an OPEN carries (the peer to relay to, or, in a stream the
  // server opened, the client it came from). Set before the OPEN goes out.
  void set_via(std::string name) { via_ = std::move(name); }
  const std::string &via() const { return via_; }
  CompressMode compress() const { return compress_; }

  // Frame handlers (the session has checked the stream id).
  void on_open_ack();
  // in_record: p lies in the link's decrypted records and stays valid until the link's
  // WriteBatch ends, so its write may be deferred (not so for a decompressed payload).
  void on_data(uint64_t offset, const uint8_t *p, size_t n, bool fin, bool in_record);
  void on_ack(uint64_t delivered, uint64_t max_offset, bool fin_acked);
  void on_reset(uint32_t code);
  void on_stop_sending(uint32_t code);

  // Scheduler side: puts the stream's next frames on link l: OPEN if it has not gone out yet,
  // then at most one DATA frame (resends first, then new bytes within credit) of at most
  // l.data_room() payload bytes, taken from the send store without an intermediate copy.
  // Returns true and fills `sent` if a DATA frame was added; `more` tells whether more is
  // sendable.
  bool produce(Link &l, uint64_t session_credit, SentRange &sent, bool &more);
  bool has_sendable() const;
  // A link that carried [start, end) (and the FIN at `end` if fin) died: send it again.
  void requeue(uint64_t start, uint64_t end, bool fin);
  // True once the peer acknowledged [.., end) (and the FIN, if fin).
  bool acked_through(uint64_t end, bool fin) const {
    return send_base_ >= end && (!fin || send_done_);
  }
  // Absolute ACK of what we received, sent again after a link loss (ACKs are idempotent).
  void reannounce();
  // Link the stream is on (0 = none). Until the peer answered OPEN, a client stream stays on
  // the link that carried its OPEN, so no DATA can overtake it.
  int link_id() const { return link_id_; }
  void set_link(int id) { link_id_ = id; }
  bool pinned() const { return is_client_ && !open_acked_ && open_sent_; }
  uint64_t resent() const { return resent_; }
  uint64_t window() const { return window_; }
  uint64_t links_used() const { return links_used_; }  // bit i: link i carried its data
  void note_link(int id) {
    if (id >= 0 && id < 64) links_used_ |= 1ULL << id;
  }
  void set_compress(CompressMode m) { compress_ = m; }
  uint64_t buffered() const { return sendbuf_.size(); }
  void resume_reading() { update_read_interest(); }
  void send_ack();  // delayed ACK: report what arrived
  void log_state() const;  // one debug line: both halves' offsets, credit and buffers
  // Aborts: RESET to the peer (if send_reset) and RST to the local socket.
  void abort(uint32_t code, const std::string &why, bool send_reset);

  uint64_t bytes_sent() const { return send_next_; }
  uint64_t bytes_received() const { return recv_next_; }
  uint64_t written() const { return written_; }
  uint64_t highest_received() const { return highest_rx_; }

 private:
  Session &s_;
  uint32_t id_;
  Target target_;
  std::string label_;
  std::string via_;
  StreamState state_ = StreamState::Opening;
  int fd_ = -1;
  IoEvent rev_, wev_;
  OpenCallback open_cb_;
  std::unique_ptr<DialJob> dial_;
  Timer open_timer_;

  // send half
  Ring sendbuf_;             // bytes [send_base_, read_total_) : unacked + unsent
  uint64_t send_base_ = 0;   // acked by the peer
  uint64_t send_next_ = 0;   // next byte to transmit
  uint64_t peer_max_ = 0;    // credit limit from the peer
  bool local_eof_ = false, fin_sent_ = false, send_done_ = false;

  // receive half
  Buf recvbuf_;              // in-order bytes not yet written to the socket
  std::map<uint64_t, std::string> reorder_;  // out-of-order ranges, bounded by our credit
  uint64_t recv_next_ = 0;   // next in-order offset expected
  uint64_t written_ = 0;     // bytes written to the local socket
  uint64_t granted_ = 0;     // credit limit we announced
  uint64_t window_ = 0;      // current receive window (autotuned)
  double window_t_ = 0;      // when the window was last granted in full
  uint64_t highest_rx_ = 0;  // highest offset + 1 received (session accounting)
  uint64_t acked_rx_ = 0;    // recv_next_ as last reported in an ACK
  bool ack_wanted_ = false;  // queued for the session's delayed ACK
  uint64_t fin_at_ = UINT64_MAX;
  bool recv_done_ = false;
  bool in_ready_ = false;  // queued in the session's ready list
  bool deferred_ = false;  // has writes waiting for the end of a WriteBatch
  bool is_client_ = false, open_sent_ = false, open_acked_ = false;
  int link_id_ = 0;
  struct Resend {
    uint64_t start, end;
    bool fin;
  };
  // A list, not a deque: libstdc++'s deque allocates 576 bytes when constructed, and resends
  // only happen after a link loss.
  std::list<Resend> resend_;
  uint64_t resent_ = 0;
  CompressMode compress_ = CompressMode::Off;
  uint64_t links_used_ = 0;
  int misses_ = 0;
  uint64_t probe_at_ = 0;  // auto: no compression attempt before this offset
  void emit_data(Link &l, uint64_t at, size_t n, bool fin);
  friend class Session;

  uint64_t read_total() const { return send_base_ + sendbuf_.size(); }
  size_t send_room() const;
  void attach(int fd);
  void on_readable();
  void on_writable();
  void update_read_interest();
  void flush_local();
  friend class WriteBatch;
  // Writes deferred pieces (in order) to the socket; what it does not take is queued. last:
  // the stream's final group of this batch, after which the usual flush (ACK, FIN) runs.
  void write_deferred(struct iovec *iov, int n, bool last);
  void undefer();  // writes this stream's deferred pieces now (out-of-order bytes follow them)
  void note_written(uint64_t n);  // n more bytes reached the local socket: credit comes back
  void accept_bytes(uint64_t offset, const uint8_t *p, size_t n, bool in_record);
  void maybe_ack(bool force);
  void check_done();
  void dial_done(int fd, uint32_t code, const std::string &why);
};

}  // namespace braid
