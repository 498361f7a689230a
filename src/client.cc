// SPDX-License-Identifier: MIT
// Client role: listeners, dialling and authenticating links, session, redial, waiting requests.
#include "braid/client.h"

#include <event2/dns.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "braid/dial.h"
#include "braid/http.h"
#include "braid/log.h"

namespace braid {

namespace {
std::vector<Cidr> everywhere() {
  std::vector<Cidr> all(2);
  std::string err;
  parse_cidr("0.0.0.0/0", all[0], err);
  parse_cidr("::/0", all[1], err);
  return all;
}
}  // namespace

Client::Client(Loop &loop, const Config &cfg) : loop_(loop), cfg_(cfg), open_acl_(everywhere(), {}) {
  redial_timer_.set(loop_, [this] { maintain(); });
  race_timer_.set(loop_, [this] { race_step(); });
  pending_timer_.set(loop_, [this] { expire_pending(); });
  drain_timer_.set(loop_, [this] { drain_check(); });
  dial_timer_.set(loop_, [this] { check_dialing(); });
}

Client::~Client() {
  for (auto &c : cands_)
    if (c->req) evdns_getaddrinfo_cancel(c->req);
  for (Pending &p : pending_) close(p.fd);
}

bool Client::start(std::string &err) {
  tls_ = TlsConfig::client(cfg_.server_pin, err);
  if (!tls_) return false;
  if (!cfg_.upstream_proxy.empty() && !parse_upstream_proxy(cfg_.upstream_proxy, up_, err)) return false;
  if (!sync_listeners(err)) return false;
  if (!cfg_.control.empty()) {
    control_ = std::make_unique<Control>(loop_, *this);
    if (!control_->bind(cfg_.control, err)) return false;
  }
  maintain();
  return true;
}

// A forward's listener, by what it does and where: also the name its log lines carry.
std::string Client::forward_key(const Forward &f) {
  return (f.peer.empty() ? "forward to " : "peer-forward to ") + f.host + ":" + std::to_string(f.port) +
         (f.peer.empty() ? "" : " via " + f.peer) + " " + f.bind.str();
}

bool Client::sync_listeners(std::string &err) {
  std::vector<std::pair<std::string, std::function<std::unique_ptr<Listener>()>>> want;
  std::vector<Endpoint> binds;
  for (const Endpoint &ep : cfg_.socks) {
    want.emplace_back("socks5 " + ep.str(), [this] { return std::make_unique<Socks5Listener>(loop_, *this, cfg_); });
    binds.push_back(ep);
  }
  for (const Endpoint &ep : cfg_.http) {
    want.emplace_back("http " + ep.str(), [this] { return std::make_unique<HttpListener>(loop_, *this, cfg_); });
    binds.push_back(ep);
  }
  for (const Forward &f : cfg_.forwards) {
    want.emplace_back(forward_key(f), [this, f] { return std::make_unique<ForwardListener>(loop_, *this, f); });
    binds.push_back(f.bind);
  }
  for (const Forward &f : cfg_.peer_forwards) {
    want.emplace_back(forward_key(f), [this, f] { return std::make_unique<ForwardListener>(loop_, *this, f); });
    binds.push_back(f.bind);
  }
  for (const Endpoint &ep : cfg_.redir) {
    want.emplace_back("redir " + ep.str(), [this] { return std::make_unique<RedirListener>(loop_, *this); });
    binds.push_back(ep);
  }
  // Drop what is no longer wanted, then open what is new; existing ones keep their sockets.
  auto wanted = [&](const std::string &key) {
    for (auto &w : want)
      if (w.first == key) return true;
    return false;
  };
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted(it->first)) {
      ++it;
      continue;
    }
    LOG_INFO("%s: listener closed", it->first.c_str());
    it = listeners_.erase(it);
  }
  for (size_t i = 0; i < want.size(); i++) {
    bool have = false;
    for (auto &l : listeners_) have = have || l.first == want[i].first;
    if (have) continue;
    std::unique_ptr<Listener> l = want[i].second();
    if (!l->bind(binds[i], err)) return false;
    std::string kind = want[i].first.substr(0, want[i].first.rfind(' '));
    LOG_INFO("%s listening on %s", kind.c_str(), l->bound().c_str());
    listeners_.emplace_back(want[i].first, std::move(l));
  }
  for (auto it = dns_.begin(); it != dns_.end();) {
    bool keep = false;
    for (const Endpoint &ep : cfg_.dns) keep = keep || it->first == "dns " + ep.str();
    it = keep ? std::next(it) : dns_.erase(it);
  }
  for (const Endpoint &ep : cfg_.dns) {
    bool have = false;
    for (auto &d : dns_) have = have || d.first == "dns " + ep.str();
    if (have) continue;
    auto d = std::make_unique<DnsForwarder>(loop_, *this);
    if (!d->bind(ep, err)) return false;
    LOG_INFO("dns listening on %s (udp and tcp)", d->bound().c_str());
    dns_.emplace_back("dns " + ep.str(), std::move(d));
  }
  return true;
}

