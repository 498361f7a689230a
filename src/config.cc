// SPDX-License-Identifier: MIT
// Owns the configuration: the INI file, the files its keys name and command-line flags, turned
// into one validated Config through one line parser (see include/braid/config.h).
#include "braid/config.h"
#include "config_text.h"

#include "braid/limits.h"
#include "braid/proxy.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace braid {
namespace {

constexpr unsigned SEC_CLIENT = 1, SEC_SERVER = 2, SEC_BOTH = 3;
constexpr unsigned F_REPEAT = 1;  // key may be given several times; values accumulate
constexpr unsigned F_SECRET = 2;  // value is never quoted in messages
constexpr size_t QUOTE_MAX = 80;  // longest value echoed in a message

// What a key handler writes into: the live Config for the role's own section, or a scratch copy
// for the other role's section (checked, not applied, and the files it names are not read: a
// client need not be able to read the server's clients file of a shared config).
struct Apply {
  Config &c;
  bool read_files;
  bool replace;  // first CLI occurrence of a repeatable key: drop the file's values
  std::string err;
};

using Handler = bool (*)(Apply &a, const std::string &v);

struct Key {
  const char *name;
  unsigned sections;
  unsigned flags;
  const char *slot;  // keys sharing a slot exclude each other (secret / secret-file)
  Handler fn;
};

}  // namespace

// Text helpers shared with config_forward.cc (declared in config_text.h).
namespace cfgtext {

// Sets err and returns false: the shape of every failure below.
bool no(std::string &err, std::string msg) {
  err = std::move(msg);
  return false;
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// '#' or ';' at the start or after whitespace starts a comment, so "a#b" stays a value.
std::string strip_comment(const std::string &s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
      return s.substr(0, i);
  }
  return s;
}

// Quotes a value for a message: printable ASCII as is, other bytes as \xNN, long values cut.
std::string quote(const std::string &s) {
  std::string q = "\"";
  for (size_t i = 0; i < s.size() && i < QUOTE_MAX; ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
      q += char(ch);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", ch);
      q += b;
    }
  }
  if (s.size() > QUOTE_MAX) q += "...";
  return q + "\"";
}

// Decimal digits only (no sign, no spaces, no 0x), value in [lo, hi].
bool parse_uint(const std::string &s, uint64_t lo, uint64_t hi, uint64_t &out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + uint64_t(ch - '0');
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

bool is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '_' || ch == '-';
}

bool valid_name(const std::string &s) {
  if (s.empty() || s.size() > MAX_NAME) return false;
  for (char ch : s)
    if (!is_name_char(ch)) return false;
  return true;
}

std::string name_rule() {
  return "expected 1 to " + std::to_string(MAX_NAME) + " characters of A-Z a-z 0-9 . _ -";
}

}  // namespace cfgtext

namespace {
using namespace cfgtext;

int hex_val(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int b64_val(char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

bool parse_secret(const std::string &text, std::string &raw, std::string &err) {
  std::string out;
  if (!base64_decode(text, out) || out.size() != 32)
    return no(err, "expected base64 of exactly 32 bytes; make one with \"braid secret\"");
  raw = std::move(out);
  return true;
}

// Reads a whole file of at most CONFIG_MAX_BYTES. On failure err says what went wrong.
bool read_small_file(const std::string &path, std::string &data, std::string &err) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return no(err, std::string("cannot open: ") + std::strerror(errno));
  data.clear();
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.append(buf, n);
    if (data.size() > CONFIG_MAX_BYTES) {
      std::fclose(f);
      err = "larger than " + std::to_string(CONFIG_MAX_BYTES) + " bytes";
      return false;
    }
  }
  int e = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (e != 0) err = std::string("cannot read: ") + std::strerror(e);
  return e == 0;
}

// Calls fn(line) for each line of data without its "\n"; stops at the first false.
template <typename F> bool for_each_line(const std::string &data, F fn) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    if (!fn(data.substr(pos, nl - pos))) return false;
    pos = nl + 1;
  }
  return true;
}

