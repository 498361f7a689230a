// SPDX-License-Identifier: MIT
// Command line: a table of subcommands (client, server, keygen, secret, check-config, version).
#include <event2/event.h>
#include <lz4.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "braid/client.h"
#include "braid/config.h"
#include "braid/log.h"
#include "braid/loop.h"
#include "braid/server.h"
#include "braid/tls.h"

using namespace braid;

namespace {

const char USAGE[] =
    "usage: braid client -c FILE [-v] [--KEY VALUE ...] [-k LINKS] [-D [BIND:]PORT]\n"
    "                    [-H [BIND:]PORT] [-L [BIND:]PORT:HOST:HOSTPORT]\n"
    "                    [-R [BIND:]PORT:HOST:HOSTPORT]\n"
    "       braid server -c FILE [-v] [--KEY VALUE ...]\n"
    "       braid keygen --out PREFIX\n"
    "       braid secret\n"
    "       braid check-config -c FILE\n"
    "       braid ctl [-S PATH] [-c FILE] [--json] stats|links|streams|forwards|watch\n"
    "       braid version | --version\n"
    "Every config key has a long flag twin (--server-pin, --links, ...); see braid.conf(5).\n";

std::string version_string() {
  return std::string("braid ") + BRAID_VERSION + " (" + tls_library_version() + ", libevent " +
         event_get_version() + ", lz4 " + LZ4_versionString() + ")";
}

bool wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return true;
  return false;
}

// Parses -c/-v/-k/-D and --key value flags into a Config. Returns 0 or the exit status.
int load_config(Role role, int argc, char **argv, Config &out) {
  std::string file;
  int extra_verbose = 0;
  std::vector<std::pair<std::string, std::string>> flags;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](std::string &v) {
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-v") {
      extra_verbose++;
    } else if (a == "-c" || a == "-k" || a == "-D" || a == "-L" || a == "-H" || a == "-R") {
      if (!value(v)) {
        fprintf(stderr, "braid: %s needs a value\n%s", a.c_str(), USAGE);
        return 2;
      }
      if (a == "-c") file = v;
      else
        flags.emplace_back(a == "-k"   ? "links"
                           : a == "-D" ? "socks"
                           : a == "-L" ? "forward"
                           : a == "-R" ? "remote-forward"
                                       : "http",
                           v);
    } else if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string key = a.substr(2);
      if (key == "secret" || key.compare(0, 7, "secret=") == 0) {
        // Anyone on the machine can read a process's argv (ps, /proc).
        fprintf(stderr, "braid: --secret would show the secret to every user of this machine "
                        "(ps); put it in a file and use --secret-file FILE\n");
        return 2;
      }
      size_t eq = key.find('=');
      if (eq != std::string::npos) {
        flags.emplace_back(key.substr(0, eq), key.substr(eq + 1));
      } else if (value(v)) {
        flags.emplace_back(key, v);
      } else {
        fprintf(stderr, "braid: %s needs a value\n", a.c_str());
        return 2;
      }
    } else {
      fprintf(stderr, "braid: unknown argument \"%s\"\n%s", a.c_str(), USAGE);
      return 2;
    }
  }
  ConfigParser p;
  bool ok = file.empty() ? (config_begin(p, role, "command line"), true) : config_load(p, role, file);
  p.file = "command line";
  p.line = 0;
  for (size_t k = 0; ok && k < flags.size(); k++) ok = config_kv(p, flags[k].first, flags[k].second);
  if (ok) {
    if (file.empty()) p.file = "command line";
    else p.file = file;
    ok = config_end(p);
  }
  if (!ok) {
    fprintf(stderr, "braid: %s\n", p.err.c_str());
    return 2;
  }
  out = p.cfg;
  out.verbose += extra_verbose;
  return 0;
}

void write_pidfile(const std::string &path) {
  if (path.empty()) return;
  FILE *f = fopen(path.c_str(), "w");
  bool ok = f && fprintf(f, "%ld\n", (long)getpid()) > 0;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) LOG_ERROR("pidfile %s: cannot write: %s", path.c_str(), strerror(errno));
}