void Client::reload(const Config &next) {
  std::vector<std::string> restart;
  auto servers = [](const Config &c) {
    std::string s;
    for (auto &e : c.servers) s += e.str() + " ";
    return s;
  };
  if (servers(next) != servers(cfg_)) restart.push_back("server");
  if (next.server_pin != cfg_.server_pin) restart.push_back("server-pin");
  if (next.name != cfg_.name) restart.push_back("name");
  if (next.secret != cfg_.secret) restart.push_back("secret");
  if (next.control != cfg_.control) restart.push_back("control");
  Config keep = cfg_;
  cfg_ = next;
  // What needs a restart keeps its running value.
  cfg_.servers = keep.servers;
  cfg_.server_pin = keep.server_pin;
  cfg_.name = keep.name;
  cfg_.secret = keep.secret;
  cfg_.control = keep.control;
  std::string err;
  if (!sync_listeners(err)) LOG_ERROR("reload: %s; the other listeners are in place", err.c_str());
  if (session_) session_->set_compress(CompressMode(cfg_.compress));
  remote_.reload(session_.get(), cfg_.remote_forwards);
  log_set_level(cfg_.verbose);
  std::string r;
  for (auto &k : restart) r += (r.empty() ? "" : ", ") + k;
  LOG_INFO("configuration reloaded%s%s", r.empty() ? "" : "; a restart is needed to change: ",
           r.c_str());
  control_event("config_reloaded", "\"restart_needed\":" + json_str(r));
  maintain();
}

