// SPDX-License-Identifier: MIT
// Client role: listeners, dialling and authenticating the link, session, redial, waiting requests.
#include "braid/client.h"

#include <event2/dns.h>
#include <event2/util.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "braid/dial.h"
#include "braid/hello.h"
#include "braid/log.h"

namespace braid {

Client::Client(Loop &loop, const Config &cfg) : loop_(loop), cfg_(cfg) {
  redial_timer_.set(loop_, [this] { dial(); });
  hello_timer_.set(loop_, [this] {
    if (dialing_) dialing_->close("no HELLO_ACK within " + std::to_string(HELLO_DEADLINE_S) + " s");
  });
  pending_timer_.set(loop_, [this] { expire_pending(); });
  drain_timer_.set(loop_, [this] { drain_check(); });
}

Client::~Client() {
  if (dns_req_) evdns_getaddrinfo_cancel(dns_req_);
  for (Pending &p : pending_) close(p.fd);
}

bool Client::start(std::string &err) {
  tls_ = TlsConfig::client(cfg_.server_pin, err);
  if (!tls_) return false;
  for (const Endpoint &ep : cfg_.socks) {
    auto l = std::make_unique<Socks5Listener>(loop_, *this, cfg_);
    if (!l->bind(ep, err)) return false;
    LOG_INFO("socks5 listening on %s", l->bound().c_str());
    listeners_.push_back(std::move(l));
  }
  dial();
  return true;
}

void Client::dial() {
  if (stopping_ || dialing_ || dns_req_ || (session_ && session_->alive())) return;
  const Endpoint &ep = server();
  Target t;
  target_from_string(ep.host, ep.port, t);
  if (t.atyp != Atyp::Domain) {
    sockaddr_storage ss;
    socklen_t len = target_sockaddr(t, ss);
    connect_to(reinterpret_cast<sockaddr *>(&ss), len);
    return;
  }
  evutil_addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port = std::to_string(ep.port);
  // May call on_resolved before returning (cached or failed at once); dns_req_ is then null.
  evdns_getaddrinfo_request *req =
      evdns_getaddrinfo(loop_.dns(), ep.host.c_str(), port.c_str(), &hints, on_resolved, this);
  if (req && !dialing_) dns_req_ = req;
}

void Client::on_resolved(int err, evutil_addrinfo *res, void *arg) {
  Client *self = static_cast<Client *>(arg);
  if (err == EVUTIL_EAI_CANCEL) return;
  self->dns_req_ = nullptr;
  if (err || !res) {
    self->dial_failed(std::string("cannot resolve: ") + evutil_gai_strerror(err));
  } else {
    self->connect_to(res->ai_addr, socklen_t(res->ai_addrlen));
  }
  if (res) evutil_freeaddrinfo(res);
}

void Client::connect_to(const sockaddr *sa, socklen_t len) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    dial_failed(std::string("socket: ") + strerror(errno));
    return;
  }
  socket_setup(fd);
  if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
    std::string why = std::string("connect: ") + strerror(errno);
    close(fd);
    dial_failed(why);
    return;
  }
  dialing_ = std::make_unique<Link>(loop_, *tls_, fd, true, this, server().str());
  dialing_->set_keepalive(cfg_.keepalive, std::max(30, 3 * cfg_.keepalive));
  hello_timer_.start(HELLO_DEADLINE_S + 5);
}

void Client::on_link_up(Link &l) {
  Hello h;
  h.kind = HelloKind::New;
  h.name = cfg_.name;
  h.timestamp = uint64_t(time(nullptr));
  std::string body = hello_encode(h, cfg_.secret);
  frame_header(l.batch(), FrameType::Hello, 0, body.size(), 0);
  l.batch() += body;
  l.flush();
  hello_timer_.start(HELLO_DEADLINE_S);
}

void Client::on_link_frame(Link &l, const Frame &f) {
  if (f.h.type == uint8_t(FrameType::GoAway)) {
    l.close("server refused the session (GOAWAY code " + std::to_string(get_u32(f.body + 4)) + ")");
    return;
  }
  HelloAck ack;
  std::string err;
  if (f.h.type != uint8_t(FrameType::HelloAck)) {
    l.close("server sent frame type " + std::to_string(f.h.type) + " before HELLO_ACK");
    return;
  }
  if (!hello_ack_parse(f.body, f.h.len, ack, err)) {
    l.close(err);
    return;
  }
  hello_timer_.stop();
  session_ = std::make_unique<Session>(loop_, Role::Client, ack.session, this, nullptr, l.name());
  LOG_INFO("link %d: session established with %s (session %016llx, %s)", l.id(), l.name().c_str(),
           (unsigned long long)ack.session, l.cipher().c_str());
  backoff_ = 0;
  session_->add_link(std::move(dialing_));
  while (!pending_.empty() && session_->alive()) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    start_stream(p);
  }
}

