// SPDX-License-Identifier: MIT
// Owns one link: a TCP connection to the peer with TLS on top, driven by the loop. It reads in
// large chunks, decrypts, reassembles frames and hands each to its owner; frames to send are
// assembled into TLS records of up to 16 KiB (several small frames per record, one DATA frame
// never split across two), encrypted, and written with writev when the socket allows.
// Liveness (keepalive pings, RTT, silence deadline) is measured here; what a dead link means
// is the owner's business.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "braid/buf.h"
#include "braid/frame.h"
#include "braid/loop.h"
#include "braid/proxy.h"
#include "braid/tls.h"

namespace braid {

class Link;

// A range of stream bytes a link carried and the peer has not acknowledged yet: if the link
// dies, exactly these go out again on another link.
struct SentRange {
  uint32_t stream;
  uint64_t start, end;
  bool fin;
};

class LinkOwner {
 public:
  virtual ~LinkOwner() = default;
  virtual void on_link_up(Link &l) = 0;                     // TLS handshake complete
  virtual void on_link_frame(Link &l, const Frame &f) = 0;  // one frame (not PING/PONG)
  virtual void on_link_writable(Link &l) = 0;               // backlog fell below the low mark
  // The link is dead (error, EOF, silence) and already closed; the owner must drop it, but not
  // from inside this call: use Loop::defer or reap().
  virtual void on_link_down(Link &l, const std::string &why) = 0;
  // Received bytes are not a valid frame. Default: close the link.
  virtual void on_link_bad_frame(Link &l, const std::string &why);
  // The link went quiet while carrying data (no byte for max(2 s, 4 x SRTT)): schedule nothing
  // new on it and resend what it carries. It may recover (on_link_writable) or die.
  virtual void on_link_suspect(Link &) {}
};

class Link {
 public:
  // Takes ownership of fd. connecting = a non-blocking connect() is in progress (client).
  Link(Loop &loop, TlsConfig &tls, int fd, bool connecting, LinkOwner *owner, std::string name);
  ~Link();
  Link(const Link &) = delete;
  Link &operator=(const Link &) = delete;

  void set_owner(LinkOwner *o) { owner_ = o; }
  // Server, probe fallback: from now on decrypted bytes go to sink as they are (starting with
  // any not yet parsed, including the frame being handled), not to the frame parser.
  void set_raw(std::function<void(const uint8_t *, size_t)> sink) { raw_ = std::move(sink); }
  // Client: the connection goes to an upstream proxy; run its handshake before TLS.
  void set_proxy(std::unique_ptr<ProxyHandshake> p) { proxy_ = std::move(p); }
  const std::string &name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  int id() const { return id_; }

  // Appends whole frames to the plaintext batch; flush() encrypts and writes them.
  std::string &batch() { return plain_; }
  // Seals the record being assembled (a short one after idle) and writes what TLS produced.
  void flush();
  // --- data path: frames are assembled straight into TLS records (see put_frame) ---
  // Payload bytes the next DATA frame may carry so that it ends the current record exactly:
  // MAX_DATA_PAYLOAD when a record starts, so bulk goes out in full 16 KiB records. A record
  // with less than a small frame's room left is sealed first.
  size_t data_room();
  // Appends one frame, `head` (header bytes) then the payload in up to two pieces, to the record
  // being assembled; a frame never straddles two records (it seals the current one first if it
  // does not fit), and a full record goes to TLS at once. When the frame is a whole record on
  // its own and `before` (writable bytes in front of p1) >= hn, the header is written in front
  // of the payload for the duration of the TLS call and the bytes there are restored: TLS then
  // copies the payload straight from the caller's buffer.
  void put_frame(const uint8_t *head, size_t hn, uint8_t *p1, size_t n1, const uint8_t *p2 = nullptr,
                 size_t n2 = 0, size_t before = 0);
  // Plaintext bytes accepted so far (staged, assembled or encrypted); grows with every frame.
  uint64_t queued() const { return queued_ + plain_.size(); }
  // Bytes waiting in user space (plaintext not yet encrypted + ciphertext not yet written).
  size_t backlog() const { return plain_.size() + rec_len_ + tls_.out.size(); }
  bool writable() const {
    return up_ && !dead_ && !suspect_ && !kernel_full_ && backlog() < LINK_OUT_HIGH;
  }
  bool suspect() const { return suspect_; }
  // Expected time (s) until a byte queued now reaches the peer: unacknowledged bytes on the
  // link / rate + SRTT / 2.
  double expected_delivery() const;
  double rate() const { return rate_; }  // bytes/s measured while the link was the bottleneck

  // Stream ranges this link carried, oldest first (the session trims acked ones), and their
  // total: the bytes queued or in flight on this path that the peer has not acknowledged.
  std::deque<SentRange> carried;
  uint64_t carried_bytes = 0;
  uint64_t resent_bytes = 0;

  // Stops reading and parsing (used before a delayed close of an unauthenticated link).
  void pause_reading();
  // Sends close_notify after pending data, then closes; owner's on_link_down follows.
  void close(const std::string &why);
  bool dead() const { return dead_; }
  bool up() const { return up_; }

  // Keepalive: ping every `interval` s when idle, declare dead after `dead_after` s of silence.
  void set_keepalive(int interval, int dead_after);
  double srtt_ms() const { return srtt_ms_; }
  // Smallest RTT seen over the last 10 s: the path's delay without our own queueing.
  double min_rtt_ms() const { return min_rtt_ms_; }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  std::string cipher() const { return tls_.cipher(); }
  const TlsConn &tls() const { return tls_; }

 private:
  Loop &loop_;
  TlsConn tls_;
  int fd_;
  LinkOwner *owner_;
  std::string name_;
  int id_;
  IoEvent rev_, wev_;
  Timer ka_timer_;
  bool connecting_, up_ = false, dead_ = false, closing_ = false, paused_ = false;
  std::string plain_;  // staged frames (control, HELLO, fallback bytes), absorbed in order
  uint8_t rec_[TLS_RECORD];  // the TLS record being assembled
  size_t rec_len_ = 0;
  uint64_t queued_ = 0;
  bool write_failed_ = false;  // a TLS write failed inside put_frame; flush() closes the link
  void absorb();               // plain_ -> records
  void put_bytes(const uint8_t *p, size_t n);
  void seal();                 // rec_ -> TLS
  void tls_write(const uint8_t *p, size_t n);
  std::string close_why_;  // reason given to close(), reported once the last bytes are out
  std::unique_ptr<ProxyHandshake> proxy_;
  std::function<void(const uint8_t *, size_t)> raw_;
  void drive_proxy();
  Buf frames_;  // decrypted bytes not yet parsed into frames
  double last_rx_ = 0;
  int ka_interval_ = 10, ka_dead_ = 30;
  double ping_sent_ = 0;
  double srtt_ms_ = 0, min_rtt_ms_ = 0, min_rtt_at_ = 0;
  double last_tx_ = 0, last_probe_ = 0, last_frame_ = 0;  // last_frame_: non-PING frame
  bool suspect_ = false, kernel_full_ = false, busy_ = false;
  double rate_ = 0, rate_t0_ = 0;
  uint64_t rate_bytes0_ = 0;
  size_t notsent() const;
  void update_rate();
  uint64_t bytes_in_ = 0, bytes_out_ = 0;

  void on_read();
  void on_write();
  void drive_handshake();
  void parse_frames();
  bool parse_batch();  // the frames decrypted so far; false: stop reading (bad frame)
  void handle_ping(const Frame &f);
  void write_out();
  void on_keepalive();
  void die(const std::string &why);
};

}  // namespace braid