std::string Client::status_json(const std::string &what) const {
  char sid[24] = "";
  if (session_) snprintf(sid, sizeof sid, "%016llx", (unsigned long long)session_->id());
  if (what == "links") {
    std::string o = session_ ? session_->json_links() : "";
    for (const Dialing &d : dialing_)
      if (d.link)
        o += (o.empty() ? "" : ",") + std::string("{\"id\":") + std::to_string(d.link->id()) +
             ",\"server\":" + json_str(d.link->name()) + ",\"state\":\"" +
             (d.link->up() ? "authenticating" : "connecting") + "\"}";
    std::string cands;
    for (auto &c : cands_)
      cands += (cands.empty() ? "" : ",") + std::string("{\"server\":") + json_str(c->ep.str()) +
               ",\"state\":" + json_str(c->state) + ",\"why\":" + json_str(c->why) + "}";
    return "{\"links\":[" + o + "],\"candidates\":[" + cands + "]}";
  }
  if (what == "streams") return "{\"streams\":[" + (session_ ? session_->json_streams() : "") + "]}";
  if (what == "forwards") {
    std::string o;
    for (const std::vector<Forward> *fs : {&cfg_.forwards, &cfg_.peer_forwards})
      for (const Forward &f : *fs) {
        std::string bound = f.bind.str(), key = forward_key(f);
        for (auto &l : listeners_)
          if (l.first == key) bound = l.second->bound();
        Target to;
        target_from_string(f.host, f.port, to);
        o += (o.empty() ? "" : ",") + std::string("{\"kind\":\"") + (f.peer.empty() ? "local" : "peer") +
             "\",\"listen\":" + json_str(bound) + ",\"to\":" + json_str(to.str()) +
             (f.peer.empty() ? "" : ",\"peer\":" + json_str(f.peer)) + ",\"state\":\"listening\"}";
      }
    std::string r = remote_.json(cfg_.remote_forwards);
    if (!r.empty()) o += (o.empty() ? "" : ",") + r;
    return "{\"forwards\":[" + o + "]}";
  }
  SessionStats st;
  if (session_) st = session_->stats();
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"role\":\"client\",\"session\":%s,\"links_up\":%zu,\"streams_open\":%zu,"
           "\"streams_total\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,\"resent_bytes\":%llu,"
           "\"compressed_frames\":%llu,\"compress_saved\":%llu,\"requests_waiting\":%zu,"
           "\"settings\":{\"keepalive\":%d,\"links\":%d,\"resume_timeout\":%d}}",
           session_ ? ("\"" + std::string(sid) + "\"").c_str() : "null",
           session_ ? session_->links_up() : 0, session_ ? session_->stream_count() : 0,
           (unsigned long long)st.streams_total, (unsigned long long)st.bytes_sent,
           (unsigned long long)st.bytes_received, (unsigned long long)st.resent_bytes,
           (unsigned long long)st.compressed_frames, (unsigned long long)st.compress_saved,
           pending_.size(), cfg_.keepalive, cfg_.links, cfg_.resume_timeout);
  return buf;
}

void Client::maintain() {
  if (stopping_) return;
  if (cands_.empty())
    for (const Endpoint &ep : cfg_.servers) {
      cands_.push_back(std::make_unique<Candidate>());
      Candidate &c = *cands_.back();
      c.owner = this;
      c.index = cands_.size() - 1;
      c.ep = ep;
    }
  if (!session_) {
    // Every candidate is dialled, a short stagger apart; the first to authenticate wins.
    if (!racing_ && dialing_.empty()) {
      racing_ = true;
      race_next_ = 0;
      race_step();
    }
    return;
  }
  if (session_->links_up() == 0) {
    if (dialing_.empty()) dial(active_, HelloKind::Resume);
    return;
  }
  for (size_t have = session_->link_count() + dialing_.size(); have < size_t(cfg_.links); have++)
    dial(active_, HelloKind::Join);
}

void Client::race_step() {
  if (session_ || stopping_ || race_next_ >= cands_.size()) return;
  dial(race_next_++, HelloKind::New);
  if (race_next_ < cands_.size()) race_timer_.start(RACE_STAGGER_S);
}

void Client::race_check() {
  if (session_ || !racing_ || race_next_ < cands_.size()) return;
  for (const Dialing &d : dialing_)
    if (d.kind == HelloKind::New) return;
  for (auto &c : cands_)
    if (c->req) return;
  racing_ = false;
  schedule_redial();
}

void Client::on_resolved(int err, evutil_addrinfo *res, void *arg) {
  Candidate *c = static_cast<Candidate *>(arg);
  if (err == EVUTIL_EAI_CANCEL) return;
  c->req = nullptr;
  if (err || !res || res->ai_addrlen > sizeof c->addr) {
    c->state = "failed";
    c->why = std::string("cannot resolve: ") + evutil_gai_strerror(err);
    LOG_ERROR("server %s: %s", c->ep.str().c_str(), c->why.c_str());
    if (c->kind == HelloKind::New) c->owner->race_check();
    else c->owner->schedule_redial();
  } else {
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    c->len = socklen_t(res->ai_addrlen);
    c->owner->dial(c->index, c->kind);
  }
  if (res) evutil_freeaddrinfo(res);
}

