// SPDX-License-Identifier: MIT
// Control socket server and the `braid ctl` client.
#include "braid/control.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "braid/buf.h"
#include "braid/log.h"

namespace braid {
namespace {
Control *g_control = nullptr;  // the process's control socket (one per process), for events
constexpr size_t CONTROL_LINE_MAX = 256;
constexpr size_t CONTROL_OUT_MAX = 4 << 20;  // a watcher that does not read is dropped

std::string text_of(const std::string &what, const std::string &json) {
  // The human form is the JSON itself, one field per line: no second formatter to keep in step.
  std::string out;
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < json.size(); i++) {
    char c = json[i];
    if (c == '"' && (i == 0 || json[i - 1] != '\\')) in_str = !in_str;
    if (!in_str && (c == '{' || c == '[')) {
      depth++;
      out += c;
      out += "\n" + std::string(size_t(depth) * 2, ' ');
    } else if (!in_str && (c == '}' || c == ']')) {
      depth--;
      out += "\n" + std::string(size_t(depth > 0 ? depth : 0) * 2, ' ') + c;
    } else if (!in_str && c == ',') {
      out += ",\n" + std::string(size_t(depth) * 2, ' ');
    } else {
      out += c;
    }
  }
  (void)what;
  return out + "\n";
}
}  // namespace

std::string json_str(const std::string &s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20) {
      char b[8];
      snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += char(c);
    }
  }
  return o + "\"";
}

class ControlConn {
 public:
  ControlConn(Control &c, int fd) : c_(c), fd_(fd) {
    rev_.set(c.loop(), fd_, EV_READ, [this](short) { on_read(); });
    rev_.add();
    wev_.set(c.loop(), fd_, EV_WRITE, [this](short) { flush(); });
    deadline_.set(c.loop(), [this] { end(); });
    deadline_.start(10);
  }
  ~ControlConn() {
    if (fd_ >= 0) close(fd_);
  }
  bool watching() const { return watch_; }
  void send(const std::string &s) {
    if (out_.size() + s.size() > CONTROL_OUT_MAX) {
      end();
      return;
    }
    out_.append(s);
    flush();
  }

 private:
  Control &c_;
  int fd_;
  IoEvent rev_, wev_;
  Timer deadline_;
  Buf in_, out_;
  bool watch_ = false, closing_ = false, ended_ = false;

  void on_read() {
    uint8_t *p = in_.reserve(CONTROL_LINE_MAX);
    ssize_t n = read(fd_, p, CONTROL_LINE_MAX);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      end();
      return;
    }
    in_.commit(size_t(n));
    if (watch_) return;  // watchers only listen
    std::string line(reinterpret_cast<const char *>(in_.data()), in_.size());
    size_t nl = line.find('\n');
    if (nl == std::string::npos) {
      if (in_.size() > CONTROL_LINE_MAX) end();
      return;
    }
    command(line.substr(0, nl));
  }

  void command(const std::string &line) {
    bool json = line.find(" json") != std::string::npos;
    std::string what = line.substr(0, line.find(' '));
    if (what == "watch") {
      watch_ = true;
      deadline_.stop();
      send("{\"event\":\"watching\"}\n");
      return;
    }
    if (what != "stats" && what != "links" && what != "streams" && what != "forwards") {
      send("{\"error\":" + json_str("unknown command \"" + what + "\"; use stats, links, streams, forwards or watch") + "}\n");
    } else {
      std::string j = c_.source().status_json(what);
      send(json ? j + "\n" : text_of(what, j));
    }
    closing_ = true;
    flush();
  }

  void flush() {
    while (!out_.empty()) {
      ssize_t n = write(fd_, out_.data(), out_.size());
      if (n > 0) {
        out_.consume(size_t(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        wev_.add();
        return;
      }
      end();
      return;
    }
    wev_.del();
    if (closing_) end();
  }

  void end() {
    if (ended_) return;
    ended_ = true;
    rev_.reset();
    wev_.reset();
    deadline_.stop();
    c_.finished(this);
  }
};

Control::Control(Loop &loop, StatusSource &src) : loop_(loop), src_(src) { g_control = this; }

Control::~Control() {
  if (g_control == this) g_control = nullptr;
  ev_.reset();
  if (fd_ >= 0) {
    close(fd_);
    unlink(path_.c_str());
  }
}

bool Control::bind(const std::string &path, std::string &err) {
  sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    err = "control = \"" + path + "\": path too long for a UNIX socket (max " +
          std::to_string(sizeof sun.sun_path - 1) + " bytes)";
    return false;
  }
  memcpy(sun.sun_path, path.c_str(), path.size());
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  unlink(path.c_str());
  mode_t old = umask(077);  // the socket file is created 0600: only its owner may ask
  int r = fd_ < 0 ? -1 : ::bind(fd_, reinterpret_cast<sockaddr *>(&sun), sizeof sun);
  umask(old);
  if (r != 0 || listen(fd_, 16) != 0) {
    err = "control = \"" + path + "\": cannot listen: " + strerror(errno) +
          "; check that the directory exists and is writable";
    return false;
  }
  chmod(path.c_str(), 0600);
  path_ = path;
  ev_.set(loop_, fd_, EV_READ, [this](short) { on_accept(); });
  ev_.add();
  return true;
}

