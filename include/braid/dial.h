// SPDX-License-Identifier: MIT
// Owns the server side of opening a stream: resolving the target asynchronously (evdns),
// checking every resolved address against the ACL, and a non-blocking connect with a deadline,
// trying the addresses in turn. The result maps to a RESET code (SOCKS5 reply values).
#pragma once
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "braid/addr.h"
#include "braid/loop.h"

struct evdns_getaddrinfo_request;
#include <event2/util.h>

namespace braid {

class Acl;

// fd >= 0 on success (connected, non-blocking, owned by the callee); else code is a ResetCode
// value and why a sentence for the log.
using DialDone = std::function<void(int fd, uint32_t code, const std::string &why)>;

class DialJob {
 public:
  // Starts at once; `done` is always called later from the loop, never from inside start.
  // Destroying the job cancels it without calling `done`.
  DialJob(Loop &loop, const Acl &acl, const Target &t, DialDone done);
  ~DialJob();
  DialJob(const DialJob &) = delete;
  DialJob &operator=(const DialJob &) = delete;

 private:
  Loop &loop_;
  const Acl &acl_;
  Target target_;
  DialDone done_;
  evdns_getaddrinfo_request *req_ = nullptr;
  std::vector<sockaddr_storage> addrs_;
  size_t next_ = 0;
  int fd_ = -1;
  uint32_t last_code_ = 0;
  std::string last_why_;
  IoEvent wev_;
  Timer timer_;     // connect deadline / async delivery
  bool finished_ = false;

  static void on_resolved(int err, evutil_addrinfo *res, void *arg);
  void resolved(int err, evutil_addrinfo *res);
  void try_next();
  void on_connect();
  void finish(int fd, uint32_t code, const std::string &why);
};

// TCP_NODELAY for TCP sockets; the socket must come non-blocking and close-on-exec from
// socket() / accept4() (SOCK_NONBLOCK | SOCK_CLOEXEC).
void socket_setup(int fd);
// Maps a connect errno to a ResetCode value.
uint32_t errno_to_reset(int err);

}  // namespace braid