void Client::dial(size_t ci, HelloKind kind) {
  Candidate &c = *cands_[ci];
  c.kind = kind;
  // Through an upstream proxy the proxy is what we connect to; it resolves the server's name.
  const Endpoint &to = up_.kind == UpstreamProxy::Kind::None ? c.ep : up_.ep;
  if (c.len == 0) {
    Target t;
    target_from_string(to.host, to.port, t);
    if (t.atyp != Atyp::Domain) {
      c.len = target_sockaddr(t, c.addr);
    } else {
      if (c.req) return;
      evutil_addrinfo hints;
      memset(&hints, 0, sizeof hints);
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      std::string port = std::to_string(to.port);
      // May call on_resolved (and dial) before returning; c.req stays null then.
      evdns_getaddrinfo_request *req =
          evdns_getaddrinfo(loop_.dns(), to.host.c_str(), port.c_str(), &hints, on_resolved, &c);
      if (req && c.len == 0) c.req = req;
      return;
    }
  }
  const sockaddr *sa = reinterpret_cast<const sockaddr *>(&c.addr);
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) socket_setup(fd);
  if (fd < 0 || (connect(fd, sa, c.len) != 0 && errno != EINPROGRESS)) {
    c.state = "failed";
    c.why = std::string("connect") + (up_.kind == UpstreamProxy::Kind::None ? "" : " to upstream proxy " + up_.ep.str()) + ": " + strerror(errno);
    LOG_ERROR("server %s: %s", c.ep.str().c_str(), c.why.c_str());
    if (fd >= 0) close(fd);
    if (kind == HelloKind::New) race_check();
    else schedule_redial();
    return;
  }
  auto link = std::make_unique<Link>(loop_, *tls_, fd, true, this, c.ep.str());
  if (up_.kind != UpstreamProxy::Kind::None)
    link->set_proxy(std::make_unique<ProxyHandshake>(up_.kind, c.ep));
  link->set_keepalive(cfg_.keepalive, std::max(30, 3 * cfg_.keepalive));
  dialing_.push_back(Dialing{std::move(link), kind, loop_.now(), ci});
  if (!dial_timer_.armed()) dial_timer_.start(1);
}

Client::Dialing *Client::dialing_for(const Link &l) {
  for (Dialing &d : dialing_)
    if (d.link.get() == &l) return &d;
  return nullptr;
}

std::unique_ptr<Link> Client::take_dialing(const Link &l) {
  for (auto it = dialing_.begin(); it != dialing_.end(); ++it) {
    if (it->link.get() != &l) continue;
    std::unique_ptr<Link> link = std::move(it->link);
    dialing_.erase(it);
    return link;
  }
  return nullptr;
}

void Client::drop_dialing(const Link &l) {
  std::shared_ptr<Link> dead(take_dialing(l).release());
  if (dead) loop_.defer([dead] {});
}

void Client::on_link_up(Link &l) {
  Dialing *d = dialing_for(l);
  if (!d) return;
  Hello h;
  h.kind = d->kind;
  h.name = cfg_.name;
  h.timestamp = uint64_t(time(nullptr));
  if (h.kind != HelloKind::New && session_) {
    h.session = session_->id();
    h.join_token = session_->join_token();
  }
  std::string body = hello_encode(h, cfg_.secret);
  frame_header(l.batch(), FrameType::Hello, 0, body.size(), 0);
  l.batch() += body;
  l.flush();
}

