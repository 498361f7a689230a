// SPDX-License-Identifier: MIT
// Remote forwards: the server's listeners for clients, and the client's requests for them.
#include "braid/rforward.h"

#include <strings.h>
#include <unistd.h>

#include <cstring>

#include "braid/control.h"
#include "braid/log.h"
#include "braid/mux.h"

namespace braid {

namespace {

bool same_target(const Target &a, const Target &b) {
  if (a.atyp != b.atyp || a.port != b.port) return false;
  if (a.atyp == Atyp::Domain) return strcasecmp(a.domain.c_str(), b.domain.c_str()) == 0;
  return memcmp(a.ip, b.ip, a.atyp == Atyp::Ipv4 ? 4 : 16) == 0;
}

void reply(Session &s, uint32_t req, uint32_t code, uint16_t port, const std::string &msg) {
  std::string f;
  frame_listen_reply(f, req, code, port, msg);
  s.send_control(f);
}

}  // namespace

// One listening socket on the server for one client's remote forward.
struct RemoteForwards::Entry : public Listener {
  Entry(RemoteForwards &o, Loop &loop) : Listener(loop, "remote-forward"), owner(o) {}
  RemoteForwards &owner;
  uint64_t session = 0;
  std::string client;
  uint32_t req = 0;
  Target addr, target;  // where it listens, what the client connects
  void on_accept(int fd, const std::string &peer) override { owner.accepted(*this, fd, peer); }
};

RemoteForwards::RemoteForwards(Loop &loop, SessionDirectory &dir) : loop_(loop), dir_(dir) {}
RemoteForwards::~RemoteForwards() = default;

void RemoteForwards::on_listen(Session &s, const Frame &f) {
  if (f.h.flags == FLAG_CANCEL) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if ((*it)->session != s.id() || (*it)->req != f.h.stream) continue;
      LOG_INFO("server: client \"%s\": remote-forward %s withdrawn", s.client().c_str(),
               (*it)->addr.str().c_str());
      entries_.erase(it);
      return;
    }
    return;
  }
  if (f.h.flags == 0) request(s, f);  // a reply has no business here: ignored
}

void RemoteForwards::request(Session &s, const Frame &f) {
  Target bind, target;
  size_t used = 0, used2 = 0;
  if (target_decode(f.body, f.h.len, bind, &used) != AddrParse::Ok || bind.atyp == Atyp::Domain ||
      bind.port == 0 || target_decode(f.body + used, f.h.len - used, target, &used2) != AddrParse::Ok ||
      used + used2 != f.h.len) {
    reply(s, f.h.stream, uint32_t(ResetCode::AddressUnsupported), 0,
          "malformed LISTEN: expected an IP bind address with a port, then a target");
    return;
  }
  const std::string &who = s.client();
  std::string where = bind.str(), host = target_host(bind);
  auto refuse = [&](ResetCode code, const std::string &why) {
    LOG_INFO("server: client \"%s\": remote-forward %s refused: %s", who.c_str(), where.c_str(), why.c_str());
    reply(s, f.h.stream, uint32_t(code), 0, why);
  };
  const ClientEntry *c = dir_.find_client(who);
  if (!c || !listen_permitted(*c, host, bind.port)) {
    refuse(ResetCode::NotAllowed,
           "not in the listen= rules of \"" + who + "\" in the server's clients file" +
               (c && c->listen.empty() ? " (without listen=: loopback addresses, ports 1024 and up)" : ""));
    return;
  }
  size_t mine = 0;
  for (auto &e : entries_) {
    if (!same_target(e->addr, bind)) {
      mine += e->session == s.id();
      continue;
    }
    if (e->client != who) {
      refuse(ResetCode::GeneralFailure, "in use by another client's remote-forward");
      return;
    }
    // The same client asking again (a resend, or its new session after the old one died
    // unseen): the listener stays bound and serves the asking session from now on.
    if (e->session != s.id())
      LOG_INFO("server: client \"%s\": remote-forward %s moves to session %016llx", who.c_str(),
               where.c_str(), (unsigned long long)s.id());
    e->session = s.id();
    e->req = f.h.stream;
    e->target = target;
    reply(s, f.h.stream, 0, bind.port, "");
    return;
  }
  if (mine >= MAX_REMOTE_FORWARDS) {
    refuse(ResetCode::GeneralFailure, "more than " + std::to_string(MAX_REMOTE_FORWARDS) +
                                          " remote forwards in one session");
    return;
  }
  auto e = std::make_unique<Entry>(*this, loop_);
  std::string err;
  if (!e->bind(Endpoint{host, bind.port}, err)) {
    refuse(ResetCode::GeneralFailure, err);
    return;
  }
  e->session = s.id();
  e->client = who;
  e->req = f.h.stream;
  e->addr = bind;
  e->target = target;
  LOG_INFO("server: client \"%s\": remote-forward listening on %s -> %s (as seen from the client)",
           who.c_str(), e->bound().c_str(), target.str().c_str());
  entries_.push_back(std::move(e));
  reply(s, f.h.stream, 0, bind.port, "");
}

