// SPDX-License-Identifier: MIT
// HTTP/1.x proxy wire format: heads, targets, rewrite, body framing, Basic auth, error replies.
#include "braid/http.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "braid/frame.h"
#include "braid/limits.h"

namespace braid {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

bool ieq(const std::string &a, const char *b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string lowered(std::string s) {
  for (char &c : s) c = lower(c);
  return s;
}

// RFC 9110 5.6.2 tchar
bool is_tchar(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(const std::string &s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(uint8_t(c))) return false;
  return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ows(s[b])) b++;
  while (e > b && is_ows(s[e - 1])) e--;
  return s.substr(b, e - b);
}

// Comma-separated list elements, trimmed, empty ones dropped (RFC 9110 5.6.1).
std::vector<std::string> split_list(const std::string &v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string item = trim(v.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

HttpParse fail(int *status, int code, std::string &err, const std::string &why) {
  if (status) *status = code;
  err = why;
  return HttpParse::Error;
}

// Splits a head into its first line and header fields. Leading empty lines are skipped.
HttpParse split_head(const uint8_t *p, size_t n, std::string &first, std::vector<HttpHeader> &hdrs,
                     size_t *used, int *status, std::string &err) {
  hdrs.clear();
  first.clear();
  size_t pos = 0;
  bool have_first = false;
  while (true) {
    const void *nl = pos < n ? std::memchr(p + pos, '\n', n - pos) : nullptr;
    if (!nl) {
      if (!have_first && n - pos > HTTP_LINE_MAX)
        return fail(status, 414, err, "request line longer than " + std::to_string(HTTP_LINE_MAX) + " bytes");
      if (n >= HTTP_HEAD_MAX)
        return fail(status, 431, err, "head larger than " + std::to_string(HTTP_HEAD_MAX) + " bytes");
      return HttpParse::NeedMore;
    }
    size_t end = size_t(static_cast<const uint8_t *>(nl) - p);
    if (end + 1 > HTTP_HEAD_MAX)
      return fail(status, 431, err, "head larger than " + std::to_string(HTTP_HEAD_MAX) + " bytes");
    size_t len = end - pos;
    if (len > 0 && p[end - 1] == '\r') len--;
    std::string line(reinterpret_cast<const char *>(p + pos), len);
    pos = end + 1;
    if (!have_first) {
      if (line.empty()) continue;  // RFC 9112 2.2: empty lines before the request line
      if (line.size() > HTTP_LINE_MAX)
        return fail(status, 414, err, "request line longer than " + std::to_string(HTTP_LINE_MAX) + " bytes");
      for (char c : line)
        if (uint8_t(c) < 0x20 || uint8_t(c) == 0x7f)
          return fail(status, 400, err, "control character in the first line");
      first = std::move(line);
      have_first = true;
      continue;
    }
    if (line.empty()) {
      *used = pos;
      return HttpParse::Ok;
    }
    if (is_ows(line[0])) return fail(status, 400, err, "folded header line (obs-fold) not accepted");
    size_t colon = line.find(':');
    if (colon == std::string::npos) return fail(status, 400, err, "header line without a colon");
    HttpHeader h{line.substr(0, colon), trim(line.substr(colon + 1))};
    if (!is_token(h.name)) return fail(status, 400, err, "invalid header name");
    for (char c : h.value)
      if ((uint8_t(c) < 0x20 && c != '\t') || uint8_t(c) == 0x7f)
        return fail(status, 400, err, "control character in header " + h.name);
    if (hdrs.size() >= HTTP_HEADERS_MAX)
      return fail(status, 431, err, "more than " + std::to_string(HTTP_HEADERS_MAX) + " header fields");
    hdrs.push_back(std::move(h));
  }
}

// "HTTP/1.x" -> minor (0 or 1, higher minors count as 1). False with status 400 or 505.
bool parse_version(const std::string &v, int &minor, int *status, std::string &err) {
  if (v.size() != 8 || v.compare(0, 5, "HTTP/") != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    fail(status, 400, err, "malformed HTTP version");
    return false;
  }
  if (v[5] != '1') {
    fail(status, 505, err, "HTTP version " + v.substr(5) + " not supported; only HTTP/1.x");
    return false;
  }
  minor = v[7] == '0' ? 0 : 1;
  return true;
}

bool parse_port(const std::string &s, uint16_t &port) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = uint16_t(v);
  return true;
}

bool valid_name(const std::string &h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
          c == '.' || c == '_'))
      return false;
  return true;
}