void Control::on_accept() {
  for (int i = 0; i < 16; i++) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= 64) {
      close(fd);
      continue;
    }
    conns_.push_back(std::make_unique<ControlConn>(*this, fd));
  }
}

void Control::finished(ControlConn *c) {
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->get() != c) continue;
    std::shared_ptr<ControlConn> dead(it->release());
    conns_.erase(it);
    loop_.defer([dead] {});
    return;
  }
}

void Control::broadcast(const std::string &json) {
  std::vector<ControlConn *> w;
  for (auto &c : conns_)
    if (c->watching()) w.push_back(c.get());
  for (ControlConn *c : w) c->send(json + "\n");
}

void control_event(const std::string &type, const std::string &fields) {
  if (!g_control) return;
  g_control->broadcast("{\"event\":" + json_str(type) + (fields.empty() ? "" : "," + fields) + "}");
}

int ctl_main(int argc, char **argv, const std::string &default_path) {
  std::string path = default_path, cmd;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "-S" && i + 1 < argc) path = argv[++i];
    else if (a == "--json") json = true;
    else if (a == "-h" || a == "--help") {
      puts("usage: braid ctl [-S PATH] [-c FILE] [--json] stats|links|streams|forwards|watch\n"
           "Asks a running braid through its control socket (the `control` key).");
      return 0;
    } else if (a == "-c" && i + 1 < argc) {
      i++;  // handled by the caller (default_path)
    } else if (cmd.empty() && a[0] != '-') {
      cmd = a;
    } else {
      fprintf(stderr, "braid ctl: unknown argument \"%s\"\n", a.c_str());
      return 2;
    }
  }
  if (cmd != "stats" && cmd != "links" && cmd != "streams" && cmd != "forwards" && cmd != "watch") {
    fprintf(stderr, "braid ctl: expected a command: stats, links, streams, forwards or watch\n");
    return 2;
  }
  sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&sun), sizeof sun) != 0) {
    fprintf(stderr, "braid ctl: %s: cannot connect: %s; is braid running with control = %s?\n",
            path.c_str(), strerror(errno), path.c_str());
    if (fd >= 0) close(fd);
    return 1;
  }
  std::string line = cmd + (json || cmd == "watch" ? " json" : "") + "\n";
  if (write(fd, line.data(), line.size()) != ssize_t(line.size())) {
    close(fd);
    return 1;
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    fwrite(buf, 1, size_t(n), stdout);
    fflush(stdout);
  }
  close(fd);
  return 0;
}

}  // namespace braid
