// SPDX-License-Identifier: MIT
// Unit tests for src/config.cc: file and CLI parsing, messages, helper files and parsers.
#include "braid/config.h"
#include "braid/limits.h"
#include "check.h"

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace braid;

namespace {

// A mkdtemp directory whose files are removed when the test case ends.
struct TmpDir {
  std::string dir;
  std::vector<std::string> files;
  TmpDir() {
    char tmpl[] = "/tmp/braid_test_config.XXXXXX";
    const char *d = mkdtemp(tmpl);
    dir = d ? d : "/tmp";
  }
  ~TmpDir() {
    for (const std::string &f : files) unlink(f.c_str());
    rmdir(dir.c_str());
  }
  std::string write(const std::string &name, const std::string &content) {
    std::string path = dir + "/" + name;
    FILE *f = std::fopen(path.c_str(), "wb");
    if (f) {
      std::fwrite(content.data(), 1, content.size(), f);
      std::fclose(f);
    }
    files.push_back(path);
    return path;
  }
};

const std::string SECRET_RAW(32, '\x42');
const std::string SECRET_B64 = base64_encode(SECRET_RAW);
const std::string PIN_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string client_body(const std::string &extra = "") {
  return "[client]\n"
         "server = example.com:443\n"
         "server = [2001:db8::1]:8443\n"
         "server-pin = sha256:" + PIN_HEX + "\n"
         "name = router-1\n"
         "secret = " + SECRET_B64 + "\n"
         "socks = 1080\n" + extra;
}

// Feeds lines through the line API with file "client.conf" (or "server.conf").
bool feed(ConfigParser &p, Role role, const std::vector<std::string> &lines) {
  config_begin(p, role, role == Role::Client ? "client.conf" : "server.conf");
  for (const std::string &l : lines)
    if (!config_line(p, l)) return false;
  return true;
}

std::string line_error(const std::string &line, Role role = Role::Client) {
  ConfigParser p;
  feed(p, role, {role == Role::Client ? "[client]" : "[server]", "# comment", line});
  return p.err;
}

// --- whole files -----------------------------------------------------------------------------

void test_client_valid() {
  TmpDir t;
  std::string auth = t.write("auth", "# users\nalice:pa:ss\n\nbob:x\n");
  std::string path = t.write("client.conf", "# top comment\n" + client_body(
      "socks = 10.0.0.1:0\nsocks = [::1]:1081\nsocks-auth-file = " + auth + "\n"
      "links = 4\nconnect-reply = confirmed\nkeepalive = 5\nresume-timeout = 120\n"
      "log = syslog\nverbose = 2\npidfile = /run/braid.pid\n"));
  ConfigParser p;
  CHECK(config_load(p, Role::Client, path));
  CHECK(config_end(p));
  CHECK_EQ(p.err, "");
  const Config &c = p.cfg;
  CHECK_EQ(c.path, path);
  CHECK_EQ(c.servers.size(), size_t(2));
  if (c.servers.size() == 2) {
    CHECK_EQ(c.servers[0].str(), "example.com:443");
    CHECK_EQ(c.servers[1].str(), "[2001:db8::1]:8443");
  }
  CHECK_EQ(hex_encode(c.server_pin), PIN_HEX);
  CHECK_EQ(c.name, "router-1");
  CHECK(c.secret == SECRET_RAW);
  CHECK_EQ(c.socks.size(), size_t(3));
  if (c.socks.size() == 3) {
    CHECK_EQ(c.socks[0].str(), "127.0.0.1:1080");
    CHECK_EQ(c.socks[1].str(), "10.0.0.1:0");
    CHECK_EQ(c.socks[2].str(), "[::1]:1081");
  }
  CHECK_EQ(c.socks_auth.size(), size_t(2));
  if (c.socks_auth.size() == 2) {
    CHECK_EQ(c.socks_auth[0].first, "alice");
    CHECK_EQ(c.socks_auth[0].second, "pa:ss");
  }
  CHECK_EQ(c.links, 4);
  CHECK(c.connect_reply == ConnectReply::Confirmed);
  CHECK_EQ(c.keepalive, 5);
  CHECK_EQ(c.resume_timeout, 120);
  CHECK_EQ(c.log, "syslog");
  CHECK_EQ(c.verbose, 2);
  CHECK_EQ(c.pidfile, "/run/braid.pid");
}

void test_client_defaults() {
  ConfigParser p;
  std::vector<std::string> lines;
  std::string body = client_body(), l;
  for (char ch : body) {
    if (ch == '\n') lines.push_back(l), l.clear();
    else l += ch;
  }
  CHECK(feed(p, Role::Client, lines));
  CHECK(config_end(p));
  CHECK_EQ(p.cfg.links, 1);
  CHECK(p.cfg.connect_reply == ConnectReply::Early);
  CHECK_EQ(p.cfg.keepalive, 10);
  CHECK_EQ(p.cfg.resume_timeout, 60);
  CHECK_EQ(p.cfg.log, "stderr");
}

void test_server_valid() {
  TmpDir t;
  std::string clients = t.write("clients", "# name secret\n\nrouter-1 " + SECRET_B64 +
                                               " expose=10.0.0.5:22 listen=127.0.0.1:2000-2010\n"
                                               "laptop " + base64_encode(std::string(32, 'a')) +
                                               "   # trailing comment\n");
  std::string path = t.write("server.conf",
      "[server]\nlisten = 443\nlisten = [::]:8443\nlisten = *:9443\ncert = /etc/braid/cert.pem\n"
      "key = /etc/braid/key.pem\nclients = " + clients + "\nallow = 127.0.0.0/8\n"
      "deny = 10.1.2.3\ndeny = ::1/128\nmax-sessions = 10\nmax-streams = 1000000\n");
  ConfigParser p;
  CHECK(config_load(p, Role::Server, path));
  CHECK(config_end(p));
  CHECK_EQ(p.err, "");
  const Config &c = p.cfg;
  CHECK_EQ(c.listen.size(), size_t(3));
  if (c.listen.size() == 3) {
    CHECK_EQ(c.listen[0].str(), "0.0.0.0:443");
    CHECK_EQ(c.listen[1].str(), "[::]:8443");
    CHECK_EQ(c.listen[2].str(), "0.0.0.0:9443");
  }
  CHECK_EQ(c.cert, "/etc/braid/cert.pem");
  CHECK_EQ(c.key, "/etc/braid/key.pem");
  CHECK_EQ(c.clients.size(), size_t(2));
  if (c.clients.size() == 2) {
    CHECK_EQ(c.clients[0].name, "router-1");
    CHECK(c.clients[0].secret == SECRET_RAW);
    CHECK_EQ(c.clients[1].name, "laptop");
  }
  CHECK_EQ(c.allow.size(), size_t(1));
  CHECK_EQ(c.deny.size(), size_t(2));
  if (c.deny.size() == 2) {
    CHECK_EQ(c.deny[0].prefix, 32);
    CHECK_EQ(c.deny[1].family, AF_INET6);
  }
  CHECK_EQ(c.max_sessions, 10);
  CHECK_EQ(c.max_streams, 1000000);
}

void test_both_sections() {
  TmpDir t;
  // The clients file does not exist: the client must not try to read it.
  std::string body = client_body() + "[server]\nlisten = 443\ncert = c\nkey = k\n"
                                     "clients = " + t.dir + "/missing\nverbose = 3\n";
  std::string path = t.write("both.conf", body);
  ConfigParser p;
  CHECK(config_load(p, Role::Client, path));
  CHECK(config_end(p));
  CHECK_EQ(p.cfg.verbose, 1);  // the [server] value is not applied
  CHECK(p.cfg.listen.empty());
  // As a server, the clients file is read and its absence is an error.
  CHECK(!config_load(p, Role::Server, path));
  CHECK_STR_CONTAINS(p.err, path + ":12: clients = ");
  CHECK_STR_CONTAINS(p.err, "missing: cannot open: No such file or directory");
  // The other section's values are still checked.
  path = t.write("both2.conf", client_body() + "[server]\nmax-streams = 0\n");
  CHECK(!config_load(p, Role::Client, path));
  CHECK_STR_CONTAINS(p.err, ":9: max-streams = \"0\": expected a number from 1 to 1000000");
  path = t.write("both3.conf", client_body() + "[server]\nsever = x\n");
  CHECK(!config_load(p, Role::Client, path));
  CHECK_STR_CONTAINS(p.err, ":9: unknown key \"sever\"; did you mean \"server\" in [client]?");
}

void test_comments_crlf() {
  TmpDir t;
  std::string body = "; leading comment\r\n\r\n  # indented comment\r\n[client] # section comment\r\n"
                     "server = example.com:443   # inline\r\nserver-pin = sha256:" + PIN_HEX +
                     " ; inline\r\nname = n\r\nsecret = " + SECRET_B64 + "\r\nsocks = 1080\r\n"
                     "pidfile = /tmp/a#b;c\r\n\tlog = /var/log/braid.log\t\r\n";
  std::string path = t.write("crlf.conf", body);
  ConfigParser p;
  CHECK(config_load(p, Role::Client, path));
  CHECK(config_end(p));
  CHECK_EQ(p.err, "");
  CHECK_EQ(p.cfg.pidfile, "/tmp/a#b;c");
  CHECK_EQ(p.cfg.log, "/var/log/braid.log");
  CHECK_EQ(p.cfg.servers.size(), size_t(1));
  CHECK_EQ(p.cfg.name, "n");
}

// --- messages --------------------------------------------------------------------------------

void test_line_errors() {
  ConfigParser p;
  CHECK(!feed(p, Role::Client, {"# c", "links = 2"}));
  CHECK_EQ(p.err, "client.conf:2: key outside a section; put it under [client] or [server]");
  CHECK_EQ(line_error("links = 20"), "client.conf:3: links = \"20\": expected a number from 1 to 16");
  CHECK_EQ(line_error("sever = a:1"), "client.conf:3: unknown key \"sever\"; did you mean \"server\"?");
  CHECK_EQ(line_error("severpinn = a"), "client.conf:3: unknown key \"severpinn\" in [client]; "
                                        "see braid.conf(5) for the keys");
  CHECK_EQ(line_error("listen = 1"), "client.conf:3: key \"listen\" belongs in [server], not [client]");
  CHECK_EQ(line_error("links"), "client.conf:3: expected \"key = value\" or a [section]");
  CHECK_EQ(line_error("= 3"), "client.conf:3: missing key before \"=\"");
  CHECK_EQ(line_error("[clinet]"), "client.conf:3: unknown section \"[clinet]\"; use [client] or [server]");
  CHECK_STR_CONTAINS(line_error("links = 0x3"), "links = \"0x3\": expected a number from 1 to 16");
  CHECK_STR_CONTAINS(line_error("links = -1"), "expected a number from 1 to 16");
  CHECK_STR_CONTAINS(line_error("links = 99999999999999999999"), "expected a number");
  CHECK_STR_CONTAINS(line_error("verbose = 4"), "verbose = \"4\": expected a number from 0 to 3");
  CHECK_STR_CONTAINS(line_error("keepalive = 3601"), "from 1 to 3600");
  CHECK_STR_CONTAINS(line_error("resume-timeout = 0"), "from 1 to 86400");
  CHECK_STR_CONTAINS(line_error("connect-reply = late"), "connect-reply = \"late\": expected early or confirmed");
  CHECK_STR_CONTAINS(line_error("name = a b"), "name = \"a b\": expected 1 to 64 characters");
  CHECK_STR_CONTAINS(line_error("name = " + std::string(65, 'x')), "name = ");
  CHECK_EQ(line_error("name = " + std::string(64, 'x')), "");
  CHECK_STR_CONTAINS(line_error("server = 443"), "server = \"443\": expected HOST:PORT");
  CHECK_STR_CONTAINS(line_error("server = h:0"), "expected HOST:PORT with a port from 1");
  CHECK_STR_CONTAINS(line_error("server = h:65536"), "port \"65536\" is not a number from 0 to 65535");
  CHECK_STR_CONTAINS(line_error("server-pin = sha256:abc"), "server-pin = \"sha256:abc\": expected sha256:");
  CHECK_STR_CONTAINS(line_error("socks = 1.2.3.4:x"), "socks = \"1.2.3.4:x\": port \"x\"");
  CHECK_STR_CONTAINS(line_error("log = "), "log = \"\": expected stderr, syslog or a file path");
  CHECK_STR_CONTAINS(line_error("pidfile ="), "pidfile = \"\": expected a file path");
  CHECK_STR_CONTAINS(line_error("allow = 10.0.0.0/33", Role::Server), "allow = \"10.0.0.0/33\": prefix");
  CHECK_STR_CONTAINS(line_error("deny = foo", Role::Server), "deny = \"foo\": \"foo\" is not an IPv4");
  CHECK_STR_CONTAINS(line_error("max-sessions = 1000001", Role::Server), "from 1 to 1000000");
  CHECK_STR_CONTAINS(line_error("socks = 1", Role::Server), "belongs in [client], not [server]");
  // A secret is never echoed.
  std::string e = line_error("secret = c2VjcmV0");
  CHECK_EQ(e, "client.conf:3: secret: expected base64 of exactly 32 bytes; make one with \"braid secret\"");
  // Non-printable bytes are escaped and long values cut.
  CHECK_STR_CONTAINS(line_error("links = \x01"), "links = \"\\x01\"");
  CHECK_STR_CONTAINS(line_error("links = " + std::string(200, '9')), "999...\"");
}

void test_duplicates() {
  ConfigParser p;
  CHECK(!feed(p, Role::Client, {"[client]", "links = 2", "links = 3"}));
  CHECK_EQ(p.err, "client.conf:3: key \"links\" given twice; keep one");
  CHECK(!feed(p, Role::Client, {"[client]", "secret = " + SECRET_B64, "secret-file = /x"}));
  CHECK_STR_CONTAINS(p.err, "client.conf:3: key \"secret-file\" conflicts with an earlier \"secret\"");
  CHECK(feed(p, Role::Client, {"[client]", "socks = 1", "socks = 2"}));
  CHECK_EQ(p.cfg.socks.size(), size_t(2));
}

void test_missing_required() {
  struct { const char *drop, *want; } cases[] = {
      {"server = ", "client.conf: missing required key \"server\" in [client]; add server = HOST:PORT"},
      {"server-pin", "client.conf: missing required key \"server-pin\" in [client]; add the pin "
                     "printed by \"braid keygen\""},
      {"name", "client.conf: missing required key \"name\" in [client]"},
      {"secret", "client.conf: missing required key \"secret-file\" (or \"secret\") in [client]"},
      {"socks", "client.conf: missing required key listener (\"socks\", \"http\", \"forward\", \"remote-forward\", \"peer-forward\", \"redir\" or \"dns\") in [client]; add socks = [BIND:]PORT"},
  };
  for (const auto &c : cases) {
    ConfigParser p;
    config_begin(p, Role::Client, "client.conf");
    std::string body = client_body(), l;
    for (char ch : body) {
      if (ch != '\n') { l += ch; continue; }
      if (l.rfind(c.drop, 0) != 0) CHECK(config_line(p, l));
      l.clear();
    }
    CHECK(!config_end(p));
    CHECK_STR_CONTAINS(p.err, c.want);
  }
  TmpDir t;
  std::string clients = t.write("clients", "a " + SECRET_B64 + "\n");
  std::string empty = t.write("empty", "# nobody yet\n");
  std::vector<std::string> full = {"[server]", "listen = 443", "cert = c", "key = k",
                                   "clients = " + clients};
  const char *keys[] = {"listen", "cert", "key", "clients"};
  for (size_t i = 1; i < full.size(); ++i) {
    ConfigParser p;
    std::vector<std::string> lines = full;
    lines.erase(lines.begin() + long(i));
    CHECK(feed(p, Role::Server, lines));
    CHECK(!config_end(p));
    CHECK_STR_CONTAINS(p.err, std::string("server.conf: missing required key \"") + keys[i - 1] +
                                  "\" in [server]; add ");
  }
  ConfigParser p;
  full.back() = "clients = " + empty;
  CHECK(feed(p, Role::Server, full));
  CHECK(!config_end(p));
  CHECK_STR_CONTAINS(p.err, "server.conf: the clients file lists no clients; add a line");
  // A [server] section does not satisfy a client.
  CHECK(feed(p, Role::Client, {"[server]", "listen = 1"}));
  CHECK(!config_end(p));
  CHECK_STR_CONTAINS(p.err, "missing required key \"server\" in [client]");
}

void test_command_line() {
  TmpDir t;
  std::string path = t.write("c.conf", client_body("links = 2\n"));
  ConfigParser p;
  CHECK(config_load(p, Role::Client, path));
  p.file = "command line";
  p.line = 0;
  CHECK(config_kv(p, "links", "8"));          // overrides the file
  CHECK(config_kv(p, "socks", "127.0.0.2:1"));  // replaces the file's listeners...
  CHECK(config_kv(p, "socks", "2"));            // ...and repeats
  CHECK(config_kv(p, "secret", base64_encode(std::string(32, 'z'))));  // file had secret too
  CHECK(config_end(p));
  CHECK_EQ(p.cfg.links, 8);
  CHECK_EQ(p.cfg.socks.size(), size_t(2));
  if (p.cfg.socks.size() == 2) CHECK_EQ(p.cfg.socks[0].str(), "127.0.0.2:1");
  CHECK(p.cfg.secret == std::string(32, 'z'));
  CHECK(!config_kv(p, "links", "9"));
  CHECK_EQ(p.err, "command line: key \"links\" given twice; keep one");
  config_begin(p, Role::Client, "command line");
  CHECK(!config_kv(p, "links", "20"));
  CHECK_EQ(p.err, "command line: --links: \"20\": expected a number from 1 to 16");
  CHECK(!config_kv(p, "sever", "x:1"));
  CHECK_EQ(p.err, "command line: unknown option \"--sever\"; did you mean \"--server\"?");
  CHECK(!config_kv(p, "listen", "1"));
  CHECK_EQ(p.err, "command line: --listen is a server option, not a client one");
  CHECK(!config_kv(p, "secret", "bad"));
  CHECK_EQ(p.err, "command line: --secret: expected base64 of exactly 32 bytes; make one with "
                  "\"braid secret\"");
  // Flags alone, no file.
  config_begin(p, Role::Server, "command line");
  CHECK(config_kv(p, "listen", "1"));
  CHECK(!config_end(p));
  CHECK_STR_CONTAINS(p.err, "command line: missing required key \"cert\"");
}

void test_load_errors() {
  TmpDir t;
  ConfigParser p;
  CHECK(!config_load(p, Role::Client, t.dir + "/nope.conf"));
  CHECK_EQ(p.err, t.dir + "/nope.conf: cannot open: No such file or directory; check the path given to -c");
  CHECK(!config_load(p, Role::Client, t.dir));
  CHECK_STR_CONTAINS(p.err, t.dir + ": cannot read: Is a directory");
  std::string big = t.write("big.conf", std::string(CONFIG_MAX_BYTES + 1, '#'));
  CHECK(!config_load(p, Role::Client, big));
  CHECK_EQ(p.err, big + ": larger than 1048576 bytes");
  std::string nul = t.write("nul.conf", std::string("[client]\nlinks = 1\0\n", 20));
  CHECK(!config_load(p, Role::Client, nul));
  CHECK_EQ(p.err, nul + ":2: NUL byte; the file must be text");
  std::string ok_line = "# " + std::string(CONFIG_MAX_LINE - 2, 'x');
  std::string lng = t.write("long.conf", "[client]\n" + ok_line + "\r\n" + ok_line + "x\n");
  CHECK(!config_load(p, Role::Client, lng));
  CHECK_EQ(p.err, lng + ":3: line longer than 4096 bytes");
  std::string bom = t.write("bom.conf", "\xef\xbb\xbf[client]\nlinks = 3\n");
  CHECK(config_load(p, Role::Client, bom));
  CHECK_EQ(p.cfg.links, 3);
}

// --- files named by keys ---------------------------------------------------------------------

void test_secret_file() {
  TmpDir t;
  std::string good = t.write("secret", SECRET_B64 + "\r\nignored second line\n");
  ConfigParser p;
  CHECK(feed(p, Role::Client, {"[client]", "secret-file = " + good}));
  CHECK(p.cfg.secret == SECRET_RAW);
  std::string missing = t.dir + "/none";
  CHECK(!feed(p, Role::Client, {"[client]", "secret-file = " + missing}));
  CHECK_EQ(p.err, "client.conf:2: secret-file = \"" + missing +
                      "\": cannot open: No such file or directory");
  std::string bad = t.write("bad", "c2hvcnQ=\n");
  CHECK(!feed(p, Role::Client, {"[client]", "secret-file = " + bad}));
  CHECK_STR_CONTAINS(p.err, "client.conf:2: secret-file = \"" + bad +
                                "\": first line: expected base64 of exactly 32 bytes");
  CHECK(!feed(p, Role::Client, {"[client]", "secret-file ="}));
  CHECK_STR_CONTAINS(p.err, "secret-file = \"\": expected the path");
}

void test_clients_file() {
  TmpDir t;
  struct { std::string body, want; } cases[] = {
      {"a " + SECRET_B64 + "\nb notbase64\n", ":2: expected base64 of exactly 32 bytes"},
      {"a " + SECRET_B64 + "\n\na " + SECRET_B64 + "\n", ":3: client \"a\" listed twice"},
      {"bad/name " + SECRET_B64 + "\n", ":1: name \"bad/name\": expected 1 to 64 characters"},
      {"a " + SECRET_B64 + " color=red\n", ":1: \"color=red\": expected expose=HOST:PORT"},
      {"# c\nlonely\n", ":2: expected NAME SECRET_BASE64"},
      {"a " + SECRET_B64 + std::string("\0\n", 2), ":1: NUL byte"},
  };
  int i = 0;
  for (const auto &c : cases) {
    std::string path = t.write("clients" + std::to_string(i++), c.body);
    ConfigParser p;
    CHECK(!feed(p, Role::Server, {"[server]", "clients = " + path}));
    CHECK_STR_CONTAINS(p.err, "server.conf:2: clients = \"" + path + "\": " + path + c.want);
  }
}

void test_socks_auth_file() {
  TmpDir t;
  struct { std::string body, want; } cases[] = {
      {"# users\nalice\n", ":2: expected user:password, each 1 to 255 bytes"},
      {":pw\n", ":1: expected user:password"},
      {"u:\n", ":1: expected user:password"},
      {"u:" + std::string(256, 'p') + "\n", ":1: expected user:password"},
      {"u:a\nu:b\n", ":2: user \"u\" listed twice"},
  };
  int i = 0;
  for (const auto &c : cases) {
    std::string path = t.write("auth" + std::to_string(i++), c.body);
    ConfigParser p;
    CHECK(!feed(p, Role::Client, {"[client]", "socks-auth-file = " + path}));
    CHECK_STR_CONTAINS(p.err, "client.conf:2: socks-auth-file = \"" + path + "\": " + path + c.want);
  }
  ConfigParser p;
  std::string ok = t.write("auth_ok", "u:" + std::string(255, 'p') + "\r\n");
  CHECK(feed(p, Role::Client, {"[client]", "socks-auth-file = " + ok}));
  CHECK_EQ(p.cfg.socks_auth.size(), size_t(1));
}

// --- helpers ---------------------------------------------------------------------------------

void test_base64() {
  std::string raw;
  for (int n = 0; n < 70; ++n) {
    std::string in;
    for (int i = 0; i < n; ++i) in += char((i * 37 + n) & 0xff);
    std::string enc = base64_encode(in);
    CHECK_EQ(enc.size(), size_t((n + 2) / 3 * 4));
    CHECK(base64_decode(enc, raw));
    CHECK(raw == in);
  }
  CHECK_EQ(base64_encode("foobar"), "Zm9vYmFy");
  CHECK_EQ(base64_encode("fo"), "Zm8=");
  CHECK_EQ(base64_encode("f"), "Zg==");
  CHECK(base64_decode("Zm8=\r\n \t", raw));
  CHECK_EQ(raw, "fo");
  const char *bad[] = {"Zm8", "Zm8==", "Z===", "====", "Zg=a", "Z=g=", "Zm9v!mFy", "Zm9v YmFy",
                       "Zh==", "Zm9=", " Zm8=", "Zm8=Zm8=", "Zm-_"};
  for (const char *b : bad) {
    raw = "untouched";
    CHECK(!base64_decode(b, raw));
    CHECK_EQ(raw, "untouched");
  }
  CHECK(base64_decode("", raw));
  CHECK_EQ(raw, "");
}

void test_hex_and_pin() {
  CHECK_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  std::string raw, err;
  CHECK(parse_pin("sha256:" + PIN_HEX, raw, err));
  CHECK_EQ(raw.size(), size_t(32));
  CHECK_EQ(hex_encode(raw), PIN_HEX);
  std::string upper = "SHA256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
  CHECK(parse_pin(upper, raw, err));
  CHECK_EQ(hex_encode(raw), PIN_HEX);
  const std::string bad[] = {"", "sha256:", PIN_HEX, "sha1:" + PIN_HEX, "sha256:" + PIN_HEX + "0",
                             "sha256:" + PIN_HEX.substr(1) + "g", "sha256: " + PIN_HEX.substr(1)};
  for (const std::string &b : bad) {
    err.clear();
    CHECK(!parse_pin(b, raw, err));
    CHECK_STR_CONTAINS(err, "expected sha256:<64 hex digits>");
  }
}

void test_cidr() {
  Cidr c;
  std::string err;
  CHECK(parse_cidr("127.0.0.0/8", c, err));
  CHECK_EQ(c.family, AF_INET);
  CHECK_EQ(c.prefix, 8);
  CHECK_EQ(c.text, "127.0.0.0/8");
  CHECK(parse_cidr("192.168.77.200/20", c, err));  // host bits are masked off
  CHECK_EQ(int(c.addr[0]), 192);
  CHECK_EQ(int(c.addr[1]), 168);
  CHECK_EQ(int(c.addr[2]), 64);
  CHECK_EQ(int(c.addr[3]), 0);
  CHECK(parse_cidr("10.1.2.3", c, err));
  CHECK_EQ(c.prefix, 32);
  CHECK_EQ(int(c.addr[3]), 3);
  CHECK(parse_cidr("0.0.0.0/0", c, err));
  CHECK_EQ(c.prefix, 0);
  CHECK(parse_cidr("::1/128", c, err));
  CHECK_EQ(c.family, AF_INET6);
  CHECK_EQ(c.prefix, 128);
  CHECK_EQ(int(c.addr[15]), 1);
  CHECK(parse_cidr("fe80::1234/10", c, err));
  CHECK_EQ(int(c.addr[0]), 0xfe);
  CHECK_EQ(int(c.addr[1]), 0x80);
  CHECK_EQ(int(c.addr[15]), 0);
  CHECK(parse_cidr("2001:db8::5", c, err));
  CHECK_EQ(c.prefix, 128);
  const char *bad[] = {"", "/8", "1.2.3/8", "1.2.3.4/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1",
                       "10.0.0.0/8/8", "x", "256.0.0.0/8", "::g/64", "10.0.0.0 /8", "10.0.0.0/ 8"};
  for (const char *b : bad) {
    err.clear();
    CHECK(!parse_cidr(b, c, err));
    CHECK(!err.empty());
  }
  CHECK(!parse_cidr("1.2.3.4/33", c, err));
  CHECK_EQ(err, "prefix \"33\" is not a number from 0 to 32");
}

void test_endpoint() {
  Endpoint e;
  std::string err;
  CHECK(parse_endpoint("1080", "127.0.0.1", e, err));
  CHECK_EQ(e.str(), "127.0.0.1:1080");
  CHECK(parse_endpoint("1080", "", e, err));
  CHECK_EQ(e.host, "");
  CHECK(parse_endpoint("1.2.3.4:80", "x", e, err));
  CHECK_EQ(e.host, "1.2.3.4");
  CHECK_EQ(int(e.port), 80);
  CHECK(parse_endpoint("[::1]:80", "", e, err));
  CHECK_EQ(e.host, "::1");
  CHECK_EQ(e.str(), "[::1]:80");
  CHECK(parse_endpoint("*:8080", "", e, err));
  CHECK_EQ(e.str(), "0.0.0.0:8080");
  CHECK(parse_endpoint("example.com:65535", "", e, err));
  CHECK_EQ(int(e.port), 65535);
  CHECK(parse_endpoint("h:0", "", e, err));
  CHECK_EQ(int(e.port), 0);
  const char *bad[] = {"",        "65536",    "h:99999", "h:",     "h:-1",      "h:0x50",
                       "h: 80",   "[::1]80",  "[::1]",   "[::1",   "[zz]:80",   ":80",
                       "::1:80",  "a b:80",   "h:80:1",  "[]:80",  "[1.2.3.4]:80"};
  for (const char *b : bad) {
    err.clear();
    CHECK(!parse_endpoint(b, "127.0.0.1", e, err));
    CHECK(!err.empty());
  }
  CHECK(!parse_endpoint("h:99999", "", e, err));
  CHECK_EQ(err, "port \"99999\" is not a number from 0 to 65535");
  CHECK(!parse_endpoint("::1:80", "", e, err));
  CHECK_EQ(err, "an IPv6 address needs brackets: [IPV6]:PORT");
}

// Random lines must produce a clean true/false, never a crash (a taste of the fuzzer).
void test_garbage() {
  const std::string alphabet = "[]=#; \t:/.-_abcsdeklinrvpoty0123456789\r\x01\xff";
  uint32_t seed = 12345;
  auto rnd = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int round = 0; round < 200; ++round) {
    ConfigParser p;
    config_begin(p, round % 2 ? Role::Client : Role::Server, "fuzz.conf");
    config_line(p, round % 3 ? "[client]" : "[server]");
    for (int i = 0; i < 30; ++i) {
      std::string l;
      size_t len = rnd() % 40;
      for (size_t j = 0; j < len; ++j) l += alphabet[rnd() % alphabet.size()];
      if (!config_line(p, l)) CHECK_STR_CONTAINS(p.err, "fuzz.conf:");
    }
    config_end(p);
  }
}