// Strips a trailing CR; returns an error for lines no text file of ours may contain.
std::string clean_line(std::string &line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > CONFIG_MAX_LINE)
    return "line longer than " + std::to_string(CONFIG_MAX_LINE) + " bytes";
  if (line.find('\0') != std::string::npos) return "NUL byte; the file must be text";
  return "";
}

// Runs parse(line, err) on every non-blank, non-comment line of a file a key names; errors
// come back as "PATH:LINE: ...".
template <typename F> bool load_lines(const std::string &path, std::string &err, F parse) {
  std::string data;
  if (!read_small_file(path, data, err)) return no(err, path + ": " + err);
  int n = 0;
  return for_each_line(data, [&](std::string line) {
    ++n;
    std::string e = clean_line(line);
    line = trim(line);
    if (e.empty() && (line.empty() || line[0] == '#')) return true;
    if (e.empty() && parse(line, e)) return true;
    err = path + ":" + std::to_string(n) + ": " + e;
    return false;
  });
}

std::vector<std::string> split_ws(const std::string &s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = s.find_first_not_of(" \t", pos)) != std::string::npos) {
    size_t end = s.find_first_of(" \t", pos);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// One clients-file line: NAME SECRET_BASE64 [expose=...] [listen=...].
bool parse_client_line(const std::string &line, std::set<std::string> &names,
                       std::vector<ClientEntry> &out, std::string &err) {
  std::vector<std::string> t = split_ws(trim(strip_comment(line)));
  if (t.size() < 2) return no(err, "expected NAME SECRET_BASE64");
  ClientEntry c;
  c.name = t[0];
  if (!valid_name(c.name)) return no(err, "name " + quote(c.name) + ": " + name_rule());
  if (!parse_secret(t[1], c.secret, err)) return false;
  for (size_t i = 2; i < t.size(); ++i)
    if (!parse_client_option(t[i], c, err)) return false;
  if (!names.insert(c.name).second)
    return no(err, "client " + quote(c.name) + " listed twice; keep one line per client");
  out.push_back(std::move(c));
  return true;
}

bool parse_auth_line(const std::string &line, std::set<std::string> &users,
                     std::vector<std::pair<std::string, std::string>> &out, std::string &err) {
  size_t colon = line.find(':');
  std::string user = line.substr(0, colon == std::string::npos ? 0 : colon);
  std::string pass = colon == std::string::npos ? "" : line.substr(colon + 1);
  if (user.empty() || user.size() > 255 || pass.empty() || pass.size() > 255)
    return no(err, "expected user:password, each 1 to 255 bytes");
  if (!users.insert(user).second) return no(err, "user " + quote(user) + " listed twice");
  out.emplace_back(user, pass);
  return true;
}

// --- key handlers ----------------------------------------------------------------------------

bool set_int(Apply &a, const std::string &v, int lo, int hi, int &field) {
  uint64_t n = 0;
  if (!parse_uint(v, uint64_t(lo), uint64_t(hi), n))
    return no(a.err, "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi));
  field = int(n);
  return true;
}

bool set_path(Apply &a, const std::string &v, std::string &field) {
  if (v.empty()) return no(a.err, "expected a file path");
  field = v;
  return true;
}

bool add_endpoint(Apply &a, const std::string &v, const char *def, bool dial,
                  std::vector<Endpoint> &list) {
  Endpoint e;
  if (!parse_endpoint(v, def, e, a.err)) return false;
  if (dial && (e.host.empty() || e.port == 0))
    return no(a.err, "expected HOST:PORT with a port from 1 to 65535");
  if (a.replace) list.clear();
  list.push_back(e);
  return true;
}

bool add_cidr(Apply &a, const std::string &v, std::vector<Cidr> &list) {
  Cidr c;
  if (!parse_cidr(v, c, a.err)) return false;
  if (a.replace) list.clear();
  list.push_back(c);
  return true;
}

bool on_log(Apply &a, const std::string &v) {
  if (v.empty()) return no(a.err, "expected stderr, syslog or a file path");
  a.c.log = v;
  return true;
}

bool on_name(Apply &a, const std::string &v) {
  if (!valid_name(v)) return no(a.err, name_rule());
  a.c.name = v;
  return true;
}

bool on_secret_file(Apply &a, const std::string &v) {
  if (v.empty()) return no(a.err, "expected the path of a file made by \"braid secret\"");
  if (!a.read_files) return true;
  std::string data, e;
  if (!read_small_file(v, data, e)) return no(a.err, e);
  std::string first = trim(data.substr(0, data.find('\n')));  // base64_decode drops a CR
  if (!parse_secret(first, a.c.secret, e)) return no(a.err, "first line: " + e);
  a.c.secret_file = v;
  return true;
}

// A file of user:password lines (socks-auth-file, http-auth-file) into pairs + its path.
bool load_auth(Apply &a, const std::string &v,
               std::vector<std::pair<std::string, std::string>> &pairs, std::string &path) {
  if (v.empty()) return no(a.err, "expected the path of a file of user:password lines");
  if (!a.read_files) return true;
  std::set<std::string> users;
  std::vector<std::pair<std::string, std::string>> out;
  if (!load_lines(v, a.err, [&](const std::string &l, std::string &e) {
        return parse_auth_line(l, users, out, e);
      }))
    return false;
  pairs = std::move(out);
  path = v;
  return true;
}

bool on_socks_auth(Apply &a, const std::string &v) {
  return load_auth(a, v, a.c.socks_auth, a.c.socks_auth_file);
}

bool on_http_auth(Apply &a, const std::string &v) {
  return load_auth(a, v, a.c.http_auth, a.c.http_auth_file);
}

bool on_forward(Apply &a, const std::string &v) {
  Forward f;
  if (!parse_forward(v, f, a.err)) return false;
  if (a.replace) a.c.forwards.clear();
  a.c.forwards.push_back(f);
  return true;
}

bool on_remote_forward(Apply &a, const std::string &v) {
  Forward f;
  if (!parse_forward(v, f, a.err)) return false;
  in6_addr tmp;
  if (inet_pton(AF_INET, f.bind.host.c_str(), &tmp) != 1 &&
      inet_pton(AF_INET6, f.bind.host.c_str(), &tmp) != 1)
    return no(a.err, "bind " + quote(f.bind.host) +
                         " must be an IP address of the server, e.g. 0.0.0.0:8080:127.0.0.1:80");
  if (f.bind.port == 0) return no(a.err, "the server port must be from 1 to 65535");
  if (a.replace) a.c.remote_forwards.clear();
  a.c.remote_forwards.push_back(f);
  return true;
}

bool on_peer_forward(Apply &a, const std::string &v) {
  Forward f;
  if (!parse_peer_forward(v, f, a.err)) return false;
  if (!valid_name(f.peer)) return no(a.err, "peer " + quote(f.peer) + ": " + name_rule());
  if (a.replace) a.c.peer_forwards.clear();
  a.c.peer_forwards.push_back(f);
  return true;
}

bool on_dns_upstream(Apply &a, const std::string &v) {
  Endpoint e;
  if (!parse_endpoint(v, "", e, a.err)) return false;
  in6_addr tmp;
  if (e.port == 0 || (inet_pton(AF_INET, e.host.c_str(), &tmp) != 1 &&
                      inet_pton(AF_INET6, e.host.c_str(), &tmp) != 1))
    return no(a.err, "expected IP:PORT of a DNS server, e.g. 127.0.0.53:53");
  a.c.dns_upstream = e;
  return true;
}

bool on_compress(Apply &a, const std::string &v) {
  if (v != "off" && v != "auto" && v != "on") return no(a.err, "expected off, auto or on");
  a.c.compress = v == "off" ? 0 : v == "auto" ? 1 : 2;
  return true;
}

bool on_upstream_proxy(Apply &a, const std::string &v) {
  UpstreamProxy up;
  if (!parse_upstream_proxy(v, up, a.err)) return false;
  a.c.upstream_proxy = v;
  return true;
}

bool on_clients(Apply &a, const std::string &v) {
  if (v.empty()) return no(a.err, "expected the path of a file of NAME SECRET_BASE64 lines");
  if (!a.read_files) return true;
  std::set<std::string> names;
  std::vector<ClientEntry> out;
  if (!load_lines(v, a.err, [&](const std::string &l, std::string &e) {
        return parse_client_line(l, names, out, e);
      }))
    return false;
  a.c.clients = std::move(out);
  a.c.clients_file = v;
  return true;
}

bool on_connect_reply(Apply &a, const std::string &v) {
  if (v != "early" && v != "confirmed") return no(a.err, "expected early or confirmed");
  a.c.connect_reply = v == "early" ? ConnectReply::Early : ConnectReply::Confirmed;
  return true;
}

using V = const std::string &;
const Key KEYS[] = {
    {"log", SEC_BOTH, 0, nullptr, on_log},
    {"verbose", SEC_BOTH, 0, nullptr, [](Apply &a, V v) { return set_int(a, v, 0, 3, a.c.verbose); }},
    {"pidfile", SEC_BOTH, 0, nullptr, [](Apply &a, V v) { return set_path(a, v, a.c.pidfile); }},
    {"server", SEC_CLIENT, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "", true, a.c.servers); }},
    {"server-pin", SEC_CLIENT, 0, nullptr,
     [](Apply &a, V v) { return parse_pin(v, a.c.server_pin, a.err); }},
    {"name", SEC_CLIENT, 0, nullptr, on_name},
    {"secret", SEC_CLIENT, F_SECRET, "secret",
     [](Apply &a, V v) { return parse_secret(v, a.c.secret, a.err); }},
    {"secret-file", SEC_CLIENT, 0, "secret", on_secret_file},
    {"links", SEC_BOTH, 0, nullptr, [](Apply &a, V v) { return set_int(a, v, 1, 16, a.c.links); }},
    {"socks", SEC_CLIENT, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "127.0.0.1", false, a.c.socks); }},
    {"socks-auth-file", SEC_CLIENT, 0, nullptr, on_socks_auth},
    {"http", SEC_CLIENT, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "127.0.0.1", false, a.c.http); }},
    {"http-auth-file", SEC_CLIENT, 0, nullptr, on_http_auth},
    {"forward", SEC_CLIENT, F_REPEAT, nullptr, on_forward},
    {"remote-forward", SEC_CLIENT, F_REPEAT, nullptr, on_remote_forward},
    {"peer-forward", SEC_CLIENT, F_REPEAT, nullptr, on_peer_forward},
    {"redir", SEC_CLIENT, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "0.0.0.0", false, a.c.redir); }},
    {"dns", SEC_CLIENT, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "127.0.0.1", false, a.c.dns); }},
    {"connect-reply", SEC_CLIENT, 0, nullptr, on_connect_reply},
    {"compress", SEC_CLIENT, 0, nullptr, on_compress},
    {"upstream-proxy", SEC_CLIENT, 0, nullptr, on_upstream_proxy},
    {"keepalive", SEC_BOTH, 0, nullptr,
     [](Apply &a, V v) { return set_int(a, v, 1, 3600, a.c.keepalive); }},
    {"resume-timeout", SEC_BOTH, 0, nullptr,
     [](Apply &a, V v) { return set_int(a, v, 1, 86400, a.c.resume_timeout); }},
    {"control", SEC_BOTH, 0, nullptr, [](Apply &a, V v) { return set_path(a, v, a.c.control); }},
    {"send-buffer", SEC_BOTH, 0, nullptr,
     [](Apply &a, V v) { return set_int(a, v, 1, 4096, a.c.send_buffer_mib); }},
    {"listen", SEC_SERVER, F_REPEAT, nullptr,
     [](Apply &a, V v) { return add_endpoint(a, v, "0.0.0.0", false, a.c.listen); }},
    {"cert", SEC_SERVER, 0, nullptr, [](Apply &a, V v) { return set_path(a, v, a.c.cert); }},
    {"key", SEC_SERVER, 0, nullptr, [](Apply &a, V v) { return set_path(a, v, a.c.key); }},
    {"clients", SEC_SERVER, 0, nullptr, on_clients},
    {"allow", SEC_SERVER, F_REPEAT, nullptr, [](Apply &a, V v) { return add_cidr(a, v, a.c.allow); }},
    {"deny", SEC_SERVER, F_REPEAT, nullptr, [](Apply &a, V v) { return add_cidr(a, v, a.c.deny); }},
    {"dns-upstream", SEC_SERVER, 0, nullptr, on_dns_upstream},
    {"fallback", SEC_SERVER, 0, nullptr,
     [](Apply &a, V v) {
       if (!parse_endpoint(v, "", a.c.fallback, a.err)) return false;
       if (a.c.fallback.host.empty() || a.c.fallback.port == 0)
         return no(a.err, "expected HOST:PORT of a web server, e.g. 127.0.0.1:80");
       return true;
     }},
    {"max-sessions", SEC_SERVER, 0, nullptr,
     [](Apply &a, V v) { return set_int(a, v, 1, 1000000, a.c.max_sessions); }},
    {"max-streams", SEC_SERVER, 0, nullptr,
     [](Apply &a, V v) { return set_int(a, v, 1, 1000000, a.c.max_streams); }},
};