void RemoteForwards::accepted(Entry &e, int fd, const std::string &peer) {
  Session *s = dir_.session_by_id(e.session);
  std::string label = "remote-forward " + e.bound() + " " + peer;
  if (!s || !s->alive()) {
    close(fd);
    return;
  }
  // Early open: the connection's first bytes ride with OPEN; if the client cannot reach the
  // target, the connection is reset.
  OpenCallback cb = [label, t = e.target.str()](uint32_t code) {
    if (code) LOG_INFO("%s -> %s: %s", label.c_str(), t.c_str(), reset_code_str(code));
  };
  if (!s->open_stream(fd, e.target, label, true, cb)) {
    LOG_INFO("%s: session has too many streams", label.c_str());
    close(fd);
  }
}

void RemoteForwards::session_down(Session &s) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if ((*it)->session != s.id()) {
      ++it;
      continue;
    }
    LOG_INFO("server: client \"%s\": remote-forward %s closed with its session", (*it)->client.c_str(),
             (*it)->addr.str().c_str());
    it = entries_.erase(it);
  }
}

void RemoteForwards::close_all() { entries_.clear(); }

std::string RemoteForwards::json() const {
  std::string o;
  for (auto &e : entries_) {
    char sid[17];
    snprintf(sid, sizeof sid, "%016llx", (unsigned long long)e->session);
    o += (o.empty() ? "" : ",") + std::string("{\"kind\":\"remote\",\"client\":") + json_str(e->client) +
         ",\"session\":\"" + sid + "\",\"listen\":" + json_str(e->bound()) +
         ",\"to\":" + json_str(e->target.str()) + ",\"state\":\"listening\"}";
  }
  return o;
}

void RemoteForwards::recheck() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry &e = **it;
    const ClientEntry *c = dir_.find_client(e.client);
    if (c && listen_permitted(*c, target_host(e.addr), e.addr.port)) {
      ++it;
      continue;
    }
    std::string why = c ? "no longer in the listen= rules of \"" + e.client + "\" in the server's clients file"
                        : "client \"" + e.client + "\" is no longer in the server's clients file";
    LOG_INFO("server: remote-forward %s closed: %s", e.addr.str().c_str(), why.c_str());
    if (Session *s = dir_.session_by_id(e.session)) reply(*s, e.req, uint32_t(ResetCode::NotAllowed), 0, why);
    it = entries_.erase(it);
  }
}

// --- client ------------------------------------------------------------------------------------

void RemoteRequests::send(Session &s, Req &r) {
  Target bind;
  target_from_string(r.f.bind.host, r.f.bind.port, bind);
  std::string f;
  frame_listen(f, r.id, target_encode(bind), target_encode(r.target));
  s.send_control(f);
  r.state = State::Pending;
}

