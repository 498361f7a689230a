// SPDX-License-Identifier: MIT
// Logging sinks and levels.
#include "braid/log.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <syslog.h>
#include <unistd.h>

namespace braid {
namespace {
enum class Sink { Stderr, Syslog, File };
Sink g_sink = Sink::Stderr;
FILE *g_file = nullptr;
int g_level = 1;
const char *const LEVEL_NAMES[] = {"error", "info", "debug", "trace"};
}  // namespace

bool log_open(const std::string &sink, std::string &err) {
  if (g_file) {
    fclose(g_file);
    g_file = nullptr;
  }
  if (sink.empty() || sink == "stderr") {
    g_sink = Sink::Stderr;
  } else if (sink == "syslog") {
    openlog("braid", LOG_PID, LOG_DAEMON);
    g_sink = Sink::Syslog;
  } else {
    g_file = fopen(sink.c_str(), "a");
    if (!g_file) {
      err = "log = \"" + sink + "\": cannot open: " + strerror(errno);
      g_sink = Sink::Stderr;
      return false;
    }
    setvbuf(g_file, nullptr, _IOLBF, 0);
    g_sink = Sink::File;
  }
  return true;
}

void log_set_level(int verbose) { g_level = verbose < 0 ? 0 : verbose > 3 ? 3 : verbose; }

bool log_enabled(LogLevel lvl) { return static_cast<int>(lvl) <= g_level; }

void log_msg(LogLevel lvl, const char *fmt, ...) {
  if (!log_enabled(lvl)) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int li = static_cast<int>(lvl);
  if (g_sink == Sink::Syslog) {
    static const int PRIO[] = {LOG_ERR, LOG_INFO, LOG_DEBUG, LOG_DEBUG};
    syslog(PRIO[li], "%s", msg);
    return;
  }
  char ts[32];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  FILE *out = g_sink == Sink::File ? g_file : stderr;
  static const int pid = int(getpid());  // braid never forks; glibc does not cache getpid()
  fprintf(out, "%s.%03ldZ braid[%d] %s: %s\n", ts, now.tv_nsec / 1000000, pid,
          LEVEL_NAMES[li], msg);
}

}  // namespace braid
