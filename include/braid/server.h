// SPDX-License-Identifier: MIT
// Owns the server role: TLS listeners, links that have not authenticated yet (HELLO deadline,
// HMAC check, replay cache, delayed close on failure), and the sessions of authenticated
// clients, each with its streams dialled through the target ACL.
#pragma once
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "braid/acl.h"
#include "braid/config.h"
#include "braid/control.h"
#include "braid/fallback.h"
#include "braid/hello.h"
#include "braid/link.h"
#include "braid/listen.h"
#include "braid/loop.h"
#include "braid/mux.h"
#include "braid/relay.h"
#include "braid/rforward.h"
#include "braid/tls.h"

namespace braid {

class Handshake;

class Server : public SessionHost, public StatusSource, public SessionDirectory {
 public:
  Server(Loop &loop, const Config &cfg);
  ~Server() override;
  bool start(std::string &err);
  void stop();  // SIGTERM: close listeners, drain sessions up to DRAIN_S
  void log_stats() const;  // SIGUSR1
  // SIGHUP: new clients file, ACL, listeners, limits and log level apply at once (sessions
  // stay); cert, key and control need a restart and are logged as such.
  void reload(const Config &next);
  std::string status_json(const std::string &what) const override;

  void accept(int fd, const std::string &peer);
  // Called by a Handshake once HELLO checked out; takes the link.
  void authenticated(Handshake &h, const Hello &hello, std::unique_ptr<Link> link);
  void handshake_done(Handshake *h);
  bool has_fallback() const { return !cfg_.fallback.host.empty(); }
  void to_fallback(std::unique_ptr<Link> link);
  // SessionDirectory (remote and peer forwards)
  const ClientEntry *find_client(const std::string &name) const override;
  Session *session_by_id(uint64_t id) override;
  Session *session_of(const std::string &name) override;
  ReplayCache &replay() { return replay_; }
  Loop &loop() { return loop_; }
  void on_session_down(Session &s, const std::string &why) override;
  uint32_t on_peer_open(Session &s, Stream &st, const std::string &via) override;
  void on_listen(Session &s, const Frame &f) override;

 private:
  Loop &loop_;
  Config cfg_;  // a copy: SIGHUP replaces it
  std::unique_ptr<TlsConfig> tls_;
  Acl acl_;
  Target dns_upstream_;
  ReplayCache replay_;
  std::vector<std::pair<std::string, std::unique_ptr<Listener>>> listeners_;  // keyed by address
  bool sync_listeners(std::string &err);
  std::list<std::unique_ptr<Handshake>> handshakes_;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  // After sessions_: destroyed first, so no listener outlives the sessions it serves.
  RemoteForwards rforwards_{loop_, *this};
  PeerRelay relay_{*this};
  std::unique_ptr<Control> control_;
  std::list<std::unique_ptr<FallbackRelay>> relays_;
  Timer drain_timer_;
  double drain_started_ = 0;
  bool stopping_ = false;
  void drain_check();
};

}  // namespace braid