void Client::on_link_down(Link &l, const std::string &why) {
  std::string msg = why;
  if (l.tls().pin_mismatch()) msg += "; update \"server-pin\" if the server's key really changed";
  LOG_ERROR("link %d to %s: %s", l.id(), l.name().c_str(), msg.c_str());
  hello_timer_.stop();
  std::shared_ptr<Link> dead(dialing_.release());
  loop_.defer([dead] {});
  dial_failed("");
}

void Client::dial_failed(const std::string &why) {
  if (!why.empty()) LOG_ERROR("server %s: %s", server().str().c_str(), why.c_str());
  server_idx_++;  // the next candidate, if there are several
  schedule_redial();
}

void Client::schedule_redial() {
  if (stopping_) return;
  backoff_ = backoff_ == 0 ? REDIAL_MIN_S : std::min(backoff_ * 2, REDIAL_MAX_S);
  double wait = backoff_ * rand_uniform(0.8, 1.2);
  LOG_INFO("redialling in %.1f s", wait);
  redial_timer_.start(wait);
}

void Client::on_session_down(Session &s, const std::string &why) {
  LOG_INFO("session %016llx with %s ended: %s", (unsigned long long)s.id(), s.peer().c_str(),
           why.c_str());
  std::shared_ptr<Session> dead(session_.release());
  loop_.defer([dead] {});
  if (stopping_) {
    loop_.stop();
    return;
  }
  backoff_ = 0;
  redial_timer_.start(0);
}

void Client::open(int fd, const Target &t, const std::string &label, bool confirm, OpenCallback cb) {
  Pending p{fd, t, label, confirm, std::move(cb), loop_.now() + SESSION_WAIT_S};
  if (session_ && session_->alive()) {
    start_stream(p);
    return;
  }
  if (pending_.size() >= MAX_PENDING_REQUESTS || stopping_) {
    p.cb(uint32_t(ResetCode::GeneralFailure));
    close(fd);
    return;
  }
  LOG_DEBUG("%s -> %s: waiting for a session", label.c_str(), t.str().c_str());
  pending_.push_back(std::move(p));
  if (!pending_timer_.armed()) pending_timer_.start(1);
  dial();
}

void Client::start_stream(Pending &p) {
  if (!p.confirm) p.cb(0);  // early: the application may send at once; OPEN carries it
  bool ok = session_->open_stream(p.fd, p.target, p.label, !p.confirm, p.confirm ? p.cb : OpenCallback());
  if (!ok) {
    LOG_INFO("%s -> %s: session has too many streams", p.label.c_str(), p.target.str().c_str());
    if (p.confirm) p.cb(uint32_t(ResetCode::GeneralFailure));
    close(p.fd);
  }
}

void Client::expire_pending() {
  double now = loop_.now();
  while (!pending_.empty() && pending_.front().deadline <= now) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    LOG_INFO("%s -> %s: no session with %s within %d s", p.label.c_str(), p.target.str().c_str(),
             server().str().c_str(), SESSION_WAIT_S);
    p.cb(uint32_t(ResetCode::GeneralFailure));
    close(p.fd);
  }
  if (!pending_.empty()) pending_timer_.start(1);
}

void Client::stop() {
  if (stopping_) return;
  stopping_ = true;
  LOG_INFO("stopping: listeners closed, draining open streams for up to %d s", DRAIN_S);
  listeners_.clear();
  redial_timer_.stop();
  while (!pending_.empty()) {
    pending_.front().cb(uint32_t(ResetCode::GeneralFailure));
    close(pending_.front().fd);
    pending_.pop_front();
  }
  drain_started_ = loop_.now();
  drain_check();
}

void Client::drain_check() {
  if (!session_ || session_->stream_count() == 0 || loop_.now() - drain_started_ >= DRAIN_S) {
    if (session_) session_->shutdown("client stopping");
    loop_.stop();
    return;
  }
  drain_timer_.start(0.1);
}

}  // namespace braid