void RemoteRequests::session_started(Session &s, const std::vector<Forward> &forwards) {
  reqs_.clear();
  for (const Forward &f : forwards) {
    Req r;
    r.id = next_id_++;
    r.f = f;
    target_from_string(f.host, f.port, r.target);
    reqs_.push_back(r);
    send(s, reqs_.back());
  }
}

void RemoteRequests::resend(Session &s) {
  for (Req &r : reqs_)
    if (r.state == State::Pending) send(s, r);
}

void RemoteRequests::on_reply(const Frame &f) {
  if (f.h.flags != FLAG_REPLY || f.h.len < LISTEN_REPLY_MIN) return;
  for (Req &r : reqs_) {
    if (r.id != f.h.stream) continue;
    uint32_t code = get_u32(f.body);
    std::string msg(reinterpret_cast<const char *>(f.body + LISTEN_REPLY_MIN), f.h.len - LISTEN_REPLY_MIN);
    for (char &ch : msg)
      if (ch < 0x20 || ch > 0x7e) ch = '?';
    if (code == 0) {
      if (r.state != State::Listening)
        LOG_INFO("remote-forward %s: the server listens on %s; connections there reach %s:%u",
                 r.f.text.c_str(), r.f.bind.str().c_str(), r.f.host.c_str(), r.f.port);
      r.state = State::Listening;
      r.why.clear();
    } else {
      r.why = msg.empty() ? reset_code_str(code) : msg;
      LOG_ERROR("remote-forward %s: %s by the server: %s", r.f.text.c_str(),
                r.state == State::Listening ? "closed" : "refused", r.why.c_str());
      r.state = State::Refused;
    }
    return;
  }
}

void RemoteRequests::reload(Session *s, const std::vector<Forward> &forwards) {
  for (auto it = reqs_.begin(); it != reqs_.end();) {
    bool keep = false;
    for (const Forward &f : forwards) keep = keep || f.text == it->f.text;
    if (keep) {
      ++it;
      continue;
    }
    if (s) {
      std::string f;
      frame_listen_cancel(f, it->id);
      s->send_control(f);
    }
    LOG_INFO("remote-forward %s: withdrawn", it->f.text.c_str());
    it = reqs_.erase(it);
  }
  for (const Forward &f : forwards) {
    bool have = false;
    for (const Req &r : reqs_) have = have || r.f.text == f.text;
    if (have) continue;
    Req r;
    r.id = next_id_++;
    r.f = f;
    target_from_string(f.host, f.port, r.target);
    reqs_.push_back(r);
    if (s) send(*s, reqs_.back());
  }
}

std::string RemoteRequests::json(const std::vector<Forward> &configured) const {
  std::string o;
  for (const Forward &f : configured) {
    const Req *r = nullptr;
    for (const Req &q : reqs_) r = q.f.text == f.text ? &q : r;
    const char *state = !r ? "waiting"
                        : r->state == State::Listening ? "listening"
                        : r->state == State::Refused   ? "refused"
                                                       : "requested";
    Target to;
    target_from_string(f.host, f.port, to);
    o += (o.empty() ? "" : ",") + std::string("{\"kind\":\"remote\",\"listen\":") + json_str(f.bind.str()) +
         ",\"to\":" + json_str(to.str()) + ",\"state\":\"" + state +
         "\",\"why\":" + json_str(r ? r->why : "") + "}";
  }
  return o;
}

uint32_t RemoteRequests::accept(const Target &t, const std::string &via, std::string &why) const {
  if (!via.empty()) return 0;
  for (const Req &r : reqs_)
    if (r.state != State::Refused && same_target(r.target, t)) return 0;
  why = "the server opened a stream to " + t.str() + ", which is no remote-forward target of this client";
  return uint32_t(ResetCode::NotAllowed);
}

}  // namespace braid
