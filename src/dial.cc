// SPDX-License-Identifier: MIT
// Target resolution and non-blocking connect for the server.
#include "braid/dial.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "braid/acl.h"
#include "braid/frame.h"
#include "braid/limits.h"

namespace braid {

void socket_setup(int fd) {
  // Non-blocking and close-on-exec come from socket()/accept4() flags: no fcntl round trips
  // (three syscalls per connection on each side).
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on non-TCP
}

uint32_t errno_to_reset(int err) {
  switch (err) {
    case ECONNREFUSED: return uint32_t(ResetCode::Refused);
    case ENETUNREACH: return uint32_t(ResetCode::NetworkUnreachable);
    case EHOSTUNREACH: return uint32_t(ResetCode::HostUnreachable);
    case ETIMEDOUT: return uint32_t(ResetCode::TtlExpired);
    case EAFNOSUPPORT:
    case EADDRNOTAVAIL: return uint32_t(ResetCode::AddressUnsupported);
    default: return uint32_t(ResetCode::GeneralFailure);
  }
}

DialJob::DialJob(Loop &loop, const Acl &acl, const Target &t, DialDone done)
    : loop_(loop), acl_(acl), target_(t), done_(std::move(done)) {
  timer_.set(loop_, [this] {
    if (fd_ >= 0) {  // connect deadline
      close(fd_);
      fd_ = -1;
      wev_.reset();
      last_code_ = uint32_t(ResetCode::TtlExpired);
      last_why_ = "connect timed out after " + std::to_string(DIAL_TIMEOUT_S) + " s";
    }
    try_next();
  });
  if (t.atyp != Atyp::Domain) {
    sockaddr_storage ss;
    target_sockaddr(t, ss);
    addrs_.push_back(ss);
    timer_.start(0);  // deliver from the loop, never from inside the constructor
    return;
  }
  evutil_addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
  std::string port = std::to_string(t.port);
  // evdns may answer synchronously (localhost, cached, or an error); on_resolved then runs
  // before this returns, and resolved() only records and schedules.
  req_ = evdns_getaddrinfo(loop_.dns(), t.domain.c_str(), port.c_str(), &hints, on_resolved, this);
}

DialJob::~DialJob() {
  finished_ = true;
  if (req_) evdns_getaddrinfo_cancel(req_);
  if (fd_ >= 0) close(fd_);
}

void DialJob::on_resolved(int err, evutil_addrinfo *res, void *arg) {
  DialJob *self = static_cast<DialJob *>(arg);
  if (err == EVUTIL_EAI_CANCEL) {
    if (res) evutil_freeaddrinfo(res);
    return;  // the job is being destroyed
  }
  self->req_ = nullptr;
  self->resolved(err, res);
}

void DialJob::resolved(int err, evutil_addrinfo *res) {
  if (err) {
    last_code_ = uint32_t(ResetCode::HostUnreachable);
    last_why_ = std::string("cannot resolve ") + target_.domain + ": " + evutil_gai_strerror(err);
  }
  for (evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    addrs_.push_back(ss);
  }
  if (res) evutil_freeaddrinfo(res);
  timer_.start(0);
}

void DialJob::try_next() {
  while (next_ < addrs_.size()) {
    const sockaddr *sa = reinterpret_cast<const sockaddr *>(&addrs_[next_++]);
    std::string why;
    if (!acl_.permits(sa, why)) {
      last_code_ = uint32_t(ResetCode::NotAllowed);
      last_why_ = sockaddr_str(sa) + " not allowed: " + why;
      continue;
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_code_ = errno_to_reset(errno);
      last_why_ = std::string("socket: ") + strerror(errno);
      continue;
    }
    socket_setup(fd);
    socklen_t len = sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
      last_code_ = errno_to_reset(errno);
      last_why_ = sockaddr_str(sa) + ": " + strerror(errno);
      close(fd);
      continue;
    }
    fd_ = fd;
    wev_.set(loop_, fd, EV_WRITE, [this](short) { on_connect(); });
    wev_.add();
    timer_.start(DIAL_TIMEOUT_S);
    return;
  }
  if (!last_code_) {
    last_code_ = uint32_t(ResetCode::HostUnreachable);
    last_why_ = "no address for " + target_.str();
  }
  finish(-1, last_code_, last_why_);
}

void DialJob::on_connect() {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  wev_.reset();
  timer_.stop();
  if (err) {
    last_code_ = errno_to_reset(err);
    sockaddr_storage &ss = addrs_[next_ - 1];
    last_why_ = sockaddr_str(reinterpret_cast<sockaddr *>(&ss)) + ": " + strerror(err);
    close(fd_);
    fd_ = -1;
    try_next();
    return;
  }
  int fd = fd_;
  fd_ = -1;
  finish(fd, 0, "");
}

void DialJob::finish(int fd, uint32_t code, const std::string &why) {
  if (finished_) {
    if (fd >= 0) close(fd);
    return;
  }
  finished_ = true;
  done_(fd, code, why);  // may destroy this job
}

}  // namespace braid