// --- parser plumbing -------------------------------------------------------------------------

const Key *find_key(const std::string &name) {
  for (const Key &k : KEYS)
    if (name == k.name) return &k;
  return nullptr;
}

// Levenshtein distance; callers cap the lengths so this stays cheap.
size_t edit_distance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest key, preferring one valid in `mask`, or "" when nothing is close enough to be a
// typo (at most two edits).
const Key *suggest(const std::string &key, unsigned mask) {
  if (key.size() > 64) return nullptr;
  const Key *best = nullptr;
  size_t best_d = 6;  // doubled distance: 2 * edits, +1 when the key is in the other section
  for (const Key &k : KEYS) {
    size_t d = 2 * edit_distance(key, k.name) + ((k.sections & mask) ? 0 : 1);
    if (d < best_d) {
      best_d = d;
      best = &k;
    }
  }
  return best;
}

const char *section_name(unsigned mask) { return mask == SEC_CLIENT ? "client" : "server"; }
unsigned role_mask(const ConfigParser &p) {
  return p.cfg.role == Role::Client ? SEC_CLIENT : SEC_SERVER;
}

bool fail(ConfigParser &p, const std::string &msg) {
  p.err = p.file + (p.line > 0 ? ":" + std::to_string(p.line) : std::string()) + ": " + msg;
  return false;
}