// host[:port] or [v6][:port]; an absent or empty port is default_port (0: required).
bool parse_hostport(const std::string &s, uint16_t default_port, std::string &host, uint16_t &port,
                    std::string &err) {
  std::string portstr;
  bool has_port = false;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) return err = "unterminated [IPv6] address", false;
    host = s.substr(1, close - 1);
    uint8_t buf[16];
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1 || host.find('\0') != std::string::npos)
      return err = "invalid IPv6 address \"" + host + "\"", false;
    std::string rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return err = "junk after the IPv6 address", false;
      has_port = true;
      portstr = rest.substr(1);
    }
  } else {
    size_t colon = s.rfind(':');
    host = s.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      portstr = s.substr(colon + 1);
    }
    if (!valid_name(host)) return err = "invalid host name \"" + host + "\"", false;
  }
  if (!has_port || portstr.empty()) {
    if (default_port == 0) return err = "port missing (expected HOST:PORT)", false;
    port = default_port;
    return true;
  }
  if (!parse_port(portstr, port)) return err = "invalid port \"" + portstr + "\"", false;
  return true;
}

// Fills host, port, authority, path of an absolute-URI request.
HttpParse parse_absolute(HttpRequest &r, int *status, std::string &err) {
  const std::string &t = r.target;
  if (t.empty() || t[0] == '/' || t == "*")
    return fail(status, 400, err,
                "not a proxy request: the target must be an absolute URI (http://host/path)");
  size_t sep = t.find("://");
  if (sep == std::string::npos || sep == 0)
    return fail(status, 400, err, "malformed request target (expected http://host/path)");
  std::string scheme = lowered(t.substr(0, sep));
  for (char c : scheme)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
      return fail(status, 400, err, "malformed URI scheme");
  if (scheme == "https")
    return fail(status, 501, err,
                "https:// URLs go through CONNECT; this proxy does not speak TLS to targets");
  if (scheme != "http")
    return fail(status, 501, err, "URI scheme \"" + scheme + "\" not supported; only http://");
  size_t a = sep + 3;
  size_t e = t.find_first_of("/?#", a);
  if (e == std::string::npos) e = t.size();
  r.authority = t.substr(a, e - a);
  if (r.authority.find('@') != std::string::npos)
    return fail(status, 400, err, "user:password@ in the URL is not supported");
  std::string why;
  if (!parse_hostport(r.authority, 80, r.host, r.port, why))
    return fail(status, 400, err, "bad URL host: " + why);
  std::string path = t.substr(e);
  size_t hash = path.find('#');
  if (hash != std::string::npos) path.resize(hash);
  if (path.empty() || path[0] != '/') path = "/" + path;
  r.path = path;
  return HttpParse::Ok;
}

// Content-Length values (several headers or a list): all equal decimal numbers, else error.
bool content_length(const HttpHead &h, bool &present, uint64_t &len, std::string &err) {
  present = false;
  for (const HttpHeader &x : h.headers) {
    if (!ieq(x.name, "content-length")) continue;
    std::vector<std::string> items = split_list(x.value);
    if (items.empty()) return err = "empty Content-Length", false;
    for (const std::string &it : items) {
      if (it.size() > 18) return err = "Content-Length \"" + it + "\" too large", false;
      uint64_t v = 0;
      for (char c : it) {
        if (c < '0' || c > '9') return err = "invalid Content-Length \"" + it + "\"", false;
        v = v * 10 + uint64_t(c - '0');
      }
      if (present && v != len) return err = "conflicting Content-Length values", false;
      present = true;
      len = v;
    }
  }
  return true;
}

// Transfer codings of every Transfer-Encoding header, in order.
std::vector<std::string> transfer_codings(const HttpHead &h, bool &present) {
  std::vector<std::string> out;
  present = false;
  for (const HttpHeader &x : h.headers) {
    if (!ieq(x.name, "transfer-encoding")) continue;
    present = true;
    for (std::string &c : split_list(x.value)) out.push_back(lowered(c));
  }
  return out;
}

}  // namespace

const std::string *HttpHead::get(const char *name) const {
  for (const HttpHeader &h : headers)
    if (ieq(h.name, name)) return &h.value;
  return nullptr;
}

bool HttpHead::has_token(const char *name, const char *token) const {
  for (const HttpHeader &h : headers) {
    if (!ieq(h.name, name)) continue;
    for (const std::string &t : split_list(h.value))
      if (ieq(t, token)) return true;
  }
  return false;
}

bool HttpRequest::keep_alive() const {
  if (has_token("Connection", "close") || has_token("Proxy-Connection", "close")) return false;
  if (minor == 0)
    return has_token("Connection", "keep-alive") || has_token("Proxy-Connection", "keep-alive");
  return true;
}