void Client::on_link_frame(Link &l, const Frame &f) {
  Dialing *d = dialing_for(l);
  if (!d) return;
  if (f.h.type == uint8_t(FrameType::GoAway)) {
    uint32_t code = get_u32(f.body + 4);
    if (code == uint32_t(GoAwayCode::UnknownSession) && session_ && d->kind != HelloKind::New) {
      l.close("server does not know session " + std::to_string(session_->id()));
      session_->shutdown("the server no longer knows this session (it restarted?)");
      return;
    }
    l.close("server refused the link (GOAWAY code " + std::to_string(code) + ")");
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
  if (d->kind == HelloKind::New && session_) {
    l.close("another server answered first");
    return;
  }
  if (d->kind == HelloKind::New) {
    size_t won = d->cand;
    session_up(l, ack);
    remote_.session_started(*session_, cfg_.remote_forwards);
    active_ = won;
    racing_ = false;
    race_timer_.stop();
    for (auto &c : cands_) {
      if (c->index == won) {
        c->state = "in use";
        c->why = "first to authenticate";
      } else if (c->state != "failed") {
        c->state = "standby";
        c->why = "slower than " + cands_[won]->ep.str();
      }
    }
    std::vector<Link *> losers;
    for (Dialing &o : dialing_)
      if (o.kind == HelloKind::New && o.link) losers.push_back(o.link.get());
    for (Link *o : losers) o->close("lost the race to " + cands_[won]->ep.str());
  } else if (session_ && ack.session == session_->id()) {
    LOG_INFO("link %d: %s session %016llx (%s%s)", l.id(),
             d->kind == HelloKind::Join ? "joined" : "resumed", (unsigned long long)ack.session,
             l.cipher().c_str(), l.tls().resumed() ? ", TLS resumed" : "");
    bool resumed = d->kind == HelloKind::Resume;
    session_->add_link(take_dialing(l));
    if (resumed) remote_.resend(*session_);
  } else {
    l.close("server answered for another session");
    return;
  }
  backoff_ = 0;
  while (!pending_.empty() && session_ && session_->links_up()) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    start_stream(p);
  }
  maintain();
}

void Client::adopt(const HelloAck &ack) {
  // Pushed settings apply where this client's own configuration is silent.
  std::string adopted;
  auto take = [&](const char *key, int pushed, int &field) {
    if (pushed <= 0 || cfg_.given.count(key) || field == pushed) return;
    field = pushed;
    adopted += std::string(adopted.empty() ? "" : ", ") + key + " = " + std::to_string(pushed);
  };
  take("keepalive", ack.keepalive, cfg_.keepalive);
  take("resume-timeout", ack.resume_timeout, cfg_.resume_timeout);
  take("links", ack.links_allowed, cfg_.links);
  if (!adopted.empty()) LOG_INFO("settings from the server: %s", adopted.c_str());
  if (ack.links_allowed > 0 && cfg_.links > ack.links_allowed) {  // our own value, capped
    LOG_INFO("links = %d, but the server allows %d per session; using %d", cfg_.links,
             ack.links_allowed, ack.links_allowed);
    cfg_.links = ack.links_allowed;
  }
}

void Client::session_up(Link &l, const HelloAck &ack) {
  adopt(ack);
  session_ = std::make_unique<Session>(loop_, Role::Client, ack.session, this, nullptr, l.name());
  session_->set_join_token(ack.join_token);
  l.set_keepalive(cfg_.keepalive, std::max(30, 3 * cfg_.keepalive));
  session_->set_resume_timeout(cfg_.resume_timeout);
  session_->set_send_cap(uint64_t(cfg_.send_buffer_mib) << 20);
  session_->set_compress(CompressMode(cfg_.compress));
  LOG_INFO("link %d: session established with %s (session %016llx, %s)", l.id(), l.name().c_str(),
           (unsigned long long)ack.session, l.cipher().c_str());
  session_->add_link(take_dialing(l));
}

void Client::on_link_down(Link &l, const std::string &why) {
  std::string msg = why;
  if (l.tls().pin_mismatch()) msg += "; update \"server-pin\" if the server's key really changed";
  Dialing *d = dialing_for(l);
  bool lost_race = why.rfind("lost the race", 0) == 0 || why.rfind("another server", 0) == 0;
  if (lost_race) {
    LOG_INFO("link %d to %s: %s", l.id(), l.name().c_str(), msg.c_str());
  } else {
    LOG_ERROR("link %d to %s: %s", l.id(), l.name().c_str(), msg.c_str());
    if (d) {
      cands_[d->cand]->state = "failed";
      cands_[d->cand]->why = msg;
    }
  }
  HelloKind kind = d ? d->kind : HelloKind::New;
  drop_dialing(l);
  if (lost_race) return;
  if (kind == HelloKind::New) race_check();
  else schedule_redial();
}

