// SPDX-License-Identifier: MIT
// Owns the HTTP/1.x proxy wire format (RFC 9112): request and response heads, request targets
// (absolute-URI and CONNECT authority), the rewrite of a request head for forwarding, body
// framing (Content-Length, chunked, none, close-delimited), Basic proxy auth and short error
// responses, as pure functions over bytes; and HttpListener (listen_http.cc), which drives them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "braid/addr.h"
#include "braid/config.h"
#include "braid/listen.h"

namespace braid {

enum class HttpParse { NeedMore, Ok, Error };

struct HttpHeader {
  std::string name, value;  // value without surrounding whitespace
};

struct HttpHead {
  std::vector<HttpHeader> headers;
  int minor = 1;  // HTTP/1.<minor>
  // First header named `name` (case-insensitive), or nullptr.
  const std::string *get(const char *name) const;
  // True if a comma-separated header `name` lists `token` (case-insensitive), e.g.
  // has_token("Connection", "close").
  bool has_token(const char *name, const char *token) const;
};

struct HttpRequest : HttpHead {
  std::string method;     // as sent (methods are case-sensitive)
  std::string target;     // request-target as sent
  bool connect = false;   // CONNECT host:port
  std::string host;       // target host, IPv6 without brackets
  uint16_t port = 0;
  std::string authority;  // absolute-URI: host[:port] as written, for the Host header
  std::string path;       // absolute-URI: origin-form ("/" if the URI has no path)
  Target dest;            // host:port as a stream target
  // Whether the client wants the connection kept after this exchange (HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
  bool keep_alive() const;
};

struct HttpResponse : HttpHead {
  int status = 0;
};

// Parses a request head (request line, headers, empty line) from [p, p+n). Leading empty lines
// are skipped. On Ok, *used is the head's length including the final empty line. On Error,
// *status is the status to answer (400 malformed, 414 request line too long, 431 head too large
// or too many headers, 501 unsupported scheme, 505 version) and err says what was wrong.
// Needs no more than HTTP_HEAD_MAX bytes to decide: NeedMore is only returned below that.
HttpParse http_parse_request(const uint8_t *p, size_t n, HttpRequest &out, size_t *used,
                             int *status, std::string &err);
// Parses a response head; like http_parse_request (errors have no status: the caller answers 502).
HttpParse http_parse_response(const uint8_t *p, size_t n, HttpResponse &out, size_t *used,
                              std::string &err);

// "host:port" / "[v6]:port" (CONNECT's authority form); port required and non-zero.
bool http_parse_authority(const std::string &s, std::string &host, uint16_t &port,
                          std::string &err);

// The head to send to the target: origin-form request line, Host from the URI's authority
// (RFC 9112 3.2.2: a proxy replaces any Host the client sent), hop-by-hop headers removed
// (Connection and the headers it names, Keep-Alive, Proxy-Connection, Proxy-Authorization, TE,
// Trailer, Upgrade; Transfer-Encoding stays, it describes the body), "Connection: close" added
// when the client asked for it.
std::string http_rewrite_request(const HttpRequest &r);

enum class BodyKind { None, Length, Chunked, Close };
struct BodyFraming {
  BodyKind kind = BodyKind::None;
  uint64_t length = 0;  // BodyKind::Length
};

// A request's body: chunked if Transfer-Encoding ends in chunked, else Content-Length, else
// none. False with *status and err for what a proxy must refuse (both headers, an unknown
// transfer coding, conflicting or invalid lengths): smuggling starts where two parsers differ.
bool http_request_body(const HttpRequest &r, BodyFraming &out, int *status, std::string &err);
// A response's body (RFC 9112 6.3): none for HEAD, 1xx, 204 and 304; chunked; Content-Length;
// else delimited by close. False with err on an invalid Content-Length.
bool http_response_body(const HttpResponse &r, bool head_request, BodyFraming &out,
                        std::string &err);

// Incremental, bounded parser of a chunked body (chunks, last chunk, trailers).
class ChunkParser {
 public:
  // Feeds body bytes. Ok: the body ended, *used bytes of [p, p+n) belong to it. NeedMore: all
  // of them did (*used = n). Error: malformed or over a limit; err says which.
  HttpParse feed(const uint8_t *p, size_t n, size_t *used, std::string &err);
  bool done() const { return state_ == State::Done; }

 private:
  enum class State { Size, Ext, SizeLf, Data, DataCr, DataLf, TrailerStart, Trailer, FinalLf, Done };
  State state_ = State::Size;
  uint64_t size_ = 0;
  int digits_ = 0;
  size_t line_ = 0;      // bytes of the current size line
  size_t trailer_ = 0;   // bytes of the trailer section
};

// Checks a Proxy-Authorization value ("Basic base64(user:password)") against the pairs.
bool http_check_basic(const std::string *value,
                      const std::vector<std::pair<std::string, std::string>> &pairs);

const char *http_reason(int status);
// A complete short response: status line, Content-Type text/plain, Content-Length,
// Connection: close, `extra` header lines (each ending in CRLF), and `msg` + "\n" as the body.
std::string http_error_response(int status, const std::string &msg, const std::string &extra = "");
// The status for a stream's RESET code: 403 for NotAllowed, 504 for TtlExpired, else 502.
int http_status_for(uint32_t reset_code);

class HttpConn;

// The HTTP proxy front door: CONNECT hands the client socket itself to the opener;
// absolute-URI requests go through a per-connection filter (HttpConn) that rewrites heads and
// keeps the connection alive across requests and targets.
class HttpListener : public Listener {
 public:
  HttpListener(Loop &loop, StreamOpener &opener, const Config &cfg);
  ~HttpListener() override;
  void finished(HttpConn *c);  // the connection is done (closed or handed off); freed later
  StreamOpener &opener() { return opener_; }
  const Config &config() const { return cfg_; }
  size_t connections() const { return conns_.size(); }

 protected:
  void on_accept(int fd, const std::string &peer) override;

 private:
  StreamOpener &opener_;
  const Config &cfg_;
  std::list<std::shared_ptr<HttpConn>> conns_;  // shared: open callbacks hold weak references
};

}  // namespace braid