void test_forwards() {
  Forward f;
  std::string err;
  CHECK(parse_peer_forward("2222:office:127.0.0.1:22", f, err));
  CHECK_EQ(f.peer, std::string("office"));
  CHECK_EQ(f.bind.host, std::string("127.0.0.1"));
  CHECK_EQ(f.bind.port, 2222);
  CHECK_EQ(f.host, std::string("127.0.0.1"));
  CHECK_EQ(f.port, 22);
  CHECK(parse_peer_forward("[::1]:53:nas:[2001:db8::1]:53", f, err));
  CHECK_EQ(f.bind.host, std::string("::1"));
  CHECK_EQ(f.peer, std::string("nas"));
  CHECK_EQ(f.host, std::string("2001:db8::1"));
  CHECK(!parse_peer_forward("2222:127.0.0.1:22", f, err));
  CHECK_STR_CONTAINS(err, "expected [BIND:]PORT:PEER:HOST:HOSTPORT");
  CHECK_STR_CONTAINS(line_error("peer-forward = 1:bad/peer:h:2"), "peer \"bad/peer\": expected 1 to 64");
  CHECK_STR_CONTAINS(line_error("remote-forward = example.org:80:127.0.0.1:80"),
                     "must be an IP address of the server");
  CHECK_STR_CONTAINS(line_error("remote-forward = 0:127.0.0.1:80"), "port must be from 1 to 65535");
  ConfigParser p;
  CHECK(feed(p, Role::Client, {"[client]", "remote-forward = 0.0.0.0:8022:127.0.0.1:22",
                               "peer-forward = 2022:office:127.0.0.1:22"}));
  CHECK_EQ(p.cfg.remote_forwards.size(), size_t(1));
  CHECK_EQ(p.cfg.peer_forwards.size(), size_t(1));
}

