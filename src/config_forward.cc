// SPDX-License-Identifier: MIT
// The forward specs of the config (forward / -L, remote-forward / -R, peer-forward) and the
// options of a clients-file line (expose=, listen=) that decide what remote and peer forwards
// a client may use on the server.
#include <arpa/inet.h>
#include <strings.h>

#include <cstring>

#include "braid/config.h"
#include "braid/limits.h"
#include "config_text.h"

namespace braid {
using namespace cfgtext;

namespace {

// Splits on ':' outside brackets; false on unbalanced brackets.
bool split_colons(const std::string &text, std::vector<std::string> &parts) {
  std::string cur;
  int depth = 0;
  for (char ch : text) {
    if (ch == '[') depth++;
    if (ch == ']') depth--;
    if (depth < 0 || depth > 1) return false;
    if (ch == ':' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  parts.push_back(cur);
  return depth == 0;
}

// BIND:PORT (bind parts[0..], optional) and HOST:HOSTPORT (the last two parts).
bool bind_and_target(const std::vector<std::string> &parts, size_t bind_parts, Forward &out,
                     const char *want, std::string &err) {
  std::string bind = bind_parts == 2 ? parts[0] + ":" + parts[1] : parts[0];
  if (!parse_endpoint(bind, "127.0.0.1", out.bind, err)) return false;
  Endpoint target;
  std::string host = parts[parts.size() - 2];
  if (!parse_endpoint(host + ":" + parts.back(), "", target, err)) return false;
  if (target.host.empty() || target.port == 0) return no(err, want);
  out.host = target.host;
  out.port = target.port;
  return true;
}

bool is_ip(const std::string &h) {
  in6_addr a;
  return inet_pton(AF_INET, h.c_str(), &a) == 1 || inet_pton(AF_INET6, h.c_str(), &a) == 1;
}

// Same address, spelled either way ("::1" and "0:0::1").
bool same_ip(const std::string &a, const std::string &b) {
  in6_addr x{}, y{};
  if (inet_pton(AF_INET, a.c_str(), &x) == 1) return inet_pton(AF_INET, b.c_str(), &y) == 1 && !memcmp(&x, &y, 4);
  return inet_pton(AF_INET6, a.c_str(), &x) == 1 && inet_pton(AF_INET6, b.c_str(), &y) == 1 &&
         !memcmp(&x, &y, sizeof x);
}

bool is_loopback(const std::string &h) {
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, h.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

// One listen= item: BIND:PORT or BIND:LO-HI; BIND is an IP ([v6] in brackets) or "*".
bool parse_listen_rule(const std::string &item, ListenRule &r, std::string &err) {
  const char *want = "expected listen=BIND:PORT[-PORT],... with BIND an IP address or *";
  size_t colon = item.rfind(':');
  if (colon == std::string::npos) return no(err, quote(item) + ": " + want);
  std::string host = item.substr(0, colon), ports = item.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host != "*" && !is_ip(host)) return no(err, quote(item) + ": " + want);
  size_t dash = ports.find('-');
  uint64_t lo = 0, hi = 0;
  if (!parse_uint(ports.substr(0, dash), 1, 65535, lo) ||
      !parse_uint(dash == std::string::npos ? ports : ports.substr(dash + 1), 1, 65535, hi) || hi < lo)
    return no(err, quote(item) + ": ports must be PORT or LO-HI from 1 to 65535");
  r.host = host;
  r.lo = uint16_t(lo);
  r.hi = uint16_t(hi);
  return true;
}

template <typename F> bool each_item(const std::string &list, F fn) {
  size_t pos = 0;
  while (true) {
    size_t comma = list.find(',', pos);
    if (!fn(list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos))) return false;
    if (comma == std::string::npos) return true;
    pos = comma + 1;
  }
}

}  // namespace

bool parse_forward(const std::string &text, Forward &out, std::string &err) {
  std::vector<std::string> parts;
  const char *want = "expected [BIND:]PORT:HOST:HOSTPORT, e.g. 8080:intranet.example:80";
  if (!split_colons(text, parts) || (parts.size() != 3 && parts.size() != 4)) return no(err, want);
  if (!bind_and_target(parts, parts.size() - 2, out, want, err)) return false;
  out.text = text;
  return true;
}

bool parse_peer_forward(const std::string &text, Forward &out, std::string &err) {
  std::vector<std::string> parts;
  const char *want = "expected [BIND:]PORT:PEER:HOST:HOSTPORT, e.g. 2222:office:127.0.0.1:22";
  if (!split_colons(text, parts) || (parts.size() != 4 && parts.size() != 5)) return no(err, want);
  out.peer = parts[parts.size() - 3];
  std::vector<std::string> rest(parts);
  rest.erase(rest.end() - 3);
  if (!bind_and_target(rest, rest.size() - 2, out, want, err)) return false;
  out.text = text;
  return true;
}

bool parse_client_option(const std::string &opt, ClientEntry &c, std::string &err) {
  if (opt.rfind("expose=", 0) == 0) {
    return each_item(opt.substr(7), [&](const std::string &item) {
      Endpoint e;
      std::string e2;
      if (!parse_endpoint(item, "", e, e2) || e.host.empty() || e.port == 0)
        return no(err, quote(item) + ": expected expose=HOST:PORT,... e.g. expose=127.0.0.1:22");
      if (c.expose.size() >= MAX_CLIENT_RULES) return no(err, "more than 64 expose= entries");
      c.expose.push_back(e);
      return true;
    });
  }
  if (opt.rfind("listen=", 0) == 0) {
    return each_item(opt.substr(7), [&](const std::string &item) {
      ListenRule r;
      if (!parse_listen_rule(item, r, err)) return false;
      if (c.listen.size() >= MAX_CLIENT_RULES) return no(err, "more than 64 listen= entries");
      c.listen.push_back(r);
      return true;
    });
  }
  return no(err, quote(opt) + ": expected expose=HOST:PORT,... or listen=BIND:PORT[-PORT],...");
}

bool listen_permitted(const ClientEntry &c, const std::string &host, uint16_t port) {
  if (c.listen.empty()) return port >= 1024 && is_loopback(host);
  for (const ListenRule &r : c.listen)
    if ((r.host == "*" || same_ip(r.host, host)) && port >= r.lo && port <= r.hi) return true;
  return false;
}

bool expose_permitted(const ClientEntry &c, const std::string &host, uint16_t port) {
  for (const Endpoint &e : c.expose) {
    if (e.port != port) continue;
    if (is_ip(e.host) ? same_ip(e.host, host) : strcasecmp(e.host.c_str(), host.c_str()) == 0)
      return true;
  }
  return false;
}

}  // namespace braid
