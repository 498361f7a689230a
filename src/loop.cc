// SPDX-License-Identifier: MIT
// Reactor: event_base, events, timers, signals, deferred work.
#include "braid/loop.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <malloc.h>
#include <sys/random.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "braid/limits.h"

namespace braid {

Loop::Loop() {
  base_ = event_base_new();
  if (!base_) throw std::runtime_error("event_base_new failed");
  defer_ev_ = event_new(base_, -1, 0, &Loop::on_defer, this);
  trim_ev_ = evtimer_new(base_, &Loop::on_trim, this);
}

Loop::~Loop() {
  if (dns_) evdns_base_free(dns_, 0);
  if (defer_ev_) event_free(defer_ev_);
  if (trim_ev_) event_free(trim_ev_);
  trim_ev_ = nullptr;  // streams freed with deferred_ below must not arm it
  event_base_free(base_);
}

evdns_base *Loop::dns() {
  if (!dns_) {
    dns_ = evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!dns_) dns_ = evdns_base_new(base_, 0);  // no resolv.conf: names fail, literals work
  }
  return dns_;
}

int Loop::run() { return event_base_dispatch(base_); }
void Loop::stop() { event_base_loopbreak(base_); }

void Loop::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (deferred_.size() == 1) event_active(defer_ev_, 0, 0);
}

void Loop::on_defer(int, short, void *arg) {
  Loop *self = static_cast<Loop *>(arg);
  // Work deferred while running deferred work runs in the next round.
  std::vector<std::function<void()>> now;
  now.swap(self->deferred_);
  for (auto &fn : now) fn();
}

void Loop::trim_soon() {
  if (!trim_ev_ || evtimer_pending(trim_ev_, nullptr)) return;
  struct timeval tv = {0, suseconds_t(TRIM_DELAY_S * 1e6)};
  evtimer_add(trim_ev_, &tv);
}

void Loop::on_trim(int, short, void *) { trim_memory(); }

void trim_memory() {
#ifdef __GLIBC__
  // glibc keeps freed chunks in its heap (it returns only a large free top by itself) until
  // malloc_trim; musl's allocator returns memory on its own.
  malloc_trim(0);
#endif
}

double Loop::now() const {
  struct timeval tv;
  event_base_gettimeofday_cached(base_, &tv);
  return tv.tv_sec + tv.tv_usec / 1e6;
}

IoEvent::~IoEvent() { reset(); }

void IoEvent::set(Loop &loop, int fd, short what, std::function<void(short)> cb) {
  reset();
  cb_ = std::move(cb);
  ev_ = event_new(loop.base(), fd, what | EV_PERSIST, &IoEvent::on_event, this);
}
void IoEvent::add() {
  if (ev_ && !added_) {
    event_add(ev_, nullptr);
    added_ = true;
  }
}
void IoEvent::del() {
  if (ev_ && added_) {
    event_del(ev_);
    added_ = false;
  }
}
bool IoEvent::pending() const { return added_; }
void IoEvent::reset() {
  if (ev_) {
    event_free(ev_);
    ev_ = nullptr;
  }
  added_ = false;
}
void IoEvent::on_event(int, short what, void *arg) {
  IoEvent *self = static_cast<IoEvent *>(arg);
  self->cb_(what);
}

Timer::~Timer() {
  if (ev_) event_free(ev_);
}
void Timer::set(Loop &loop, std::function<void()> cb) {
  if (ev_) event_free(ev_);
  cb_ = std::move(cb);
  ev_ = evtimer_new(loop.base(), &Timer::on_timer, this);
}
void Timer::start(double s) {
  if (s < 0) s = 0;
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(s);
  tv.tv_usec = static_cast<suseconds_t>((s - std::floor(s)) * 1e6);
  evtimer_add(ev_, &tv);
}
void Timer::stop() {
  if (ev_) evtimer_del(ev_);
}
bool Timer::armed() const { return ev_ && evtimer_pending(ev_, nullptr); }
void Timer::on_timer(int, short, void *arg) { static_cast<Timer *>(arg)->cb_(); }

Signal::~Signal() {
  if (ev_) event_free(ev_);
}
void Signal::set(Loop &loop, int signo, std::function<void()> cb) {
  cb_ = std::move(cb);
  ev_ = evsignal_new(loop.base(), signo, &Signal::on_signal, this);
  event_add(ev_, nullptr);
}
void Signal::on_signal(int, short, void *arg) { static_cast<Signal *>(arg)->cb_(); }

void rand_bytes(void *p, size_t n) {
  uint8_t *b = static_cast<uint8_t *>(p);
  while (n > 0) {
    ssize_t r = getrandom(b, n, 0);
    if (r <= 0) continue;  // EINTR; getrandom on a booted system does not fail otherwise
    b += r;
    n -= static_cast<size_t>(r);
  }
}

double rand_uniform(double lo, double hi) {
  uint64_t r;
  rand_bytes(&r, sizeof r);
  return lo + (hi - lo) * (static_cast<double>(r >> 11) / static_cast<double>(1ULL << 53));
}

} // namespace braid
