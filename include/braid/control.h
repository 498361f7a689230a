// SPDX-License-Identifier: MIT
// Owns the control socket and `braid ctl`: a UNIX socket (mode 0600) that answers one command
// per connection ("stats", "links", "streams", each optionally "json") from a StatusSource,
// and "watch", which keeps the connection and streams one JSON event per line (link up/down,
// session resumed, stream reset, config reloaded). Also the JSON helpers the answers use.
#pragma once
#include <list>
#include <memory>
#include <string>

#include "braid/loop.h"

namespace braid {

class StatusSource {
 public:
  virtual ~StatusSource() = default;
  // what: "stats", "links" or "streams"; JSON object as DESIGN.md 2 lists the fields.
  virtual std::string status_json(const std::string &what) const = 0;
};

class ControlConn;

class Control {
 public:
  Control(Loop &loop, StatusSource &src);
  ~Control();
  // Binds PATH (an old socket file there is replaced); err says what failed.
  bool bind(const std::string &path, std::string &err);
  void finished(ControlConn *c);
  StatusSource &source() { return src_; }
  Loop &loop() { return loop_; }
  // Sends one event line to every watcher.
  void broadcast(const std::string &json);

 private:
  Loop &loop_;
  StatusSource &src_;
  std::string path_;
  int fd_ = -1;
  IoEvent ev_;
  std::list<std::unique_ptr<ControlConn>> conns_;
  void on_accept();
};

// Publishes an event to the process's control socket, if any: {"event": type, ...fields}.
// fields is a JSON object body without braces ("\"link\":3,\"why\":\"...\"") or empty.
void control_event(const std::string &type, const std::string &fields);

// JSON helpers.
std::string json_str(const std::string &s);  // quoted and escaped

// `braid ctl [-S PATH] [--json] stats|links|streams|watch`; returns the exit status.
int ctl_main(int argc, char **argv, const std::string &default_path);

}  // namespace braid
