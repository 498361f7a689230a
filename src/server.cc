// SPDX-License-Identifier: MIT
// Server role: TLS listeners, authentication of new links, sessions.
#include "braid/server.h"

#include <unistd.h>

#include <cstring>
#include <ctime>

#include "braid/frame.h"
#include "braid/limits.h"
#include "braid/log.h"

namespace braid {

namespace {
class TlsListener : public Listener {
 public:
  TlsListener(Loop &loop, Server &s) : Listener(loop, "server"), s_(s) {}

 protected:
  void on_accept(int fd, const std::string &peer) override { s_.accept(fd, peer); }

 private:
  Server &s_;
};
}  // namespace

// A link from the moment it is accepted until its HELLO is checked.
class Handshake : public LinkOwner {
 public:
  Handshake(Server &s, std::unique_ptr<Link> l, std::string peer)
      : s_(s), link_(std::move(l)), peer_(std::move(peer)) {
    link_->set_owner(this);
    deadline_.set(s_.loop(), [this] {
      if (failed_) {
        link_->close("authentication failed");
      } else {
        fail("no HELLO within " + std::to_string(HELLO_DEADLINE_S) + " s");
      }
    });
    deadline_.start(HELLO_DEADLINE_S);
  }

  void on_link_up(Link &) override {}
  void on_link_writable(Link &) override {}
  void on_link_down(Link &, const std::string &why) override {
    if (!link_) return;  // handed to Server::authenticated, which logs its own refusal
    if (!failed_) LOG_INFO("server: connection from %s closed before authenticating: %s", peer_.c_str(), why.c_str());
    s_.handshake_done(this);
  }
  void on_link_bad_frame(Link &, const std::string &why) override { fail("not a HELLO (" + why + ")"); }
  void on_link_frame(Link &, const Frame &f) override;

 private:
  Server &s_;
  std::unique_ptr<Link> link_;
  std::string peer_;
  Timer deadline_;
  bool failed_ = false;