HttpParse http_parse_request(const uint8_t *p, size_t n, HttpRequest &out, size_t *used,
                             int *status, std::string &err) {
  out = HttpRequest{};
  std::string line;
  HttpParse r = split_head(p, n, line, out.headers, used, status, err);
  if (r != HttpParse::Ok) return r;
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos)
    return fail(status, 400, err, "malformed request line (expected METHOD TARGET HTTP/1.1)");
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(out.method)) return fail(status, 400, err, "invalid method");
  if (out.target.empty()) return fail(status, 400, err, "empty request target");
  for (char c : out.target)
    if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f)
      return fail(status, 400, err, "invalid character in the request target");
  if (!parse_version(line.substr(sp2 + 1), out.minor, status, err)) return HttpParse::Error;
  out.connect = out.method == "CONNECT";
  std::string why;
  if (out.connect) {
    if (!http_parse_authority(out.target, out.host, out.port, why))
      return fail(status, 400, err, "bad CONNECT target \"" + out.target + "\": " + why);
    out.authority = out.target;
  } else if (parse_absolute(out, status, err) != HttpParse::Ok) {
    return HttpParse::Error;
  }
  if (!target_from_string(out.host, out.port, out.dest))
    return fail(status, 400, err, "bad target host");
  return HttpParse::Ok;
}

HttpParse http_parse_response(const uint8_t *p, size_t n, HttpResponse &out, size_t *used,
                              std::string &err) {
  out = HttpResponse{};
  std::string line;
  int status = 0;
  HttpParse r = split_head(p, n, line, out.headers, used, &status, err);
  if (r != HttpParse::Ok) return r;
  // HTTP/1.1 SP 3DIGIT [SP reason]; some servers omit the space before an empty reason.
  if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
    return fail(nullptr, 0, err, "malformed status line");
  if (!parse_version(line.substr(0, 8), out.minor, &status, err)) return HttpParse::Error;
  int code = 0;
  for (int i = 9; i < 12; i++) {
    if (line[i] < '0' || line[i] > '9') return fail(nullptr, 0, err, "malformed status code");
    code = code * 10 + (line[i] - '0');
  }
  if (code < 100) return fail(nullptr, 0, err, "status code below 100");
  out.status = code;
  return HttpParse::Ok;
}

bool http_parse_authority(const std::string &s, std::string &host, uint16_t &port,
                          std::string &err) {
  return parse_hostport(s, 0, host, port, err);
}