bool unknown_key(ConfigParser &p, const std::string &key, unsigned mask, bool cli) {
  std::string dash = cli ? "--" : "";
  std::string msg = (cli ? "unknown option " : "unknown key ") + quote(dash + key);
  const Key *s = suggest(key, mask);
  if (!s) return fail(p, msg + " in [" + section_name(mask) + "]; see braid.conf(5) for the keys");
  msg += "; did you mean \"" + dash + s->name + "\"";
  if (!(s->sections & mask)) msg += std::string(" in [") + section_name(s->sections) + "]";
  return fail(p, msg + "?");
}

bool wrong_section(ConfigParser &p, const Key &k, unsigned mask, bool cli) {
  const char *other = section_name(mask == SEC_CLIENT ? SEC_SERVER : SEC_CLIENT);
  if (cli)
    return fail(p, std::string("--") + k.name + " is a " + other + " option, not a " +
                       section_name(mask) + " one");
  return fail(p, std::string("key \"") + k.name + "\" belongs in [" + other + "], not [" +
                     section_name(mask) + "]");
}

// Records that a key was given; rejects a single-valued key given twice in one place (file or
// command line). Sets `first` for the first occurrence there.
bool note_seen(ConfigParser &p, const Key &k, const std::string &where, bool &first) {
  std::string tag = where + ":" + (k.slot ? k.slot : k.name);
  first = true;
  for (const std::string &s : p.seen_required)
    if (s == tag) first = false;
  if (first) {
    p.seen_required.push_back(tag);
    return true;
  }
  if (k.flags & F_REPEAT) return true;
  if (k.slot) return fail(p, std::string("key \"") + k.name + "\" conflicts with an earlier \"" +
                                 k.slot + "\" or \"" + k.slot + "-file\"; keep one");
  return fail(p, std::string("key \"") + k.name + "\" given twice; keep one");
}