  // Refuses without telling the prober anything useful: with a `fallback`, the connection is
  // relayed there at once, bytes and all; else no GOAWAY, just a close after a random delay,
  // so timing does not reveal which check failed.
  void fail(const std::string &why) {
    if (failed_) return;
    failed_ = true;
    LOG_INFO("server: auth failed from %s: %s", peer_.c_str(), why.c_str());
    if (s_.has_fallback() && link_->up() && !link_->dead()) {
      deadline_.stop();
      s_.to_fallback(std::move(link_));
      s_.handshake_done(this);
      return;
    }
    link_->pause_reading();
    deadline_.start(rand_uniform(AUTH_FAIL_DELAY_MIN_S, AUTH_FAIL_DELAY_MAX_S));
  }
};

void Handshake::on_link_frame(Link &, const Frame &f) {
  if (failed_) return;
  if (f.h.type != uint8_t(FrameType::Hello)) {
    fail("not a HELLO (frame type " + std::to_string(f.h.type) + ")");
    return;
  }
  Hello h;
  std::string err;
  if (!hello_parse(f.body, f.h.len, h, err)) {
    fail(err);
    return;
  }
  const ClientEntry *c = s_.find_client(h.name);
  if (!c) {
    fail("unknown client \"" + h.name + "\"; add it to the clients file");
    return;
  }
  if (!hello_verify_mac(f.body, f.h.len, c->secret)) {
    fail("bad HMAC from client \"" + h.name + "\" (wrong secret?)");
    return;
  }
  uint64_t now = uint64_t(time(nullptr));
  uint64_t skew = h.timestamp > now ? h.timestamp - now : now - h.timestamp;
  if (skew > uint64_t(HELLO_TIME_WINDOW_S)) {
    fail("timestamp of client \"" + h.name + "\" is " + std::to_string(skew) +
         " s off (allowed " + std::to_string(HELLO_TIME_WINDOW_S) + " s); check its clock");
    return;
  }
  if (!s_.replay().check_and_add(h.nonce, h.timestamp, now)) {
    fail("replayed HELLO for client \"" + h.name + "\"");
    return;
  }
  deadline_.stop();
  s_.authenticated(*this, h, std::move(link_));
}

Server::Server(Loop &loop, const Config &cfg)
    : loop_(loop), cfg_(cfg), acl_(cfg.allow, cfg.deny) {
  drain_timer_.set(loop_, [this] { drain_check(); });
}

Server::~Server() = default;

// The first nameserver of /etc/resolv.conf, port 53; 127.0.0.1:53 if there is none.
static Target system_nameserver() {
  Target t;
  target_from_string("127.0.0.1", 53, t);
  FILE *f = fopen("/etc/resolv.conf", "r");
  if (!f) return t;
  char line[512], key[32], addr[128];
  while (fgets(line, sizeof line, f)) {
    Target cand;
    if (sscanf(line, " %31s %127s", key, addr) == 2 && strcmp(key, "nameserver") == 0 &&
        target_from_string(addr, 53, cand) && cand.atyp != Atyp::Domain) {
      t = cand;
      break;
    }
  }
  fclose(f);
  return t;
}

bool Server::start(std::string &err) {
  tls_ = TlsConfig::server(cfg_.cert, cfg_.key, err);
  if (!tls_) return false;
  if (cfg_.dns_upstream.host.empty())
    dns_upstream_ = system_nameserver();
  else
    target_from_string(cfg_.dns_upstream.host, cfg_.dns_upstream.port, dns_upstream_);
  LOG_INFO("server: DNS queries of clients go to %s", dns_upstream_.str().c_str());
  if (!cfg_.control.empty()) {
    control_ = std::make_unique<Control>(loop_, *this);
    if (!control_->bind(cfg_.control, err)) return false;
  }
  return sync_listeners(err);
}

bool Server::sync_listeners(std::string &err) {
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    bool keep = false;
    for (const Endpoint &ep : cfg_.listen) keep = keep || it->first == ep.str();
    if (!keep) LOG_INFO("server: stopped listening on %s", it->second->bound().c_str());
    it = keep ? std::next(it) : listeners_.erase(it);
  }
  acl_ = Acl(cfg_.allow, cfg_.deny);
  for (const Endpoint &ep : cfg_.listen) {
    sockaddr_storage ss;
    Target t;
    target_from_string(ep.host, ep.port, t);
    target_sockaddr(t, ss);
    acl_.add_own(reinterpret_cast<sockaddr *>(&ss));
    bool have = false;
    for (auto &l : listeners_) have = have || l.first == ep.str();
    if (have) continue;
    auto l = std::make_unique<TlsListener>(loop_, *this);
    if (!l->bind(ep, err)) return false;
    LOG_INFO("server: listening on %s", l->bound().c_str());
    listeners_.emplace_back(ep.str(), std::move(l));
  }
  return true;
}

void Server::reload(const Config &next) {
  std::string restart;
  if (next.cert != cfg_.cert || next.key != cfg_.key) restart = "cert, key";
  if (next.control != cfg_.control) restart += std::string(restart.empty() ? "" : ", ") + "control";
  Config keep = cfg_;
  cfg_ = next;
  cfg_.cert = keep.cert;
  cfg_.key = keep.key;
  cfg_.control = keep.control;
  std::string err;
  if (!sync_listeners(err)) LOG_ERROR("reload: %s; the other listeners are in place", err.c_str());
  rforwards_.recheck();
  log_set_level(cfg_.verbose);
  LOG_INFO("server: configuration reloaded (%zu clients)%s%s", cfg_.clients.size(),
           restart.empty() ? "" : "; a restart is needed to change: ", restart.c_str());
  control_event("config_reloaded", "\"restart_needed\":" + json_str(restart));
}

void Server::accept(int fd, const std::string &peer) {
  if (handshakes_.size() >= MAX_PENDING_HANDSHAKES) {
    LOG_INFO("server: %s refused: %zu handshakes in progress", peer.c_str(), handshakes_.size());
    close(fd);
    return;
  }
  auto link = std::make_unique<Link>(loop_, *tls_, fd, false, nullptr, peer);
  handshakes_.push_back(std::make_unique<Handshake>(*this, std::move(link), peer));
}

const ClientEntry *Server::find_client(const std::string &name) const {
  for (const ClientEntry &c : cfg_.clients)
    if (c.name == name) return &c;
  return nullptr;
}