std::string http_rewrite_request(const HttpRequest &r) {
  std::vector<std::string> named;  // headers listed in Connection: hop-by-hop too
  for (const HttpHeader &h : r.headers)
    if (ieq(h.name, "connection"))
      for (const std::string &t : split_list(h.value)) named.push_back(lowered(t));
  static const char *const hop[] = {"connection", "keep-alive", "proxy-connection",
                                    "proxy-authorization", "te", "trailer", "upgrade", "host"};
  std::string out = r.method + " " + r.path + " HTTP/1." + std::to_string(r.minor) + "\r\n";
  out += "Host: " + r.authority + "\r\n";
  for (const HttpHeader &h : r.headers) {
    std::string name = lowered(h.name);
    bool drop = false;
    for (const char *x : hop) drop = drop || name == x;
    // Body framing always stays, whatever Connection names: dropping it would desynchronise
    // the target's idea of where this request ends from ours.
    if (name != "transfer-encoding" && name != "content-length")
      for (const std::string &x : named) drop = drop || name == x;
    if (!drop) out += h.name + ": " + h.value + "\r\n";
  }
  if (!r.keep_alive()) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

bool http_request_body(const HttpRequest &r, BodyFraming &out, int *status, std::string &err) {
  out = BodyFraming{};
  bool te = false, cl = false;
  std::vector<std::string> codings = transfer_codings(r, te);
  uint64_t len = 0;
  std::string why;
  if (!content_length(r, cl, len, why)) return fail(status, 400, err, why), false;
  if (te) {
    if (cl) return fail(status, 400, err, "both Transfer-Encoding and Content-Length"), false;
    if (codings.empty() || codings.back() != "chunked")
      return fail(status, 400, err, "Transfer-Encoding without chunked as the final coding"), false;
    for (size_t i = 0; i + 1 < codings.size(); i++)
      if (codings[i] == "chunked")
        return fail(status, 400, err, "chunked applied twice"), false;
    out.kind = BodyKind::Chunked;
    return true;
  }
  if (cl && len > 0) {
    out.kind = BodyKind::Length;
    out.length = len;
  }
  return true;
}

bool http_response_body(const HttpResponse &r, bool head_request, BodyFraming &out,
                        std::string &err) {
  out = BodyFraming{};
  if (head_request || r.status < 200 || r.status == 204 || r.status == 304) return true;
  bool te = false, cl = false;
  std::vector<std::string> codings = transfer_codings(r, te);
  if (te) {
    out.kind = !codings.empty() && codings.back() == "chunked" ? BodyKind::Chunked : BodyKind::Close;
    return true;
  }
  uint64_t len = 0;
  if (!content_length(r, cl, len, err)) return false;
  if (cl) {
    out.kind = len ? BodyKind::Length : BodyKind::None;
    out.length = len;
  } else {
    out.kind = BodyKind::Close;
  }
  return true;
}

HttpParse ChunkParser::feed(const uint8_t *p, size_t n, size_t *used, std::string &err) {
  size_t i = 0;
  auto bad = [&](const std::string &why) {
    *used = i;
    err = "chunked body: " + why;
    return HttpParse::Error;
  };
  while (i < n && state_ != State::Done) {
    uint8_t c = p[i];
    switch (state_) {
      case State::Data: {
        uint64_t take = std::min<uint64_t>(size_, n - i);
        size_ -= take;
        i += size_t(take);
        if (size_ == 0) state_ = State::DataCr;
        continue;
      }
      case State::Size:
      case State::Ext:
      case State::SizeLf:
        if (++line_ > HTTP_CHUNK_LINE_MAX)
          return bad("chunk-size line longer than " + std::to_string(HTTP_CHUNK_LINE_MAX));
        if (state_ == State::Size) {
          int d = (c >= '0' && c <= '9') ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
          if (d >= 0) {
            if (++digits_ > 15) return bad("chunk size too large");
            size_ = size_ * 16 + uint64_t(d);
            break;
          }
          if (digits_ == 0) return bad("chunk size expected");
          if (c == ';' || c == ' ' || c == '\t') state_ = State::Ext;
          else if (c == '\r') state_ = State::SizeLf;
          else if (c != '\n') return bad("invalid chunk size");
          if (c != '\n') break;
        } else if (state_ == State::Ext) {
          if (c == '\r') state_ = State::SizeLf;
          else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
            return bad("control character in a chunk extension");
          if (c != '\n') break;
        } else if (c != '\n') {
          return bad("CR without LF after the chunk size");
        }
        // end of the size line
        line_ = 0;
        digits_ = 0;
        state_ = size_ ? State::Data : State::TrailerStart;
        break;
      case State::DataCr:
        if (c == '\r') state_ = State::DataLf;
        else if (c == '\n') state_ = State::Size;
        else return bad("chunk data longer than its size");
        break;
      case State::DataLf:
        if (c != '\n') return bad("CR without LF after chunk data");
        state_ = State::Size;
        break;
      case State::TrailerStart:
      case State::Trailer:
      case State::FinalLf:
        if (++trailer_ > HTTP_TRAILER_MAX)
          return bad("trailers larger than " + std::to_string(HTTP_TRAILER_MAX) + " bytes");
        if (state_ == State::TrailerStart) {
          if (c == '\r') state_ = State::FinalLf;
          else if (c == '\n') state_ = State::Done;
          else state_ = State::Trailer;
        } else if (state_ == State::Trailer) {
          if (c == '\n') state_ = State::TrailerStart;
          else if (c == 0) return bad("NUL in a trailer");
        } else {
          if (c != '\n') return bad("CR without LF after the last chunk");
          state_ = State::Done;
        }
        break;
      case State::Done:
        break;
    }
    i++;
  }
  *used = i;
  return state_ == State::Done ? HttpParse::Ok : HttpParse::NeedMore;
}

bool http_check_basic(const std::string *value,
                      const std::vector<std::pair<std::string, std::string>> &pairs) {
  if (!value || value->size() < 6 || !ieq(value->substr(0, 5), "basic") || !is_ows((*value)[5]))
    return false;
  std::string raw;
  if (!base64_decode(trim(value->substr(6)), raw)) return false;
  size_t colon = raw.find(':');
  if (colon == std::string::npos) return false;
  std::string user = raw.substr(0, colon), pass = raw.substr(colon + 1);
  // Compare every pair in full so the time taken says nothing about which byte differed.
  auto same = [](const std::string &a, const std::string &b) {
    unsigned d = a.size() != b.size();
    for (size_t i = 0; i < a.size(); i++) d |= uint8_t(a[i]) ^ uint8_t(i < b.size() ? b[i] : 0);
    return d == 0;
  };
  bool ok = false;
  for (const auto &up : pairs) {
    bool u = same(user, up.first), pw = same(pass, up.second);
    ok = ok || (u && pw);
  }
  return ok;
}

const char *http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

std::string http_error_response(int status, const std::string &msg, const std::string &extra) {
  std::string body = msg + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + http_reason(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra + "\r\n" + body;
}

int http_status_for(uint32_t code) {
  if (code == 0) return 200;
  if (code == uint32_t(ResetCode::NotAllowed)) return 403;
  if (code == uint32_t(ResetCode::TtlExpired)) return 504;
  return 502;
}

}  // namespace braid
