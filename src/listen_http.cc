// SPDX-License-Identifier: MIT
// HTTP proxy listener: CONNECT hands the client socket to the opener; absolute-URI requests
// run through HttpConn, a filter between the client socket and one end of a socketpair whose
// other end is the stream (so the relay stays in stream.cc). The filter rewrites each request
// head, forwards exactly the request body, and parses response heads only to find where each
// response ends, so a connection can be kept alive and move from target to target.
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "braid/buf.h"
#include "braid/frame.h"
#include "braid/http.h"
#include "braid/limits.h"
#include "braid/log.h"

namespace braid {
namespace {
// After an error reply, the client's unread request bytes are drained this long before the
// close, so the kernel does not answer them with an RST that destroys the reply in flight.
constexpr double LINGER_S = 2.0;

const char CONNECT_OK[] = "HTTP/1.1 200 Connection established\r\n\r\n";

// Writes a short reply to a fresh socket whose send buffer is empty: it fits.
void send_all(int fd, const std::string &s) {
  if (send(fd, s.data(), s.size(), MSG_NOSIGNAL) != ssize_t(s.size()))
    LOG_DEBUG("http: short reply write on fd %d", fd);
}

std::string reason_for(uint32_t code) {
  if (code == uint32_t(ResetCode::NotAllowed)) return "denied by the server's ACL";
  return reset_code_str(code);
}
}  // namespace

class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  HttpConn(HttpListener &l, int fd, std::string peer) : l_(l), cfd_(fd), peer_(std::move(peer)) {}

  ~HttpConn() {
    if (cfd_ >= 0) close(cfd_);
    drop_tunnel();
  }

  void start() {
    crev_.set(l_.loop(), cfd_, EV_READ, [this](short) { on_client_readable(); });
    cwev_.set(l_.loop(), cfd_, EV_WRITE, [this](short) { run(); });
    timer_.set(l_.loop(), [this] { on_timer(); });
    timer_.start(HTTP_HEAD_DEADLINE_S);
    run();
  }

 private:
  // Request side: reading a head, waiting for the stream, forwarding the body, waiting for
  // the response to end.
  enum class Req { Head, Opening, Body, Wait };
  // Response side: nothing expected, reading a head, forwarding a body.
  enum class Resp { Idle, Head, Body };
  // One stream: our end of the socketpair and its events; freed from the loop, since it may
  // be dropped from inside its own callback.
  struct Tunnel {
    int fd = -1;
    std::string key;  // target "host:port"
    bool open = false, eof = false;
    IoEvent rev, wev;
  };

  HttpListener &l_;
  int cfd_;
  std::string peer_;
  IoEvent crev_, cwev_;
  Timer timer_;
  Buf cin_, cout_;  // client -> us, us -> client
  Buf tin_, tout_;  // tunnel -> us, us -> tunnel
  std::unique_ptr<Tunnel> t_;
  uint64_t gen_ = 0;  // open callbacks of a dropped tunnel see a stale generation
  std::string target_ = "-";  // of the current request, for logs

  Req req_ = Req::Head;
  BodyFraming body_;
  uint64_t body_left_ = 0;
  ChunkParser chunk_;
  bool close_after_ = false, head_request_ = false, first_ = true;

  Resp resp_ = Resp::Idle;
  BodyFraming rbody_;
  uint64_t rleft_ = 0;
  ChunkParser rchunk_;
  bool resp_started_ = false;  // bytes of the current response reached cout_
  bool target_close_ = false;  // the target said Connection: close

  bool client_eof_ = false;
  bool closing_ = false;   // flush cout_, then close (linger)
  bool lingering_ = false;
  bool dead_ = false;
  bool running_ = false, rerun_ = false;
  size_t scanned_ = 0;     // bytes of cin_ searched for the end of a head

  // --- driving ---------------------------------------------------------------------------

  // Runs every step until nothing moves, then sets read/write interest. Re-entrant calls (an
  // open callback running inside opener.open) only ask the outer call to go round again.
  void run() {
    if (running_) {
      rerun_ = true;
      return;
    }
    running_ = true;
    bool moved = true;
    while (moved && !dead_) {
      rerun_ = false;
      // All three run every round (no short circuit): each may unblock the others.
      bool parsed = step();
      bool to_client = flush_client();
      bool to_tunnel = flush_tunnel();
      moved = parsed || to_client || to_tunnel || rerun_;
    }
    running_ = false;
    if (!dead_) set_interest();
  }

