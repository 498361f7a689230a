// SPDX-License-Identifier: MIT
// libFuzzer target for the configuration parser: the input is split into lines and fed through
// config_begin / config_line / config_end, once as a client and once as a server, like a file.
// Keys naming files (secret-file, clients, socks-auth-file) really open them; lines that point
// into /dev, /proc or /sys are dropped so a generated "/dev/stdin" cannot block the fuzzer.
// Every line also goes through the clients-file option and forward-spec parsers.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "braid/config.h"

using namespace braid;

namespace {
void require(bool cond) {
  if (!cond) std::abort();
}

bool risky(const std::string &line) {
  for (const char *p : {"/dev", "/proc", "/sys"})
    if (line.find(p) != std::string::npos) return true;
  return false;
}

void run(Role role, const std::vector<std::string> &lines) {
  ConfigParser p;
  config_begin(p, role, "fuzz.conf");
  for (const std::string &l : lines) {
    if (!config_line(p, l)) {
      require(p.err.rfind("fuzz.conf", 0) == 0);  // every message names the file
      return;
    }
  }
  if (!config_end(p)) require(!p.err.empty());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) return 0;  // the file cap is tested elsewhere; keep runs fast
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      if (risky(cur)) return 0;
      lines.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(char(data[i]));
    }
  }
  if (risky(cur)) return 0;
  if (!cur.empty()) lines.push_back(cur);
  run(Role::Client, lines);
  run(Role::Server, lines);
  for (const std::string &l : lines) {
    ClientEntry c;
    Forward f;
    std::string err;
    if (!parse_client_option(l, c, err)) require(!err.empty());
    require(c.expose.size() <= 64 && c.listen.size() <= 64);
    for (const ListenRule &r : c.listen) {
      require(r.lo >= 1 && r.lo <= r.hi);
      (void)listen_permitted(c, "127.0.0.1", r.lo);
    }
    (void)expose_permitted(c, "localhost", 22);
    err.clear();
    if (!parse_peer_forward(l, f, err)) require(!err.empty());
    else require(f.port != 0 && !f.host.empty());
  }
  return 0;
}
