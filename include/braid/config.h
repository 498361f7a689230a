// SPDX-License-Identifier: MIT
// Owns the configuration: the INI file and command-line flags turned into one validated Config.
// One line-oriented parser (config_begin / config_line / config_end) serves the file, the CLI
// and the fuzzer. No side effects beyond reading the files a key names (secret-file, clients,
// socks-auth-file): nothing is bound, dialled or logged here.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace braid {

enum class Role { Client, Server };

// HOST:PORT or [V6]:PORT as written; host may be empty for "PORT" (bind default applies).
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string str() const;  // "host:port", "[v6]:port"
};

// One CIDR rule of the server's target ACL.
struct Cidr {
  int family = 0;           // AF_INET or AF_INET6
  uint8_t addr[16] = {};    // network byte order, 4 or 16 bytes used
  int prefix = 0;
  std::string text;         // as written, for logs
};

// Where a client's remote forwards may bind on the server (clients file "listen=").
struct ListenRule {
  std::string host;         // IP literal as written, or "*" for any address
  uint16_t lo = 0, hi = 0;  // port range, inclusive
};
struct ClientEntry {
  std::string name;
  std::string secret;       // 32 raw bytes
  // HOST:PORT that other clients may reach through this one (peer-forward), "expose=".
  std::vector<Endpoint> expose;
  // Empty: remote forwards may bind on loopback (127.0.0.0/8, ::1), ports 1024 and up.
  std::vector<ListenRule> listen;
};

enum class ConnectReply { Early, Confirmed };

// An ssh -L style forward: connections to `bind` are tunnelled to host:port. The same shape
// serves remote forwards (bind on the server, host:port seen from the client) and peer
// forwards (host:port seen from the client named `peer`).
struct Forward {
  Endpoint bind;
  std::string peer;  // peer-forward only
  std::string host;  // name or literal (IPv6 without brackets)
  uint16_t port = 0;
  std::string text;  // as written
};

struct Config {
  Role role = Role::Client;
  std::string path;         // config path as given, for messages

  // common
  std::string log = "stderr";  // stderr | syslog | file path
  int verbose = 1;             // 0 errors, 1 info, 2 debug, 3 trace
  std::string pidfile;
  // MiB of stream data a session reads from local sockets and keeps until the peer
  // acknowledges it (the resend store); reading stops at the cap.
  int send_buffer_mib = 16;
  std::string control;         // path of the control socket; empty: none
  std::set<std::string> given;  // keys set in the file or on the command line

  // client
  std::vector<Endpoint> servers;
  std::string server_pin;      // 32 raw bytes (sha256 of the server's SubjectPublicKeyInfo)
  std::string name;
  std::string secret;          // 32 raw bytes
  std::string secret_file;     // path, when the secret came from a file
  int links = 1;
  std::vector<Endpoint> socks; // bind default 127.0.0.1
  std::vector<std::pair<std::string, std::string>> socks_auth;  // user, password
  std::vector<Endpoint> http;    // HTTP proxy listeners, bind default 127.0.0.1
  std::vector<std::pair<std::string, std::string>> http_auth;   // user, password (Basic)
  std::vector<Forward> forwards;
  std::vector<Forward> remote_forwards;  // bind is an IP literal on the server
  std::vector<Forward> peer_forwards;
  std::vector<Endpoint> redir;   // transparent (SO_ORIGINAL_DST) listeners
  std::vector<Endpoint> dns;     // DNS over the tunnel, UDP and TCP on the same port
  ConnectReply connect_reply = ConnectReply::Early;
  uint8_t compress = 0;        // CompressMode (lz4.h): 0 off, 1 auto, 2 on
  int keepalive = 10;
  int resume_timeout = 60;
  std::string upstream_proxy;  // http://HOST:PORT or socks5://HOST:PORT; empty: direct

  // server
  std::vector<Endpoint> listen;  // bind default 0.0.0.0
  std::string cert, key;         // file paths
  std::string clients_file;      // path of the clients file
  std::string socks_auth_file, http_auth_file;  // paths of the proxy password files
  std::vector<ClientEntry> clients;
  std::vector<Cidr> allow, deny;
  int max_sessions = 1024;
  int max_streams = 16384;
  Endpoint dns_upstream;         // empty host: first nameserver of /etc/resolv.conf
  Endpoint fallback;             // empty host: none (unauthenticated links are closed)
};

// Parser state across lines. `err` holds "FILE:LINE: message; fix" after a failure.
struct ConfigParser {
  Config cfg;
  std::string file;     // path as given ("--" context for command-line flags)
  int line = 0;
  std::string section;  // "client" / "server" / "" before the first section
  std::string err;
  std::vector<std::string> seen_required;  // internal bookkeeping
};

void config_begin(ConfigParser &p, Role role, const std::string &file);
// Feeds one line (without newline). Returns false and sets p.err on a bad line.
bool config_line(ConfigParser &p, const std::string &line);
// Applies one "key = value" pair with a context label (used for CLI flags: "--key").
bool config_kv(ConfigParser &p, const std::string &key, const std::string &value);
// Checks required keys and cross-key rules; fills defaults. Returns false and sets p.err.
bool config_end(ConfigParser &p);

// Reads FILE whole (capped at CONFIG_MAX_BYTES) through the line API. role decides which section
// applies; a file may hold both [client] and [server], the other section's keys are checked too.
bool config_load(ConfigParser &p, Role role, const std::string &file);

// Files holding secrets (key, clients, secret-file, auth files) that others may read; one
// warning per file, e.g. "/etc/braid/server.key: readable by group or others (mode 0644);
// run chmod 600 /etc/braid/server.key". No side effects; the caller logs.
std::vector<std::string> config_permission_warnings(const Config &c);

// Helpers shared with other modules and tests.
bool parse_endpoint(const std::string &text, const std::string &default_host, Endpoint &out,
                    std::string &err);
bool parse_cidr(const std::string &text, Cidr &out, std::string &err);
// "[BIND:]PORT:HOST:HOSTPORT"; IPv6 addresses in brackets.
bool parse_forward(const std::string &text, Forward &out, std::string &err);
// "[BIND:]PORT:PEER:HOST:HOSTPORT".
// One option of a clients-file line: expose=HOST:PORT,... or listen=BIND:PORT[-PORT],...
bool parse_client_option(const std::string &opt, ClientEntry &c, std::string &err);
// True if a client's remote forward may bind `host` (IP literal) port `port` on the server.
bool listen_permitted(const ClientEntry &c, const std::string &host, uint16_t port);
// True if other clients may reach host:port through client c (its expose= list).
bool expose_permitted(const ClientEntry &c, const std::string &host, uint16_t port);
bool parse_peer_forward(const std::string &text, Forward &out, std::string &err);
bool parse_pin(const std::string &text, std::string &raw32, std::string &err);  // "sha256:<64 hex>"
std::string base64_encode(const std::string &raw);
bool base64_decode(const std::string &text, std::string &raw);
std::string hex_encode(const std::string &raw);

} // namespace braid