Session *Server::session_by_id(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

Session *Server::session_of(const std::string &name) {
  Session *best = nullptr;
  for (auto &kv : sessions_) {
    Session *s = kv.second.get();
    if (s->client() != name || !s->alive()) continue;
    bool up = s->links_up() > 0, best_up = best && best->links_up() > 0;
    if (!best || (up && !best_up) || (up == best_up && s->created() > best->created())) best = s;
  }
  return best;
}

uint32_t Server::on_peer_open(Session &s, Stream &st, const std::string &via) {
  return relay_.open(s, st, via);
}

void Server::on_listen(Session &s, const Frame &f) { rforwards_.on_listen(s, f); }

void Server::authenticated(Handshake &h, const Hello &hello, std::unique_ptr<Link> link) {
  handshake_done(&h);
  std::string f;
  Session *s = nullptr;
  if (hello.kind != HelloKind::New) {
    auto it = sessions_.find(hello.session);
    // Join tokens are compared in constant time; a wrong one looks like an unknown session.
    bool ok = it != sessions_.end() && it->second->client() == hello.name &&
              it->second->join_token().size() == hello.join_token.size();
    unsigned char diff = 0;
    for (size_t i = 0; ok && i < hello.join_token.size(); i++)
      diff |= uint8_t(hello.join_token[i] ^ it->second->join_token()[i]);
    int max_links = cfg_.given.count("links") ? cfg_.links : MAX_LINKS_PER_SESSION;
    if (ok && diff == 0 && it->second->link_count() >= size_t(max_links)) {
      LOG_INFO("server: client \"%s\": session %016llx already has %d links (links)", hello.name.c_str(),
               (unsigned long long)hello.session, max_links);
      frame_goaway(f, 0, uint32_t(GoAwayCode::Busy));
    } else if (ok && diff == 0) {
      s = it->second.get();
    } else {
      LOG_INFO("server: client \"%s\" asked to %s session %016llx, which is unknown here",
               hello.name.c_str(), hello.kind == HelloKind::Join ? "join" : "resume",
               (unsigned long long)hello.session);
      frame_goaway(f, 0, uint32_t(GoAwayCode::UnknownSession));
    }
  } else if (sessions_.size() >= size_t(cfg_.max_sessions) || stopping_) {
    LOG_INFO("server: client \"%s\" refused: %zu sessions (max-sessions)", hello.name.c_str(),
             sessions_.size());
    frame_goaway(f, 0, uint32_t(GoAwayCode::Busy));
  }
  if (!f.empty()) {
    link->batch() += f;
    link->close("refused");
    std::shared_ptr<Link> dead(link.release());
    loop_.defer([dead] {});
    return;
  }
  HelloAck ack;
  if (s) {
    ack.session = s->id();
    ack.join_token = s->join_token();
  } else {
    rand_bytes(&ack.session, sizeof ack.session);
    ack.join_token.resize(16);
    rand_bytes(&ack.join_token[0], 16);
  }
  // Settings pushed to clients that do not set them themselves: [server] keepalive, links,
  // resume-timeout when given there, else braid's defaults for keepalive and resume.
  ack.keepalive = cfg_.keepalive;
  ack.resume_timeout = cfg_.given.count("resume-timeout") ? cfg_.resume_timeout : RESUME_TIMEOUT_S;
  ack.links_allowed = cfg_.given.count("links") ? cfg_.links : 0;
  std::string body = hello_ack_encode(ack);
  frame_header(link->batch(), FrameType::HelloAck, 0, body.size(), 0);
  link->batch() += body;
  link->flush();
  if (s) {
    LOG_INFO("server: client \"%s\" from %s: link %d %s session %016llx", hello.name.c_str(),
             link->name().c_str(), link->id(), hello.kind == HelloKind::Join ? "joined" : "resumed",
             (unsigned long long)s->id());
    s->add_link(std::move(link));
    return;
  }
  std::string peer = hello.name + "@" + link->name();
  LOG_INFO("server: client \"%s\" from %s: session %016llx established", hello.name.c_str(),
           link->name().c_str(), (unsigned long long)ack.session);
  auto ns = std::make_unique<Session>(loop_, Role::Server, ack.session, this, &acl_, peer);
  ns->set_max_streams(size_t(cfg_.max_streams));
  ns->set_client(hello.name);
  ns->set_join_token(ack.join_token);
  ns->set_resume_timeout(ack.resume_timeout);
  ns->set_send_cap(uint64_t(cfg_.send_buffer_mib) << 20);
  ns->set_dns_upstream(dns_upstream_);
  ns->add_link(std::move(link));
  sessions_[ack.session] = std::move(ns);
}

std::string Server::status_json(const std::string &what) const {
  if (what == "forwards") return "{\"forwards\":[" + rforwards_.json() + "]}";
  if (what == "links" || what == "streams") {
    std::string o;
    for (auto &kv : sessions_) {
      std::string part = what == "links" ? kv.second->json_links() : kv.second->json_streams();
      if (!part.empty()) o += (o.empty() ? "" : ",") + part;
    }
    return "{\"" + what + "\":[" + o + "]}";
  }
  SessionStats t;
  size_t links = 0, open = 0;
  for (auto &kv : sessions_) {
    const SessionStats &s = kv.second->stats();
    t.streams_total += s.streams_total;
    t.bytes_sent += s.bytes_sent;
    t.bytes_received += s.bytes_received;
    t.resent_bytes += s.resent_bytes;
    links += kv.second->links_up();
    open += kv.second->stream_count();
  }
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"role\":\"server\",\"session\":null,\"sessions\":%zu,\"handshakes\":%zu,"
           "\"links_up\":%zu,\"streams_open\":%zu,\"streams_total\":%llu,\"bytes_sent\":%llu,"
           "\"bytes_received\":%llu,\"resent_bytes\":%llu}",
           sessions_.size(), handshakes_.size(), links, open, (unsigned long long)t.streams_total,
           (unsigned long long)t.bytes_sent, (unsigned long long)t.bytes_received,
           (unsigned long long)t.resent_bytes);
  return buf;
}