  bool step() {
    if (dead_ || closing_) return false;
    bool moved = parse_responses();
    if (dead_ || closing_) return moved;
    if (req_ == Req::Head && resp_ == Resp::Idle && cout_.empty()) {
      if (!cin_.empty()) moved |= try_head();
      if (!dead_ && !closing_ && req_ == Req::Head && client_eof_) {
        closing_ = true;  // the client sent all it will; a partial head is dropped
        return true;
      }
    }
    if (!dead_ && !closing_ && req_ == Req::Body) {
      moved |= pump_body();
      if (!dead_ && req_ == Req::Body && client_eof_ && cin_.empty()) {
        LOG_DEBUG("http %s -> %s: client closed in the middle of a request body", peer_.c_str(),
                  target_.c_str());
        finish();
        return true;
      }
    }
    if (!dead_ && !closing_) moved |= check_tunnel_eof();
    return moved;
  }

  void set_interest() {
    bool read_client = !client_eof_ && (lingering_ || (!closing_ && cin_.size() < HTTP_HEAD_MAX &&
                                                       tout_.size() < HTTP_QUEUE_HIGH));
    read_client ? crev_.add() : crev_.del();
    cout_.empty() ? cwev_.del() : cwev_.add();
    if (closing_ && cout_.empty() && !lingering_) {
      linger();
      return;
    }
    if (!t_) return;
    bool read_tunnel = t_->open && !t_->eof && !closing_ && tin_.size() < HTTP_HEAD_MAX &&
                       cout_.size() < HTTP_QUEUE_HIGH;
    read_tunnel ? t_->rev.add() : t_->rev.del();
    t_->open && !tout_.empty() ? t_->wev.add() : t_->wev.del();
  }