bool seen(const ConfigParser &p, const std::string &tag) {
  for (const std::string &s : p.seen_required)
    if (s == tag || s == "cli:" + tag.substr(tag.find(':') + 1)) return true;
  return false;
}

bool apply_key(ConfigParser &p, const std::string &key, const std::string &value, unsigned mask,
               bool cli) {
  const Key *k = find_key(key);
  if (!k) return unknown_key(p, key, mask, cli);
  if (!(k->sections & mask)) return wrong_section(p, *k, mask, cli);
  bool own = mask == role_mask(p), first = false;
  if (own && !note_seen(p, *k, cli ? "cli" : section_name(mask), first)) return false;
  Config scratch;
  Apply a{own ? p.cfg : scratch, own, own && cli && first, ""};
  if (k->fn(a, value)) return true;
  std::string label = std::string(cli ? "--" : "") + k->name;
  if (!(k->flags & F_SECRET)) label += (cli ? ": " : " = ") + quote(value);  // never echo secrets
  return fail(p, label + ": " + a.err);
}

bool section_line(ConfigParser &p, const std::string &line) {
  std::string name = line.back() == ']' ? trim(line.substr(1, line.size() - 2)) : "";
  if (name != "client" && name != "server")
    return fail(p, "unknown section " + quote(line) + "; use [client] or [server]");
  p.section = name;
  return true;
}

