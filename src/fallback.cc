// SPDX-License-Identifier: MIT
// Probe fallback: relay an unauthenticated link's plaintext to a real web server.
#include "braid/fallback.h"

#include <event2/event.h>
#include <unistd.h>

#include <cerrno>

#include "braid/limits.h"
#include "braid/log.h"

namespace braid {
namespace {
constexpr size_t FALLBACK_BUFFER_MAX = 1 << 20;  // a prober that floods past this is cut off

Acl allow_all() {
  std::vector<Cidr> all(2);
  std::string err;
  parse_cidr("0.0.0.0/0", all[0], err);
  parse_cidr("::/0", all[1], err);
  return Acl(all, {});
}
}  // namespace

FallbackRelay::FallbackRelay(Loop &loop, std::unique_ptr<Link> link, const Endpoint &to,
                             std::function<void()> done)
    : loop_(loop), link_(std::move(link)), any_(allow_all()), done_(std::move(done)) {
  link_->set_owner(this);
  link_->set_raw([this](const uint8_t *p, size_t n) { on_raw(p, n); });
  Target t;
  target_from_string(to.host, to.port, t);
  dial_.reset(new DialJob(loop_, any_, t, [this, to](int fd, uint32_t, const std::string &why) {
    if (fd < 0) {
      LOG_ERROR("server: fallback %s: %s; check the fallback key", to.str().c_str(), why.c_str());
      finish("fallback unreachable");
      return;
    }
    fd_ = fd;
    rev_.set(loop_, fd_, EV_READ, [this](short) { on_fb_readable(); });
    wev_.set(loop_, fd_, EV_WRITE, [this](short) { flush_fb(); });
    rev_.add();
    flush_fb();
  }));
}

FallbackRelay::~FallbackRelay() {
  rev_.reset();
  wev_.reset();
  if (fd_ >= 0) close(fd_);
}

void FallbackRelay::on_raw(const uint8_t *p, size_t n) {
  if (to_fb_.size() + n > FALLBACK_BUFFER_MAX) {
    finish("prober sent more than the fallback took");
    return;
  }
  to_fb_.append(p, n);
  flush_fb();
}

void FallbackRelay::flush_fb() {
  if (fd_ < 0) return;
  while (!to_fb_.empty()) {
    ssize_t n = write(fd_, to_fb_.data(), to_fb_.size());
    if (n > 0) {
      to_fb_.consume(size_t(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      wev_.add();
      return;
    }
    finish("fallback write failed");
    return;
  }
  wev_.del();
}

void FallbackRelay::on_fb_readable() {
  uint8_t buf[16384];
  ssize_t n = read(fd_, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    finish("fallback closed");
    return;
  }
  link_->batch().append(reinterpret_cast<const char *>(buf), size_t(n));
  link_->flush();
  if (!link_->dead() && link_->backlog() >= LINK_OUT_HIGH) rev_.del();  // wait for the prober
}

void FallbackRelay::on_link_writable(Link &) {
  if (fd_ >= 0 && !finished_) rev_.add();
}

void FallbackRelay::on_link_down(Link &, const std::string &why) { finish(why); }

void FallbackRelay::finish(const std::string &why) {
  if (finished_) return;
  finished_ = true;
  LOG_DEBUG("server: fallback relay ends: %s", why.c_str());
  rev_.reset();
  wev_.reset();
  if (link_ && !link_->dead()) link_->close(why);
  std::function<void()> done = done_;
  done();  // the owner frees this relay later, from the loop
}

}  // namespace braid
