// SPDX-License-Identifier: MIT
// Shared accept path for local listeners.
#include "braid/listen.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/dial.h"
#include "braid/log.h"

namespace braid {

Listener::Listener(Loop &loop, std::string kind) : loop_(loop), kind_(std::move(kind)) {}

Listener::~Listener() {
  ev_.reset();
  if (fd_ >= 0) close(fd_);
}

bool Listener::bind(const Endpoint &ep, std::string &err) {
  Target t;
  if (!target_from_string(ep.host, ep.port, t) || t.atyp == Atyp::Domain) {
    err = kind_ + " " + ep.str() + ": bind address must be an IP address";
    return false;
  }
  sockaddr_storage ss;
  socklen_t len = target_sockaddr(t, ss);
  fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    err = kind_ + " " + ep.str() + ": socket: " + strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<sockaddr *>(&ss), len) != 0 || listen(fd_, 1024) != 0) {
    err = kind_ + " " + ep.str() + ": cannot listen: " + strerror(errno) +
          (errno == EADDRINUSE ? "; another program uses this port, pick another" : "");
    close(fd_);
    fd_ = -1;
    return false;
  }
  ev_.set(loop_, fd_, EV_READ, [this](short) { accept_ready(); });
  ev_.add();
  pause_.set(loop_, [this] { ev_.add(); });
  return true;
}

std::string Listener::bound() const { return local_str(fd_); }

void Listener::accept_ready() {
  for (int i = 0; i < 64; i++) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(fd_, reinterpret_cast<sockaddr *>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The pending connection stays in the backlog and would wake us at once again: pause
        // accepting for a second instead of spinning.
        LOG_ERROR("%s %s: accept: %s; pausing 1 s (raise the open file limit: ulimit -n)",
                  kind_.c_str(), bound().c_str(), strerror(errno));
        ev_.del();
        pause_.start(1);
      }
      return;
    }
    socket_setup(fd);
    on_accept(fd, sockaddr_str(reinterpret_cast<sockaddr *>(&ss)));
  }
}

}  // namespace braid