bool require(ConfigParser &p, bool have, const char *key, const char *fix) {
  if (have) return true;
  const std::string &path = p.cfg.path.empty() ? p.file : p.cfg.path;
  return no(p.err, path + ": missing required key " + key + " in [" +
                       section_name(role_mask(p)) + "]; " + fix);
}

bool require_client(ConfigParser &p) {
  const Config &c = p.cfg;
  return require(p, !c.servers.empty(), R"("server")", "add server = HOST:PORT") &&
         require(p, !c.server_pin.empty(), R"("server-pin")",
                 "add the pin printed by \"braid keygen\"") &&
         require(p, !c.name.empty(), R"("name")",
                 "add the name this client has in the server's clients file") &&
         require(p, !c.secret.empty(), R"("secret-file" (or "secret"))",
                 "add the path of a file made by \"braid secret\"") &&
         require(p, !c.socks.empty() || !c.http.empty() || !c.forwards.empty() ||
                        !c.redir.empty() || !c.dns.empty() || !c.remote_forwards.empty() ||
                        !c.peer_forwards.empty(),
                 R"(listener ("socks", "http", "forward", "remote-forward", "peer-forward", "redir" or "dns"))",
                 "add socks = [BIND:]PORT so the client has a listener");
}

bool require_server(ConfigParser &p) {
  const Config &c = p.cfg;
  if (!require(p, !c.listen.empty(), R"("listen")", "add listen = [BIND:]PORT") ||
      !require(p, !c.cert.empty(), R"("cert")",
               "add the path of the certificate written by \"braid keygen\"") ||
      !require(p, !c.key.empty(), R"("key")",
               "add the path of the private key written by \"braid keygen\"") ||
      !require(p, seen(p, "server:clients"), R"("clients")",
               "add the path of a file of NAME SECRET_BASE64 lines"))
    return false;
  // A server nobody may log in to is a mistake, not a configuration.
  if (!c.clients.empty()) return true;
  return no(p.err, (p.cfg.path.empty() ? p.file : p.cfg.path) +
                       ": the clients file lists no clients; add a line NAME SECRET_BASE64");
}

} // namespace

