// SPDX-License-Identifier: MIT
// Owns remote forwards (remote-forward / -R), both ends of them.
// Server: LISTEN requests checked against the client's listen= rules in the clients file
// (default: loopback, ports 1024 and up), one listening socket per bind address, owned by a
// session and handed to the same client's newer session; every connection accepted there
// becomes a stream the server opens (even id) in that session. A listener goes away with its
// session (after the resume timeout), and the client asks again when its next session starts.
// Client: sends a LISTEN per remote-forward when a session starts (again after a resume until
// answered), logs the answer, withdraws removed forwards on reload, and decides which
// server-opened streams it accepts: a remote forward's own target, or a peer forward the
// server relays (the server has checked it against this client's expose= list).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "braid/config.h"
#include "braid/frame.h"
#include "braid/listen.h"
#include "braid/relay.h"

namespace braid {

class Session;

class RemoteForwards {
 public:
  RemoteForwards(Loop &loop, SessionDirectory &dir);
  ~RemoteForwards();
  void on_listen(Session &s, const Frame &f);  // request or cancel from s
  void session_down(Session &s);               // closes the listeners s owns
  void close_all();                            // server stopping
  // SIGHUP: closes the listeners the new clients file no longer allows and tells their
  // clients (a LISTEN reply with the refusal).
  void recheck();
  size_t count() const { return entries_.size(); }
  std::string json() const;  // comma-separated objects for `braid ctl forwards`

 private:
  struct Entry;
  Loop &loop_;
  SessionDirectory &dir_;
  std::vector<std::unique_ptr<Entry>> entries_;
  void accepted(Entry &e, int fd, const std::string &peer);
  void request(Session &s, const Frame &f);
};

class RemoteRequests {
 public:
  // A new session: every remote forward is requested again.
  void session_started(Session &s, const std::vector<Forward> &forwards);
  // A resumed session: requests the server has not answered go out again.
  void resend(Session &s);
  void on_reply(const Frame &f);
  // SIGHUP: withdraws forwards no longer configured and requests new ones (s may be null).
  void reload(Session *s, const std::vector<Forward> &forwards);
  // 0 if this client accepts a server-opened stream to t (via: the client a peer forward comes
  // from, empty for a remote forward), else a ResetCode; why says what was refused.
  uint32_t accept(const Target &t, const std::string &via, std::string &why) const;
  // Comma-separated objects for `braid ctl forwards`, one per configured remote forward
  // (state "waiting" until a session has sent its request).
  std::string json(const std::vector<Forward> &configured) const;

 private:
  enum class State { Pending, Listening, Refused };
  struct Req {
    uint32_t id;
    Forward f;
    Target target;
    State state = State::Pending;
    std::string why;  // the server's reason, when refused
  };
  std::vector<Req> reqs_;
  uint32_t next_id_ = 1;
  void send(Session &s, Req &r);
};

}  // namespace braid
