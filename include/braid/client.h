// SPDX-License-Identifier: MIT
// Owns the client role: local listeners, dialling the server (TLS, pin, HELLO new / join /
// resume), the session and its K links, redial with exponential backoff and jitter, and the
// requests that wait for a session while no link is up.
#pragma once
#include <event2/util.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "braid/config.h"
#include "braid/control.h"
#include "braid/hello.h"
#include "braid/link.h"
#include "braid/listen.h"
#include "braid/loop.h"
#include "braid/acl.h"
#include "braid/mux.h"
#include "braid/rforward.h"
#include "braid/tls.h"

struct evdns_getaddrinfo_request;

namespace braid {

class Client : public StreamOpener, public SessionHost, public LinkOwner, public StatusSource {
 public:
  Client(Loop &loop, const Config &cfg);
  ~Client() override;
  // Loads TLS settings and binds every listener; err says what failed and how to fix it.
  bool start(std::string &err);
  // SIGTERM: stop accepting, let streams drain up to DRAIN_S, then leave the loop.
  void stop();
  void log_stats() const;  // SIGUSR1
  // SIGHUP: applies what it can of a new configuration without dropping connections
  // (listeners, auth files, connect-reply, compress, links, log level) and logs what needs a
  // restart (server, server-pin, name, secret, control).
  void reload(const Config &next);
  std::string status_json(const std::string &what) const override;

  // StreamOpener
  void open(int fd, const Target &t, const std::string &label, bool confirm, OpenCallback cb,
            const std::string &via = "") override;
  uint32_t open_assoc(DatagramSink *sink) override;
  void send_datagram(uint32_t id, const Target &to, const uint8_t *p, size_t n, uint8_t flags) override;
  void close_assoc(uint32_t id) override;
  // SessionHost
  void on_session_down(Session &s, const std::string &why) override;
  void on_link_lost(Session &s) override;
  void on_session_detached(Session &s, const std::string &why) override;
  uint32_t on_peer_open(Session &s, Stream &st, const std::string &via) override;
  void on_listen(Session &s, const Frame &f) override;
  // LinkOwner, for links while they authenticate
  void on_link_up(Link &l) override;
  void on_link_frame(Link &l, const Frame &f) override;
  void on_link_writable(Link &) override {}
  void on_link_down(Link &l, const std::string &why) override;

 private:
  struct Pending {
    int fd;
    Target target;
    std::string label;
    bool confirm;
    OpenCallback cb;
    double deadline;
    std::string via;
  };
  struct Dialing {
    std::unique_ptr<Link> link;
    HelloKind kind;
    double started;
    size_t cand;  // index into cands_
  };
  // One `server` entry: its address once resolved, and why it is or is not in use.
  struct Candidate {
    Client *owner;
    size_t index;
    Endpoint ep;
    sockaddr_storage addr{};
    socklen_t len = 0;
    evdns_getaddrinfo_request *req = nullptr;
    HelloKind kind = HelloKind::New;  // what to dial once resolved
    std::string state = "standby", why;
  };
  Loop &loop_;
  Config cfg_;  // a copy: SIGHUP replaces it
  std::unique_ptr<TlsConfig> tls_;
  // Keyed by what they are ("socks5 127.0.0.1:1080"), so a reload changes only what changed.
  std::vector<std::pair<std::string, std::unique_ptr<Listener>>> listeners_;
  std::vector<std::pair<std::string, std::unique_ptr<DnsForwarder>>> dns_;
  bool sync_listeners(std::string &err);
  std::unique_ptr<Control> control_;
  std::unique_ptr<Session> session_;
  std::vector<Dialing> dialing_;
  std::vector<std::unique_ptr<Candidate>> cands_;
  UpstreamProxy up_;
  RemoteRequests remote_;
  // Server-opened streams (remote and peer forwards) dial what the client can reach; which
  // targets are accepted is RemoteRequests::accept's decision, not an address rule.
  Acl open_acl_;
  size_t active_ = 0;      // the candidate the session lives on
  size_t race_next_ = 0;   // next candidate to dial in a race for a new session
  bool racing_ = false;
  Timer race_timer_;
  double backoff_ = 0;
  Timer redial_timer_, pending_timer_, drain_timer_, dial_timer_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  double drain_started_ = 0;

  const Endpoint &server() const { return cands_[active_]->ep; }
  // Dials whatever is missing: a new session, a resume, or join links up to `links`.
  void maintain();
  void dial(size_t cand, HelloKind kind);
  void race_step();
  void race_check();  // every candidate of a race failed: back off and try them all again
  static void on_resolved(int err, evutil_addrinfo *res, void *arg);
  void schedule_redial();
  static std::string forward_key(const Forward &f);
  Dialing *dialing_for(const Link &l);
  void drop_dialing(const Link &l);
  std::unique_ptr<Link> take_dialing(const Link &l);
  void session_up(Link &l, const HelloAck &ack);
  void adopt(const HelloAck &ack);
  void start_stream(Pending &p);
  void expire_pending();
  void check_dialing();
  void drain_check();
};

}  // namespace braid