template <typename Role_>
int run(Role role, int argc, char **argv) {
  if (wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  Config cfg;
  if (int rc = load_config(role, argc, argv, cfg)) return rc;
  std::string err;
  if (!log_open(cfg.log, err)) {
    fprintf(stderr, "braid: %s\n", err.c_str());
    return 2;
  }
  log_set_level(cfg.verbose);
  for (const std::string &w : config_permission_warnings(cfg)) LOG_ERROR("warning: %s", w.c_str());
  signal(SIGPIPE, SIG_IGN);
  Loop loop;
  Role_ r(loop, cfg);
  if (!r.start(err)) {
    LOG_ERROR("%s", err.c_str());
    return 1;
  }
  write_pidfile(cfg.pidfile);
  loop.trim_soon();  // config parsing, certificates, TLS setup: start-up memory goes back
  Signal term, intr, usr1;
  term.set(loop, SIGTERM, [&] { r.stop(); });
  intr.set(loop, SIGINT, [&] { r.stop(); });
  usr1.set(loop, SIGUSR1, [&] { r.log_stats(); });
  Signal hup;
  hup.set(loop, SIGHUP, [&] {
    Config next;
    if (load_config(role, argc, argv, next) != 0) {
      LOG_ERROR("reload: the configuration has errors (see above); keeping the running one");
      return;
    }
    std::string e;
    if (!log_open(next.log, e)) LOG_ERROR("reload: %s", e.c_str());
    r.reload(next);
  });
  LOG_INFO("%s started", version_string().c_str());
  loop.run();
  if (!cfg.pidfile.empty()) unlink(cfg.pidfile.c_str());
  LOG_INFO("stopped");
  return 0;
}

int cmd_client(int argc, char **argv) { return run<Client>(Role::Client, argc, argv); }
int cmd_server(int argc, char **argv) { return run<Server>(Role::Server, argc, argv); }

int cmd_keygen(int argc, char **argv) {
  std::string prefix;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) prefix = argv[++i];
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      puts("usage: braid keygen --out PREFIX\n"
           "Writes PREFIX.key (ECDSA P-256, mode 0600) and PREFIX.crt (self-signed) and prints\n"
           "the pin to put in the clients' server-pin.");
      return 0;
    }
  }
  if (prefix.empty()) {
    fputs("braid keygen: --out PREFIX is required (writes PREFIX.key and PREFIX.crt)\n", stderr);
    return 2;
  }
  std::string pin, err;
  if (!tls_keygen(prefix, pin, err)) {
    fprintf(stderr, "braid keygen: %s\n", err.c_str());
    return 1;
  }
  printf("pin %s\n", pin.c_str());
  return 0;
}

int cmd_secret(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    puts("usage: braid secret\nPrints a new 32-byte secret in base64, for a client's secret-file\n"
         "and the server's clients file.");
    return 0;
  }
  std::string raw(32, '\0');
  rand_bytes(&raw[0], raw.size());
  printf("%s\n", base64_encode(raw).c_str());
  return 0;
}

// Which sections a config file has, so check-config knows what to check.
void sections_of(const std::string &file, bool &client, bool &server) {
  FILE *f = fopen(file.c_str(), "r");
  if (!f) return;
  char buf[512];
  bool at_start = true;  // a line longer than buf comes in pieces; only the first one counts
  while (fgets(buf, sizeof buf, f)) {
    std::string line(buf);
    bool first = at_start;
    at_start = !line.empty() && line.back() == '\n';
    if (!first) continue;
    size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos) continue;
    if (line.compare(a, 8, "[client]") == 0) client = true;
    if (line.compare(a, 8, "[server]") == 0) server = true;
  }
  fclose(f);
}

int cmd_check_config(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    puts("usage: braid check-config -c FILE\nValidates FILE (every section in it) and exits 0, or\n"
         "prints FILE:LINE: and what to fix and exits 2.");
    return 0;
  }
  std::string file;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-c") && i + 1 < argc) file = argv[++i];
  if (file.empty()) {
    fputs("braid check-config: -c FILE is required\n", stderr);
    return 2;
  }
  bool client = false, server = false;
  sections_of(file, client, server);
  if (!client && !server) client = true;  // let the parser report what is wrong
  const Role roles[] = {Role::Client, Role::Server};
  for (Role role : roles) {
    if ((role == Role::Client && !client) || (role == Role::Server && !server)) continue;
    ConfigParser p;
    if (!config_load(p, role, file) || !config_end(p)) {
      fprintf(stderr, "braid: %s\n", p.err.c_str());
      return 2;
    }
    if (role == Role::Server) {
      std::string err;
      if (!TlsConfig::server(p.cfg.cert, p.cfg.key, err)) {
        fprintf(stderr, "braid: %s\n", err.c_str());
        return 2;
      }
    }
    printf("%s: [%s] ok\n", file.c_str(), role == Role::Client ? "client" : "server");
  }
  return 0;
}

int cmd_ctl(int argc, char **argv) {
  // The socket path: -S wins, else the `control` key of -c FILE, else the default.
  std::string path = "/var/run/braid.sock";
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "-c") != 0) continue;
    bool client = false, server = false;
    sections_of(argv[i + 1], client, server);
    ConfigParser p;
    if (!config_load(p, server && !client ? Role::Server : Role::Client, argv[i + 1])) {
      fprintf(stderr, "braid: %s\n", p.err.c_str());
      return 2;
    }
    if (!p.cfg.control.empty()) path = p.cfg.control;
  }
  return ctl_main(argc, argv, path);
}

int cmd_version(int, char **) {
  puts(version_string().c_str());
  return 0;
}

struct Command {
  const char *name;
  int (*fn)(int, char **);
};
const Command COMMANDS[] = {
    {"client", cmd_client},       {"server", cmd_server}, {"keygen", cmd_keygen},
    {"secret", cmd_secret},       {"check-config", cmd_check_config},
    {"version", cmd_version},     {"--version", cmd_version},    {"ctl", cmd_ctl},
};

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command &c : COMMANDS)
    if (!strcmp(argv[1], c.name)) return c.fn(argc - 1, argv + 1);
  fprintf(stderr, "braid: unknown command \"%s\"\n%s", argv[1], USAGE);
  return 2;
}