// --- public API ------------------------------------------------------------------------------

std::vector<std::string> config_permission_warnings(const Config &c) {
  std::vector<std::string> out;
  const std::string *files[] = {&c.key, &c.clients_file, &c.secret_file, &c.socks_auth_file,
                                &c.http_auth_file};
  for (const std::string *f : files) {
    struct stat st;
    if (f->empty() || stat(f->c_str(), &st) != 0 || !(st.st_mode & 077)) continue;
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    out.push_back(*f + ": holds a secret but is readable by group or others (mode " + mode +
                  "); run chmod 600 " + *f);
  }
  return out;
}

std::string Endpoint::str() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string base64_encode(const std::string &raw) {
  static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  for (size_t i = 0; i < raw.size(); i += 3) {
    size_t n = std::min<size_t>(3, raw.size() - i);
    uint32_t w = uint32_t(uint8_t(raw[i])) << 16;
    if (n > 1) w |= uint32_t(uint8_t(raw[i + 1])) << 8;
    if (n > 2) w |= uint8_t(raw[i + 2]);
    out += ALPHA[(w >> 18) & 63];
    out += ALPHA[(w >> 12) & 63];
    out += n > 1 ? ALPHA[(w >> 6) & 63] : '=';
    out += n > 2 ? ALPHA[w & 63] : '=';
  }
  return out;
}

// Strict: padding required, only at the end, and the unused bits must be zero, so each value
// has exactly one spelling. Trailing whitespace (a newline from a file) is tolerated.
bool base64_decode(const std::string &text, std::string &raw) {
  size_t n = text.size();
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
                   text[n - 1] == '\n'))
    --n;
  if (n % 4 != 0) return false;
  std::string out;
  for (size_t i = 0; i < n; i += 4) {
    int v[4], pad = 0;
    for (int j = 0; j < 4; ++j) {
      char ch = text[i + size_t(j)];
      if (ch == '=' && (i + 4 != n || j < 2)) return false;
      if (ch != '=' && pad) return false;  // data after padding
      v[j] = ch == '=' ? (++pad, 0) : b64_val(ch);
      if (v[j] < 0) return false;
    }
    if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15))) return false;
    uint32_t w = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    out += char(w >> 16);
    if (pad < 2) out += char((w >> 8) & 0xff);
    if (pad < 1) out += char(w & 0xff);
  }
  raw = std::move(out);
  return true;
}