void Client::schedule_redial() {
  if (stopping_ || redial_timer_.armed()) return;
  backoff_ = backoff_ == 0 ? REDIAL_MIN_S : std::min(backoff_ * 2, REDIAL_MAX_S);
  double wait = backoff_ * rand_uniform(0.8, 1.2);
  LOG_INFO("redialling in %.1f s", wait);
  redial_timer_.start(wait);
}

void Client::on_link_lost(Session &) { schedule_redial(); }

void Client::on_session_detached(Session &s, const std::string &why) {
  LOG_INFO("session %016llx: all links down (%s); resuming", (unsigned long long)s.id(), why.c_str());
  maintain();
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
  // Links still dialling for the old session are useless now.
  std::vector<Link *> old;
  for (Dialing &d : dialing_)
    if (d.kind != HelloKind::New && d.link) old.push_back(d.link.get());
  for (Link *l : old) l->close("session ended");
  for (auto &c : cands_) c->state = c->state == "in use" ? "standby" : c->state;
  backoff_ = 0;
  redial_timer_.stop();
  redial_timer_.start(0);
}

uint32_t Client::on_peer_open(Session &, Stream &st, const std::string &via) {
  std::string why;
  uint32_t code = remote_.accept(st.target(), via, why);
  if (code) {
    LOG_INFO("stream %u: refused: %s", st.id(), why.c_str());
    return code;
  }
  if (!via.empty()) LOG_DEBUG("stream %u: peer-forward from \"%s\" to %s", st.id(), via.c_str(), st.target().str().c_str());
  st.start_server(open_acl_);
  return 0;
}

void Client::on_listen(Session &, const Frame &f) { remote_.on_reply(f); }

void Client::open(int fd, const Target &t, const std::string &label, bool confirm, OpenCallback cb,
                  const std::string &via) {
  Pending p{fd, t, label, confirm, std::move(cb), loop_.now() + SESSION_WAIT_S, via};
  if (session_ && session_->links_up()) {
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
  maintain();
}

uint32_t Client::open_assoc(DatagramSink *sink) {
  return session_ && session_->links_up() ? session_->open_assoc(sink) : 0;
}

void Client::send_datagram(uint32_t id, const Target &to, const uint8_t *p, size_t n, uint8_t flags) {
  if (session_) session_->send_datagram(id, to, p, n, flags);
}

void Client::close_assoc(uint32_t id) {
  if (session_) session_->close_assoc(id, "closed by the application");
}

void Client::start_stream(Pending &p) {
  if (!p.confirm) p.cb(0);  // early: the application may send at once; OPEN carries it
  bool ok = session_->open_stream(p.fd, p.target, p.label, !p.confirm, p.confirm ? p.cb : OpenCallback(), p.via);
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

void Client::check_dialing() {
  // A link that is not authenticated within the HELLO deadline is given up and redialled.
  double now = loop_.now();
  std::vector<Link *> late;
  for (Dialing &d : dialing_)
    if (d.link && now - d.started > HELLO_DEADLINE_S) late.push_back(d.link.get());
  for (Link *l : late)
    l->close("no HELLO_ACK within " + std::to_string(HELLO_DEADLINE_S) + " s");
  if (!dialing_.empty()) dial_timer_.start(1);
}

void Client::log_stats() const {
  if (!session_) {
    LOG_INFO("stats: no session (%zu requests waiting)", pending_.size());
    return;
  }
  session_->log_stats();
}

void Client::stop() {
  if (stopping_) return;
  stopping_ = true;
  LOG_INFO("stopping: listeners closed, draining open streams for up to %d s", DRAIN_S);
  listeners_.clear();
  dns_.clear();
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