  void on_client_readable() {
    if (lingering_) {
      char junk[16384];
      ssize_t n = read(cfd_, junk, sizeof junk);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) finish();
      return;
    }
    ssize_t n = read(cfd_, cin_.reserve(READ_CHUNK), READ_CHUNK);
    if (n > 0) {
      cin_.commit(size_t(n));
    } else if (n == 0) {
      client_eof();
    } else if (errno != EAGAIN && errno != EINTR) {
      LOG_DEBUG("http %s: read: %s", peer_.c_str(), strerror(errno));
      finish();
      return;
    }
    run();
  }

  void on_tunnel_readable() {
    ssize_t n = read(t_->fd, tin_.reserve(READ_CHUNK), READ_CHUNK);
    if (n > 0) {
      tin_.commit(size_t(n));
    } else if (n == 0) {
      t_->eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      // The stream was reset (close with unread data): the client must not mistake what it
      // got so far for a complete response, so it gets an RST too.
      fail_hard("stream reset: " + std::string(strerror(errno)));
      return;
    }
    run();
  }

  void on_timer() {
    if (lingering_ || closing_) {
      finish();
    } else if (req_ == Req::Head && (first_ || !cin_.empty())) {
      int s = first_ ? HTTP_HEAD_DEADLINE_S : HTTP_IDLE_S;
      reply_error(408, "no complete request head within " + std::to_string(s) + " s");
      run();
    } else if (req_ == Req::Head) {
      finish();  // an idle kept-alive connection
    }
  }

  // --- request side ----------------------------------------------------------------------

  // True when cin_ may hold a complete head (or enough bytes to reject one).
  bool head_ready() {
    if (cin_.size() >= HTTP_HEAD_MAX) return true;
    const uint8_t *p = cin_.data();
    for (size_t i = scanned_ > 2 ? scanned_ - 2 : 0; i < cin_.size(); i++) {
      if (p[i] != '\n') continue;
      if ((i + 1 < cin_.size() && p[i + 1] == '\n') ||
          (i + 2 < cin_.size() && p[i + 1] == '\r' && p[i + 2] == '\n'))
        return true;
    }
    scanned_ = cin_.size();
    return cin_.size() > HTTP_LINE_MAX;  // lets the parser answer 414 early
  }

  bool try_head() {
    if (!head_ready()) return false;
    HttpRequest r;
    size_t used = 0;
    int status = 400;
    std::string err;
    HttpParse res = http_parse_request(cin_.data(), cin_.size(), r, &used, &status, err);
    if (res == HttpParse::NeedMore) return false;
    if (res == HttpParse::Error) {
      reply_error(status, err);
      return true;
    }
    target_ = r.dest.str();
    const auto &auth = l_.config().http_auth;
    if (!auth.empty() && !http_check_basic(r.get("Proxy-Authorization"), auth)) {
      reply_error(407, r.get("Proxy-Authorization") ? "wrong proxy user name or password"
                                                    : "proxy authentication required",
                  "Proxy-Authenticate: Basic realm=\"braid\"\r\n");
      return true;
    }
    cin_.consume(used);
    scanned_ = 0;
    timer_.stop();
    if (r.connect) {
      hand_off(r);
      return true;
    }
    if (!http_request_body(r, body_, &status, err)) {
      reply_error(status, err);
      return true;
    }
    first_ = false;
    body_left_ = body_.length;
    chunk_ = ChunkParser();
    close_after_ = !r.keep_alive();
    head_request_ = r.method == "HEAD";
    resp_ = Resp::Head;
    resp_started_ = false;
    target_close_ = false;
    std::string key = r.dest.str();
    if (t_ && !t_->eof && t_->key == key) {
      tout_.append(http_rewrite_request(r));
      req_ = Req::Body;
      return true;
    }
    drop_tunnel();
    tout_.append(http_rewrite_request(r));
    req_ = Req::Opening;
    open_tunnel(r.dest, key);
    return true;
  }

  // Moves body bytes from cin_ to tout_ while the tunnel side has room.
  bool pump_body() {
    bool moved = false;
    while (tout_.size() < HTTP_QUEUE_HIGH && body_.kind != BodyKind::None) {
      size_t room = HTTP_QUEUE_HIGH - tout_.size();
      size_t n = std::min(cin_.size(), room);
      if (body_.kind == BodyKind::Length) {
        n = size_t(std::min<uint64_t>(n, body_left_));
        body_left_ -= n;
        if (body_left_ == 0) body_.kind = BodyKind::None;
      } else {
        std::string err;
        HttpParse r = chunk_.feed(cin_.data(), n, &n, err);
        if (r == HttpParse::Error) {
          reply_error(400, "request body: " + err);
          return true;
        }
        if (r == HttpParse::Ok) body_.kind = BodyKind::None;
      }
      if (n == 0 && body_.kind != BodyKind::None) break;
      tout_.append(cin_.data(), n);
      cin_.consume(n);
      moved = true;
    }
    if (body_.kind == BodyKind::None) {
      req_ = Req::Wait;
      moved = true;
      if (resp_ == Resp::Idle) next_request();  // the target answered before the body ended
    }
    return moved;
  }

  // No more bytes from the client: step() decides what that means in each state (a half-close
  // after the last request still gets its responses; a body cut short ends the connection).
  void client_eof() { client_eof_ = true; }

  // The response ended and the request body is sent: keep the connection or close it.
  void next_request() {
    if (close_after_) {
      closing_ = true;
      return;
    }
    if (target_close_) drop_tunnel();
    req_ = Req::Head;
    resp_started_ = false;
    scanned_ = 0;
    target_ = "-";
    timer_.start(HTTP_IDLE_S);
  }

  // --- tunnel ----------------------------------------------------------------------------

  void open_tunnel(const Target &dest, const std::string &key) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      reply_error(502, std::string("socketpair: ") + strerror(errno));
      return;
    }
    t_ = std::make_unique<Tunnel>();
    t_->fd = sv[0];
    t_->key = key;
    t_->rev.set(l_.loop(), sv[0], EV_READ, [this](short) { on_tunnel_readable(); });
    t_->wev.set(l_.loop(), sv[0], EV_WRITE, [this](short) { run(); });
    uint64_t gen = ++gen_;
    std::weak_ptr<HttpConn> self = shared_from_this();
    // May call back before returning (no session, too many streams): on_open copes.
    l_.opener().open(sv[1], dest, "http " + peer_, true, [self, gen](uint32_t code) {
      if (auto c = self.lock()) c->on_open(gen, code);
    });
  }

  void on_open(uint64_t gen, uint32_t code) {
    if (gen != gen_ || dead_ || !t_) return;
    if (code != 0) {
      drop_tunnel();  // the opener closes its end
      reply_error(http_status_for(code), reason_for(code));
    } else {
      t_->open = true;
      req_ = Req::Body;
    }
    run();
  }

  void drop_tunnel() {
    ++gen_;
    tin_.clear();
    tout_.clear();
    if (!t_) return;
    t_->rev.reset();
    t_->wev.reset();
    close(t_->fd);
    std::shared_ptr<Tunnel> dead(t_.release());
    l_.loop().defer([dead] {});
  }

  bool flush_tunnel() {
    if (!t_ || !t_->open) return false;
    bool moved = false;
    while (!tout_.empty()) {
      ssize_t n = send(t_->fd, tout_.data(), tout_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        tout_.consume(size_t(n));
        moved = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        fail_hard("stream closed while sending the request");
        return true;
      }
    }
    return moved;
  }

  // The stream's end EOFed; handled once tin_ has been parsed.
  bool check_tunnel_eof() {
    if (!t_ || !t_->eof || !tin_.empty()) return false;
    if (resp_ == Resp::Body && rbody_.kind == BodyKind::Close) {
      closing_ = true;  // the close delimits this response, and so the client connection
    } else if (resp_ != Resp::Idle && !resp_started_) {
      reply_error(502, "the target closed the connection without a complete response head");
    } else if (resp_ != Resp::Idle) {
      LOG_INFO("http %s -> %s: the target closed the connection in the middle of a response",
               peer_.c_str(), target_.c_str());
      fail_hard("");
    } else if (req_ == Req::Head) {
      drop_tunnel();  // the target closed an idle kept-alive connection
    } else {
      closing_ = true;
    }
    return true;
  }

  // --- response side ---------------------------------------------------------------------

  bool parse_responses() {
    bool moved = false;
    while (!tin_.empty() && !dead_ && !closing_) {
      if (resp_ == Resp::Idle) {
        LOG_INFO("http %s -> %s: the target sent %zu bytes without a request", peer_.c_str(),
                 target_.c_str(), tin_.size());
        fail_hard("");
        return true;
      }
      if (resp_ == Resp::Head) {
        if (!response_head()) return moved;
        moved = true;
        continue;
      }
      size_t n = tin_.size();
      if (rbody_.kind == BodyKind::Length) {
        n = size_t(std::min<uint64_t>(n, rleft_));
        rleft_ -= n;
      } else if (rbody_.kind == BodyKind::Chunked) {
        std::string err;
        HttpParse r = rchunk_.feed(tin_.data(), n, &n, err);
        if (r == HttpParse::Error) {
          LOG_INFO("http %s -> %s: bad response body: %s", peer_.c_str(), target_.c_str(),
                   err.c_str());
          fail_hard("");
          return true;
        }
        if (r == HttpParse::Ok) rleft_ = 0;
      }
      cout_.append(tin_.data(), n);
      tin_.consume(n);
      moved = true;
      if (rbody_.kind != BodyKind::Close && rleft_ == 0) response_done();
    }
    return moved;
  }

  // Parses one response head from tin_; false if it is incomplete.
  bool response_head() {
    HttpResponse r;
    size_t used = 0;
    std::string err;
    HttpParse res = http_parse_response(tin_.data(), tin_.size(), r, &used, err);
    if (res == HttpParse::NeedMore) return false;
    if (res == HttpParse::Ok && r.status == 101)
      res = HttpParse::Error, err = "101 Switching Protocols without an upgrade request";
    if (res == HttpParse::Ok && r.status >= 200 && !http_response_body(r, head_request_, rbody_, err))
      res = HttpParse::Error;
    if (res == HttpParse::Error) {
      if (resp_started_) {
        LOG_INFO("http %s -> %s: bad response head: %s", peer_.c_str(), target_.c_str(), err.c_str());
        fail_hard("");
      } else {
        reply_error(502, "bad response from the target: " + err);
      }
      return true;
    }
    cout_.append(tin_.data(), used);
    tin_.consume(used);
    resp_started_ = true;
    if (r.status < 200) return true;  // interim (100 Continue): the final head follows
    target_close_ = r.has_token("Connection", "close") || r.minor == 0;
    rleft_ = rbody_.length;
    rchunk_ = ChunkParser();
    if (rbody_.kind == BodyKind::Close) target_close_ = true;
    resp_ = Resp::Body;
    if (rbody_.kind == BodyKind::None) response_done();
    return true;
  }

  void response_done() {
    resp_ = Resp::Idle;
    if (req_ == Req::Wait) next_request();
  }

  // --- client side -----------------------------------------------------------------------

  bool flush_client() {
    if (cfd_ < 0) return false;
    bool moved = false;
    while (!cout_.empty()) {
      ssize_t n = send(cfd_, cout_.data(), cout_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        cout_.consume(size_t(n));
        moved = true;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        LOG_DEBUG("http %s: write: %s", peer_.c_str(), strerror(errno));
        finish();
        return true;
      }
    }
    return moved;
  }

  // Answers status + msg (unless part of a response already went out), logs, then closes.
  void reply_error(int status, const std::string &msg, const std::string &extra = "") {
    if (target_ == "-")
      LOG_INFO("http %s: %d %s", peer_.c_str(), status, msg.c_str());
    else
      LOG_INFO("http %s -> %s: %d %s", peer_.c_str(), target_.c_str(), status, msg.c_str());
    drop_tunnel();
    if (resp_started_) {
      fail_hard("");
      return;
    }
    cout_.append(http_error_response(status, msg, extra));
    closing_ = true;
  }

  void hand_off(const HttpRequest &r) {
    if (!cin_.empty()) {
      // Bytes after the CONNECT head (a pipelined TLS ClientHello) would need a second
      // hand-off path; curl and browsers wait for the reply.
      reply_error(400, "data before the CONNECT reply");
      return;
    }
    int fd = cfd_;
    cfd_ = -1;
    std::string peer = peer_, tstr = target_;
    bool confirm = l_.config().connect_reply == ConnectReply::Confirmed;
    finish();
    l_.opener().open(fd, r.dest, "http " + peer, confirm, [fd, peer, tstr](uint32_t code) {
      if (code == 0) {
        send_all(fd, CONNECT_OK);
        return;
      }
      int status = http_status_for(code);
      LOG_INFO("http %s -> %s: %d %s", peer.c_str(), tstr.c_str(), status, reason_for(code).c_str());
      send_all(fd, http_error_response(status, reason_for(code)));
    });
  }

  // Everything queued for the client is out: half-close, drain what it still sends, close.
  void linger() {
    if (client_eof_ || cfd_ < 0) {
      finish();
      return;
    }
    lingering_ = true;
    shutdown(cfd_, SHUT_WR);
    drop_tunnel();
    cin_.clear();
    crev_.add();
    cwev_.del();
    timer_.start(LINGER_S);
  }

  // Aborts the client connection with an RST: it must not take a cut response for a whole one.
  void fail_hard(const std::string &why) {
    if (!why.empty()) LOG_INFO("http %s -> %s: %s", peer_.c_str(), target_.c_str(), why.c_str());
    if (cfd_ >= 0) {
      struct linger lg = {1, 0};
      setsockopt(cfd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    finish();
  }

  void finish() {
    if (dead_) return;
    dead_ = true;
    crev_.reset();
    cwev_.reset();
    timer_.stop();
    drop_tunnel();
    if (cfd_ >= 0) close(cfd_);
    cfd_ = -1;
    l_.finished(this);
  }
};

HttpListener::HttpListener(Loop &loop, StreamOpener &opener, const Config &cfg)
    : Listener(loop, "http"), opener_(opener), cfg_(cfg) {}

HttpListener::~HttpListener() = default;

void HttpListener::on_accept(int fd, const std::string &peer) {
  auto c = std::make_shared<HttpConn>(*this, fd, peer);
  conns_.push_back(c);
  c->start();
}

void HttpListener::finished(HttpConn *c) {
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->get() != c) continue;
    std::shared_ptr<HttpConn> dead = std::move(*it);
    conns_.erase(it);
    loop_.defer([dead] {});
    return;
  }
}

}  // namespace braid