std::string hex_encode(const std::string &raw) {
  static const char HEX[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (char ch : raw) {
    out += HEX[uint8_t(ch) >> 4];
    out += HEX[uint8_t(ch) & 15];
  }
  return out;
}

bool parse_pin(const std::string &text, std::string &raw32, std::string &err) {
  static const char PREFIX[] = "sha256:";
  const std::string why = "expected sha256:<64 hex digits>, the pin printed by \"braid keygen\"";
  if (text.size() != 7 + 64 || strncasecmp(text.c_str(), PREFIX, 7) != 0) return no(err, why);
  std::string out;
  for (size_t i = 7; i < text.size(); i += 2) {
    int hi = hex_val(text[i]), lo = hex_val(text[i + 1]);
    if (hi < 0 || lo < 0) return no(err, why);
    out += char(hi << 4 | lo);
  }
  raw32 = std::move(out);
  return true;
}

bool parse_endpoint(const std::string &text, const std::string &default_host, Endpoint &out,
                    std::string &err) {
  std::string host = default_host, port = text;
  size_t colon = text.rfind(':');
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    in6_addr a6;
    host = close == std::string::npos ? "" : text.substr(1, close - 1);
    if (close == std::string::npos || close + 1 != colon) return no(err, "expected [IPV6]:PORT");
    if (host.find('\0') != std::string::npos || inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      return no(err, quote(host) + " is not an IPv6 address");
    port = text.substr(colon + 1);
  } else if (colon != std::string::npos) {
    if (text.find(':') != colon) return no(err, "an IPv6 address needs brackets: [IPV6]:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host == "*") host = "0.0.0.0";
    bool ok = !host.empty() && host.size() <= 253;
    for (char ch : host) ok = ok && is_name_char(ch);
    if (!ok) return no(err, "host " + quote(host) + " is not a name or an address");
  }
  uint64_t n = 0;
  if (!parse_uint(port, 0, 65535, n))
    return no(err, "port " + quote(port) + " is not a number from 0 to 65535");
  out.host = host;
  out.port = uint16_t(n);
  return true;
}

bool parse_cidr(const std::string &text, Cidr &out, std::string &err) {
  size_t slash = text.find('/');
  std::string addr = text.substr(0, slash);
  Cidr c;
  c.text = text;
  if (addr.find('\0') != std::string::npos) addr.clear();
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
  } else {
    err = quote(addr) + " is not an IPv4 or IPv6 address; expected ADDRESS[/PREFIX]";
    return false;
  }
  int bits = c.family == AF_INET ? 32 : 128;
  uint64_t prefix = uint64_t(bits);
  if (slash != std::string::npos && !parse_uint(text.substr(slash + 1), 0, prefix, prefix)) {
    err = "prefix " + quote(text.substr(slash + 1)) + " is not a number from 0 to " +
          std::to_string(bits);
    return false;
  }
  c.prefix = int(prefix);
  for (int i = 0; i < bits / 8; ++i) {  // keep the network, drop host bits
    int keep = c.prefix - 8 * i;
    if (keep <= 0) c.addr[i] = 0;
    else if (keep < 8) c.addr[i] &= uint8_t(0xff << (8 - keep));
  }
  out = c;
  return true;
}

void config_begin(ConfigParser &p, Role role, const std::string &file) {
  p = ConfigParser{};
  p.cfg.role = role;
  p.cfg.path = file;
  p.file = file;
}

// Counts the line itself (p.line), so file, fuzzer and tests feed lines in order.
bool config_line(ConfigParser &p, const std::string &raw) {
  ++p.line;
  std::string line = raw;
  if (p.line == 1 && line.rfind("\xef\xbb\xbf", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
  std::string bad = clean_line(line);
  if (!bad.empty()) return fail(p, bad);
  line = trim(strip_comment(line));
  if (line.empty()) return true;
  if (line[0] == '[') return section_line(p, line);
  size_t eq = line.find('=');
  if (p.section.empty())
    return fail(p, "key outside a section; put it under [client] or [server]");
  if (eq == std::string::npos) return fail(p, "expected \"key = value\" or a [section]");
  std::string key = trim(line.substr(0, eq));
  if (key.empty()) return fail(p, "missing key before \"=\"");
  unsigned mask = p.section == "client" ? SEC_CLIENT : SEC_SERVER;
  return apply_key(p, key, trim(line.substr(eq + 1)), mask, false);
}

// Command-line context when p.line == 0 ("FILE: --key: ..."); the role's section applies.
bool config_kv(ConfigParser &p, const std::string &key, const std::string &value) {
  return apply_key(p, key, value, role_mask(p), p.line == 0);
}

bool config_end(ConfigParser &p) {
  for (const std::string &tag : p.seen_required) p.cfg.given.insert(tag.substr(tag.find(':') + 1));
  return p.cfg.role == Role::Client ? require_client(p) : require_server(p);
}

bool config_load(ConfigParser &p, Role role, const std::string &file) {
  config_begin(p, role, file);
  std::string data, e;
  if (!read_small_file(file, data, e)) {
    p.err = file + ": " + e + (e.rfind("cannot open", 0) == 0 ? "; check the path given to -c" : "");
    return false;
  }
  return for_each_line(data, [&](const std::string &l) { return config_line(p, l); });
}

} // namespace braid