void Server::log_stats() const {
  LOG_INFO("stats: server sessions %zu handshakes %zu", sessions_.size(), handshakes_.size());
  for (auto &kv : sessions_) kv.second->log_stats();
}

void Server::to_fallback(std::unique_ptr<Link> link) {
  if (relays_.size() >= MAX_PENDING_HANDSHAKES) {
    link->close("too many fallback relays");
    std::shared_ptr<Link> dead(link.release());
    loop_.defer([dead] {});
    return;
  }
  relays_.push_back(nullptr);
  auto it = std::prev(relays_.end());
  *it = std::make_unique<FallbackRelay>(loop_, std::move(link), cfg_.fallback, [this, it] {
    std::shared_ptr<FallbackRelay> dead(it->release());
    relays_.erase(it);
    loop_.defer([dead] {});
  });
}

void Server::handshake_done(Handshake *h) {
  for (auto it = handshakes_.begin(); it != handshakes_.end(); ++it) {
    if (it->get() != h) continue;
    std::shared_ptr<Handshake> dead(it->release());
    handshakes_.erase(it);
    loop_.defer([dead] {});
    return;
  }
}

void Server::on_session_down(Session &s, const std::string &why) {
  LOG_INFO("server: session %016llx (%s) ended: %s", (unsigned long long)s.id(), s.peer().c_str(),
           why.c_str());
  rforwards_.session_down(s);
  auto it = sessions_.find(s.id());
  if (it == sessions_.end()) return;
  std::shared_ptr<Session> dead(it->second.release());
  sessions_.erase(it);
  loop_.defer([dead] {});
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  LOG_INFO("server: stopping: listeners closed, draining open streams for up to %d s", DRAIN_S);
  listeners_.clear();
  rforwards_.close_all();
  drain_started_ = loop_.now();
  drain_check();
}

void Server::drain_check() {
  size_t open = 0;
  for (auto &kv : sessions_) open += kv.second->stream_count();
  if (open == 0 || loop_.now() - drain_started_ >= DRAIN_S) {
    std::vector<Session *> all;
    for (auto &kv : sessions_) all.push_back(kv.second.get());
    for (Session *s : all) s->shutdown("server stopping");
    loop_.stop();
    return;
  }
  drain_timer_.start(0.1);
}

}  // namespace braid
