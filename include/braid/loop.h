// SPDX-License-Identifier: MIT
// Owns the reactor: one libevent event_base (epoll/kqueue) and one evdns resolver per process,
// RAII wrappers for I/O events, timers and signals, and deferred work so an object is never
// freed inside its own callback (callbacks mark, the loop reaps).
#pragma once
#include <functional>
#include <memory>
#include <vector>

struct event_base;
struct event;
struct evdns_base;

namespace braid {

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop &) = delete;
  Loop &operator=(const Loop &) = delete;

  event_base *base() const { return base_; }
  // Created on first use from /etc/resolv.conf (or `nameserver` if given).
  evdns_base *dns();
  int run();    // until stop() or nothing is left
  void stop();  // leave run() after the current callbacks
  // Runs fn from the loop soon, outside whatever callback is running now.
  void defer(std::function<void()> fn);
  double now() const;  // monotonic seconds (cached per loop iteration)
  // Memory went out of use (streams closed, start-up done): within TRIM_DELAY_S it goes back to
  // the OS (trim_memory()). Coalesces: one trim per delay however often it is called.
  void trim_soon();

 private:
  event_base *base_ = nullptr;
  evdns_base *dns_ = nullptr;
  event *defer_ev_ = nullptr;
  event *trim_ev_ = nullptr;
  std::vector<std::function<void()>> deferred_;
  static void on_defer(int, short, void *arg);
  static void on_trim(int, short, void *arg);
};

// An fd watcher; the callback gets the libevent `what` bits (EV_READ, EV_WRITE, EV_TIMEOUT).
class IoEvent {
 public:
  IoEvent() = default;
  ~IoEvent();
  IoEvent(const IoEvent &) = delete;
  IoEvent &operator=(const IoEvent &) = delete;
  void set(Loop &loop, int fd, short what, std::function<void(short)> cb);  // EV_PERSIST added
  void add();
  void del();
  bool pending() const;
  void reset();  // del + free

 private:
  event *ev_ = nullptr;
  std::function<void(short)> cb_;
  bool added_ = false;
  static void on_event(int, short what, void *arg);
};

class Timer {
 public:
  Timer() = default;
  ~Timer();
  Timer(const Timer &) = delete;
  Timer &operator=(const Timer &) = delete;
  void set(Loop &loop, std::function<void()> cb);
  void start(double seconds);  // (re)arms once
  void stop();
  bool armed() const;

 private:
  event *ev_ = nullptr;
  std::function<void()> cb_;
  static void on_timer(int, short, void *arg);
};

class Signal {
 public:
  Signal() = default;
  ~Signal();
  void set(Loop &loop, int signo, std::function<void()> cb);

 private:
  event *ev_ = nullptr;
  std::function<void()> cb_;
  static void on_signal(int, short, void *arg);
};

// Returns the heap's free pages to the OS. Called from the loop's trim timer; safe at any time.
void trim_memory();

// Random helpers shared by backoff and auth delays.
double rand_uniform(double lo, double hi);
void rand_bytes(void *p, size_t n);

} // namespace braid