void test_client_options() {
  ClientEntry c;
  std::string err;
  CHECK(parse_client_option("expose=127.0.0.1:22,NAS.lan:445,[::1]:80", c, err));
  CHECK_EQ(c.expose.size(), size_t(3));
  CHECK(expose_permitted(c, "127.0.0.1", 22));
  CHECK(expose_permitted(c, "nas.LAN", 445));
  CHECK(expose_permitted(c, "0:0::1", 80));
  CHECK(!expose_permitted(c, "127.0.0.1", 23));
  CHECK(!expose_permitted(c, "127.0.0.2", 22));
  ClientEntry none;
  CHECK(!expose_permitted(none, "127.0.0.1", 22));
  // Without listen= rules: loopback, ports 1024 and up.
  CHECK(listen_permitted(none, "127.0.0.1", 1024));
  CHECK(listen_permitted(none, "127.1.2.3", 65535));
  CHECK(listen_permitted(none, "::1", 8080));
  CHECK(!listen_permitted(none, "127.0.0.1", 1023));
  CHECK(!listen_permitted(none, "0.0.0.0", 8080));
  CHECK(parse_client_option("listen=0.0.0.0:8000-8010,*:22,[::]:443", c, err));
  CHECK(listen_permitted(c, "0.0.0.0", 8005));
  CHECK(!listen_permitted(c, "0.0.0.0", 8011));
  CHECK(!listen_permitted(c, "127.0.0.1", 8005));
  CHECK(listen_permitted(c, "10.1.2.3", 22));
  CHECK(listen_permitted(c, "::", 443));
  CHECK(!listen_permitted(c, "::", 444));
  CHECK(!parse_client_option("listen=0.0.0.0:9-8", c, err));
  CHECK_STR_CONTAINS(err, "ports must be PORT or LO-HI");
  CHECK(!parse_client_option("listen=host.example:80", c, err));
  CHECK_STR_CONTAINS(err, "BIND an IP address or *");
  CHECK(!parse_client_option("expose=127.0.0.1", c, err));
  CHECK_STR_CONTAINS(err, "expected expose=HOST:PORT");
  std::string many = "expose=";
  for (int i = 0; i < 70; i++) many += (i ? "," : "") + std::string("h:") + std::to_string(i + 1);
  ClientEntry m;
  CHECK(!parse_client_option(many, m, err));
  CHECK_STR_CONTAINS(err, "more than 64");
}

const CheckCase CASES[] = {
    {"client_valid", test_client_valid},       {"client_defaults", test_client_defaults},
    {"server_valid", test_server_valid},       {"both_sections", test_both_sections},
    {"comments_crlf", test_comments_crlf},     {"line_errors", test_line_errors},
    {"duplicates", test_duplicates},           {"missing_required", test_missing_required},
    {"command_line", test_command_line},       {"load_errors", test_load_errors},
    {"secret_file", test_secret_file},         {"clients_file", test_clients_file},
    {"socks_auth_file", test_socks_auth_file}, {"base64", test_base64},
    {"hex_and_pin", test_hex_and_pin},         {"cidr", test_cidr},
    {"endpoint", test_endpoint},               {"garbage", test_garbage},
    {"forwards", test_forwards},               {"client_options", test_client_options},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
