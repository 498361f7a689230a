// SPDX-License-Identifier: MIT
// Unit tests for src/http.cc: request and response heads fed whole and one byte at a time,
// targets (absolute URI, CONNECT authority, IPv6 literals), every error status, the forwarding
// rewrite, body framing, the chunked-body parser, Basic auth and error responses.
#include "braid/http.h"

#include <string>

#include "braid/frame.h"
#include "braid/limits.h"
#include "check.h"

using namespace braid;

namespace {

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

// Parses s whole (with trailing bytes that must not be consumed) and then one byte at a time:
// every proper prefix must be NeedMore. Returns the status of the whole parse.
HttpParse req(const std::string &s, HttpRequest &r, int *status = nullptr, std::string *err = nullptr) {
  int st = 0;
  std::string e;
  size_t used = 0;
  std::string more = s + "NEXT";
  HttpParse whole = http_parse_request(bytes(more), more.size(), r, &used, &st, e);
  if (whole == HttpParse::Ok) {
    CHECK_EQ(used, s.size());
    for (size_t i = 0; i < s.size(); i++) {
      HttpRequest tmp;
      size_t u = 0;
      int st2 = 0;
      std::string e2;
      HttpParse part = http_parse_request(bytes(s), i, tmp, &u, &st2, e2);
      if (part != HttpParse::NeedMore) {
        CHECK_EQ(int(part), int(HttpParse::NeedMore));
        break;
      }
    }
  }
  if (status) *status = st;
  if (err) *err = e;
  return whole;
}

// Expects s to fail with `want`; also when it arrives in pieces (the error is found at the
// first byte that proves it, so some prefix must already report it).
void req_error(const std::string &s, int want, const char *what) {
  HttpRequest r;
  int st = 0;
  std::string err;
  HttpParse res = req(s, r, &st, &err);
  if (res != HttpParse::Error || st != want)
    check::fail(__FILE__, __LINE__,
                std::string(what) + ": result " + std::to_string(int(res)) + " status " +
                    std::to_string(st) + " vs " + std::to_string(want));
  CHECK(res != HttpParse::Error || !err.empty());
  bool saw = false;
  for (size_t i = 1; i <= s.size() && !saw; i++) {
    size_t u = 0;
    int st2 = 0;
    std::string e2;
    HttpRequest tmp;
    HttpParse p = http_parse_request(bytes(s), i, tmp, &u, &st2, e2);
    if (p == HttpParse::Ok) break;
    saw = p == HttpParse::Error && st2 == want;
  }
  if (!saw) check::fail(__FILE__, __LINE__, std::string(what) + ": not found byte by byte");
}

void test_request_absolute() {
  HttpRequest r;
  std::string s = "GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n"
                  "User-Agent:  curl/8  \r\nAccept: */*\r\n\r\n";
  CHECK_EQ(int(req(s, r)), int(HttpParse::Ok));
  CHECK_EQ(r.method, std::string("GET"));
  CHECK_EQ(r.host, std::string("Example.com"));
  CHECK_EQ(r.port, 8080);
  CHECK_EQ(r.authority, std::string("Example.com:8080"));
  CHECK_EQ(r.path, std::string("/a/b?c=d"));
  CHECK_EQ(r.minor, 1);
  CHECK(!r.connect);
  CHECK_EQ(r.headers.size(), size_t(3));
  CHECK_EQ(*r.get("user-agent"), std::string("curl/8"));
  CHECK(r.get("X-Missing") == nullptr);
  CHECK_EQ(int(r.dest.atyp), int(Atyp::Domain));
  CHECK_EQ(r.dest.str(), std::string("Example.com:8080"));

  CHECK_EQ(int(req("GET http://h HTTP/1.0\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.port, 80);
  CHECK_EQ(r.path, std::string("/"));
  CHECK_EQ(r.minor, 0);
  CHECK_EQ(int(req("GET http://h:?x=1#frag HTTP/1.1\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.port, 80);
  CHECK_EQ(r.path, std::string("/?x=1"));
  CHECK_EQ(int(req("POST HTTP://10.1.2.3:81/ HTTP/1.1\n\n", r)), int(HttpParse::Ok));  // bare LF
  CHECK_EQ(int(r.dest.atyp), int(Atyp::Ipv4));
  CHECK_EQ(r.dest.str(), std::string("10.1.2.3:81"));
  // Empty lines before the request line are skipped (RFC 9112 2.2).
  CHECK_EQ(int(req("\r\n\r\nGET http://h/ HTTP/1.1\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.host, std::string("h"));
  // HTTP/1.9 is treated as 1.1.
  CHECK_EQ(int(req("GET http://h/ HTTP/1.9\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.minor, 1);
}

void test_request_ipv6_and_connect() {
  HttpRequest r;
  CHECK_EQ(int(req("GET http://[::1]:8080/x HTTP/1.1\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.host, std::string("::1"));
  CHECK_EQ(r.port, 8080);
  CHECK_EQ(r.authority, std::string("[::1]:8080"));
  CHECK_EQ(int(r.dest.atyp), int(Atyp::Ipv6));
  CHECK_EQ(r.dest.str(), std::string("[::1]:8080"));
  CHECK_EQ(int(req("GET http://[2001:db8::1]/ HTTP/1.1\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.port, 80);

  CHECK_EQ(int(req("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", r)),
           int(HttpParse::Ok));
  CHECK(r.connect);
  CHECK_EQ(r.host, std::string("example.org"));
  CHECK_EQ(r.port, 443);
  CHECK_EQ(int(req("CONNECT [::1]:22 HTTP/1.1\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.dest.str(), std::string("[::1]:22"));

  std::string host;
  uint16_t port = 0;
  std::string err;
  CHECK(http_parse_authority("a.b:1", host, port, err));
  CHECK(!http_parse_authority("a.b", host, port, err));
  CHECK_STR_CONTAINS(err, "port missing");
  CHECK(!http_parse_authority("a.b:", host, port, err));
  CHECK(!http_parse_authority("a.b:0", host, port, err));
  CHECK(!http_parse_authority("a.b:65536", host, port, err));
  CHECK(!http_parse_authority("a.b:12x", host, port, err));
  CHECK(!http_parse_authority("[::1:80", host, port, err));
  CHECK(!http_parse_authority("[::1]x:80", host, port, err));
  CHECK(!http_parse_authority("[zz::1]:80", host, port, err));
  CHECK(!http_parse_authority("::1:80", host, port, err));
  CHECK(!http_parse_authority(":80", host, port, err));
  CHECK(!http_parse_authority("a/b:80", host, port, err));
  CHECK(!http_parse_authority(std::string(256, 'a') + ":80", host, port, err));
}

void test_request_errors() {
  req_error("GET http://h/ HTTP/1.1 extra\r\n\r\n", 400, "extra field");
  req_error("GET  http://h/ HTTP/1.1\r\n\r\n", 400, "double space");
  req_error("GET\r\n\r\n", 400, "no target");
  req_error("G(T http://h/ HTTP/1.1\r\n\r\n", 400, "bad method");
  req_error("GET http://h/\x01 HTTP/1.1\r\n\r\n", 400, "control char in target");
  req_error("GET http://h/\xff HTTP/1.1\r\n\r\n", 400, "8-bit target");
  req_error("GET http://h/ HTTP/1.1\r\nFoo\r\n\r\n", 400, "no colon");
  req_error("GET http://h/ HTTP/1.1\r\nFoo : x\r\n\r\n", 400, "space before colon");
  req_error("GET http://h/ HTTP/1.1\r\n: x\r\n\r\n", 400, "empty name");
  req_error("GET http://h/ HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, "obs-fold");
  req_error("GET http://h/ HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "control char in value");
  req_error("GET http://h/ HTTP/1.1\r\nA: b\rc\r\n\r\n", 400, "bare CR in value");
  req_error("GET http://h/ HTTQ/1.1\r\n\r\n", 400, "bad version");
  req_error("GET http://h/ HTTP/1.1x\r\n\r\n", 400, "long version");
  req_error("GET http://h/ HTTP/2.0\r\n\r\n", 505, "HTTP/2");
  req_error("GET /path HTTP/1.1\r\nHost: h\r\n\r\n", 400, "origin form");
  req_error("OPTIONS * HTTP/1.1\r\n\r\n", 400, "asterisk form");
  req_error("GET h/path HTTP/1.1\r\n\r\n", 400, "no scheme");
  req_error("GET ://h/ HTTP/1.1\r\n\r\n", 400, "empty scheme");
  req_error("GET ht_p://h/ HTTP/1.1\r\n\r\n", 400, "bad scheme chars");
  req_error("GET https://h/ HTTP/1.1\r\n\r\n", 501, "https");
  req_error("GET ftp://h/ HTTP/1.1\r\n\r\n", 501, "ftp");
  req_error("GET http://u:p@h/ HTTP/1.1\r\n\r\n", 400, "userinfo");
  req_error("GET http:///x HTTP/1.1\r\n\r\n", 400, "empty host");
  req_error("GET http://h:0/ HTTP/1.1\r\n\r\n", 400, "port 0");
  req_error("GET http://h:99999/ HTTP/1.1\r\n\r\n", 400, "port too large");
  req_error("GET http://h%41/ HTTP/1.1\r\n\r\n", 400, "bad host char");
  req_error("GET http://::1/ HTTP/1.1\r\n\r\n", 400, "IPv6 without brackets");
  req_error("CONNECT example.org HTTP/1.1\r\n\r\n", 400, "CONNECT without port");
  req_error("CONNECT http://example.org:443/ HTTP/1.1\r\n\r\n", 400, "CONNECT absolute");

  // Size limits: 414 for a long request line, 431 for a large head or too many fields.
  req_error("GET http://h/" + std::string(HTTP_LINE_MAX, 'a') + " HTTP/1.1\r\n\r\n", 414, "long line");
  std::string big = "GET http://h/ HTTP/1.1\r\n";
  while (big.size() < HTTP_HEAD_MAX) big += "X-Filler: " + std::string(1000, 'f') + "\r\n";
  req_error(big + "\r\n", 431, "large head");
  std::string many = "GET http://h/ HTTP/1.1\r\n";
  for (size_t i = 0; i <= HTTP_HEADERS_MAX; i++) many += "A" + std::to_string(i) + ": 1\r\n";
  req_error(many + "\r\n", 431, "too many fields");
  // Leading empty lines count towards the head limit too.
  req_error(std::string(HTTP_HEAD_MAX, '\n'), 431, "endless empty lines");
  // NeedMore is never returned at or above HTTP_HEAD_MAX.
  HttpRequest r;
  size_t used = 0;
  int st = 0;
  std::string err;
  std::string nohead = "GET http://h/ HTTP/1.1\r\nA: " + std::string(HTTP_HEAD_MAX, 'a');
  CHECK_EQ(int(http_parse_request(bytes(nohead), nohead.size(), r, &used, &st, err)),
           int(HttpParse::Error));
  CHECK_EQ(st, 431);
  // Exactly at the limit is fine.
  std::string edge = "GET http://h/ HTTP/1.1\r\nA: ";
  edge += std::string(HTTP_HEAD_MAX - edge.size() - 4, 'a') + "\r\n\r\n";
  CHECK_EQ(edge.size(), HTTP_HEAD_MAX);
  CHECK_EQ(int(http_parse_request(bytes(edge), edge.size(), r, &used, &st, err)), int(HttpParse::Ok));
}

void test_keep_alive() {
  HttpRequest r;
  req("GET http://h/ HTTP/1.1\r\n\r\n", r);
  CHECK(r.keep_alive());
  req("GET http://h/ HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", r);
  CHECK(!r.keep_alive());
  req("GET http://h/ HTTP/1.1\r\nProxy-Connection: close\r\n\r\n", r);
  CHECK(!r.keep_alive());
  req("GET http://h/ HTTP/1.0\r\n\r\n", r);
  CHECK(!r.keep_alive());
  req("GET http://h/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", r);
  CHECK(r.keep_alive());
  req("GET http://h/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", r);
  CHECK(r.keep_alive());
  CHECK(r.has_token("proxy-connection", "KEEP-ALIVE"));
  CHECK(!r.has_token("Connection", "keep-alive"));
}

void test_rewrite() {
  HttpRequest r;
  std::string s =
      "POST http://example.com:8080/up?x=1 HTTP/1.1\r\n"
      "Host: wrong.example\r\n"
      "Proxy-Authorization: Basic dTpw\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Connection: X-Secret, keep-alive\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Secret: 1\r\n"
      "TE: trailers\r\n"
      "Trailer: X-T\r\n"
      "Upgrade: websocket\r\n"
      "Transfer-Encoding: chunked\r\n"
      "User-Agent: t\r\n"
      "\r\n";
  CHECK_EQ(int(req(s, r)), int(HttpParse::Ok));
  CHECK_EQ(http_rewrite_request(r),
           std::string("POST /up?x=1 HTTP/1.1\r\n"
                       "Host: example.com:8080\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "User-Agent: t\r\n"
                       "\r\n"));
  // Connection naming the framing headers does not remove them; close is passed on.
  CHECK_EQ(int(req("PUT http://[::1]/ HTTP/1.0\r\nConnection: Content-Length\r\n"
                   "Content-Length: 3\r\n\r\n", r)),
           int(HttpParse::Ok));
  CHECK_EQ(http_rewrite_request(r),
           std::string("PUT / HTTP/1.0\r\nHost: [::1]\r\nContent-Length: 3\r\n"
                       "Connection: close\r\n\r\n"));
}

void test_request_body() {
  HttpRequest r;
  BodyFraming b;
  int st = 0;
  std::string err;
  auto body = [&](const std::string &hdrs) {
    std::string s = "POST http://h/ HTTP/1.1\r\n" + hdrs + "\r\n";
    CHECK_EQ(int(req(s, r)), int(HttpParse::Ok));
    st = 0;
    err.clear();
    return http_request_body(r, b, &st, err);
  };
  CHECK(body(""));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK(body("Content-Length: 0\r\n"));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK(body("Content-Length: 12345678901\r\n"));
  CHECK_EQ(int(b.kind), int(BodyKind::Length));
  CHECK_EQ(b.length, uint64_t(12345678901ull));
  CHECK(body("Content-Length: 5, 5\r\nContent-Length: 5\r\n"));
  CHECK_EQ(b.length, uint64_t(5));
  CHECK(body("Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n"));
  CHECK_EQ(int(b.kind), int(BodyKind::Chunked));
  const char *bad[] = {"Content-Length: 5\r\nContent-Length: 6\r\n",
                       "Content-Length: 5, 6\r\n",
                       "Content-Length: -1\r\n",
                       "Content-Length: 0x10\r\n",
                       "Content-Length: \r\n",
                       "Content-Length: 1234567890123456789\r\n",
                       "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                       "Transfer-Encoding: gzip\r\n",
                       "Transfer-Encoding: chunked, gzip\r\n",
                       "Transfer-Encoding: chunked, chunked\r\n",
                       "Transfer-Encoding: \r\n"};
  for (const char *h : bad) {
    if (body(h)) check::fail(__FILE__, __LINE__, std::string("accepted: ") + h);
    CHECK_EQ(st, 400);
    CHECK(!err.empty());
  }
}

HttpParse resp(const std::string &s, HttpResponse &r) {
  size_t used = 0;
  std::string err;
  std::string more = s + "BODY";
  HttpParse whole = http_parse_response(bytes(more), more.size(), r, &used, err);
  if (whole == HttpParse::Ok) {
    CHECK_EQ(used, s.size());
    for (size_t i = 0; i < s.size(); i++) {
      HttpResponse tmp;
      size_t u = 0;
      if (http_parse_response(bytes(s), i, tmp, &u, err) != HttpParse::NeedMore) {
        check::fail(__FILE__, __LINE__, "prefix of a response head not NeedMore");
        break;
      }
    }
  }
  return whole;
}

void test_response() {
  HttpResponse r;
  BodyFraming b;
  std::string err;
  CHECK_EQ(int(resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.status, 200);
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::Length));
  CHECK_EQ(b.length, uint64_t(10));
  CHECK(http_response_body(r, true, b, err));  // HEAD
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK_EQ(int(resp("HTTP/1.1 204\r\n\r\n", r)), int(HttpParse::Ok));  // no reason phrase
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK_EQ(int(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK_EQ(int(resp("HTTP/1.1 100 Continue\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK_EQ(int(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", r)),
           int(HttpParse::Ok));
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::Chunked));
  CHECK_EQ(int(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::Close));
  CHECK_EQ(int(resp("HTTP/1.0 200 OK\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK_EQ(r.minor, 0);
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::Close));
  CHECK_EQ(int(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK(http_response_body(r, false, b, err));
  CHECK_EQ(int(b.kind), int(BodyKind::None));
  CHECK_EQ(int(resp("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", r)), int(HttpParse::Ok));
  CHECK(!http_response_body(r, false, b, err));
  CHECK_STR_CONTAINS(err, "Content-Length");

  const char *bad[] = {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
                       "HTTP/1.1 099 Low\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "ICY 200 OK\r\n\r\n",
                       "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "HTTP/1.1\r\n\r\n"};
  for (const char *s : bad) {
    size_t used = 0;
    if (http_parse_response(bytes(s), strlen(s), r, &used, err) != HttpParse::Error)
      check::fail(__FILE__, __LINE__, std::string("accepted response: ") + s);
  }
  std::string big = "HTTP/1.1 200 OK\r\nA: " + std::string(HTTP_HEAD_MAX, 'a');
  size_t used = 0;
  CHECK_EQ(int(http_parse_response(bytes(big), big.size(), r, &used, err)), int(HttpParse::Error));
}

// Feeds a chunked body whole and one byte at a time; returns the result and *used.
HttpParse chunked(const std::string &s, size_t *used, std::string *err = nullptr) {
  ChunkParser whole;
  std::string e;
  HttpParse a = whole.feed(bytes(s), s.size(), used, e);
  ChunkParser bytewise;
  HttpParse b = HttpParse::NeedMore;
  size_t total = 0;
  for (size_t i = 0; i < s.size() && b == HttpParse::NeedMore; i++) {
    size_t u = 0;
    b = bytewise.feed(bytes(s) + i, 1, &u, e);
    total += u;
  }
  CHECK_EQ(int(a), int(b));
  if (a != HttpParse::Error) CHECK_EQ(total, *used);
  CHECK_EQ(whole.done(), a == HttpParse::Ok);
  if (err) *err = e;
  return a;
}

void test_chunked() {
  size_t used = 0;
  std::string err;
  std::string body = "5\r\nhello\r\n1A;name=val\r\n" + std::string(26, 'x') + "\r\n0\r\n\r\n";
  CHECK_EQ(int(chunked(body + "NEXT", &used)), int(HttpParse::Ok));
  CHECK_EQ(used, body.size());
  std::string trailers = "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n";
  CHECK_EQ(int(chunked(trailers + "GET", &used)), int(HttpParse::Ok));
  CHECK_EQ(used, trailers.size());
  std::string lf = "3\nabc\n0\n\n";
  CHECK_EQ(int(chunked(lf, &used)), int(HttpParse::Ok));
  CHECK_EQ(used, lf.size());
  CHECK_EQ(int(chunked("0 ; ext\r\n\r\n", &used)), int(HttpParse::Ok));
  CHECK_EQ(int(chunked("fff\r\nabc", &used)), int(HttpParse::NeedMore));
  CHECK_EQ(used, size_t(8));
  CHECK_EQ(int(chunked("0\r\n", &used)), int(HttpParse::NeedMore));

  const std::string bad[] = {"\r\n", "x\r\n", "5\r\nhelloX\r\n", "5\r\nhello\rX", "5\rX",
                             "1000000000000000\r\n", "0\r\n\rX", "1;\x01\r\n",
                             "5;" + std::string(HTTP_CHUNK_LINE_MAX, 'e') + "\r\n",
                             "0\r\n" + std::string(HTTP_TRAILER_MAX + 1, 'T'),
                             std::string("0\r\nA\0B\r\n\r\n", 10)};
  for (const std::string &s : bad) {
    if (chunked(s, &used, &err) != HttpParse::Error)
      check::fail(__FILE__, __LINE__, "accepted chunked body: " + s.substr(0, 40));
    else
      CHECK_STR_CONTAINS(err, "chunked body");
  }
  // The largest size that fits 15 hex digits is accepted.
  CHECK_EQ(int(chunked("fffffffffffffff\r\nab", &used)), int(HttpParse::NeedMore));
}

void test_basic_auth() {
  std::vector<std::pair<std::string, std::string>> pairs = {{"alice", "s3cret"}, {"bob", "pw:with:colons"}};
  std::string v = "Basic " + base64_encode("alice:s3cret");
  CHECK(http_check_basic(&v, pairs));
  v = "basic   " + base64_encode("bob:pw:with:colons");
  CHECK(http_check_basic(&v, pairs));
  const std::string bad[] = {"Basic " + base64_encode("alice:wrong"),
                             "Basic " + base64_encode("alice:s3cre"),
                             "Basic " + base64_encode("alice:s3cret2"),
                             "Basic " + base64_encode("carol:s3cret"),
                             "Basic " + base64_encode("alices3cret"),
                             "Bearer " + base64_encode("alice:s3cret"),
                             "Basic",
                             "Basic !!!notbase64",
                             "Basic" + base64_encode("alice:s3cret"),
                             ""};
  for (const std::string &b : bad)
    if (http_check_basic(&b, pairs)) check::fail(__FILE__, __LINE__, "accepted " + b);
  CHECK(!http_check_basic(nullptr, pairs));
  v = "Basic " + base64_encode("alice:s3cret");
  CHECK(!http_check_basic(&v, {}));
}

void test_error_response() {
  std::string r = http_error_response(502, "connection refused");
  CHECK_EQ(r, std::string("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 19\r\nConnection: close\r\n\r\nconnection refused\n"));
  r = http_error_response(407, "proxy authentication required",
                          "Proxy-Authenticate: Basic realm=\"braid\"\r\n");
  CHECK_STR_CONTAINS(r, "HTTP/1.1 407 Proxy Authentication Required\r\n");
  CHECK_STR_CONTAINS(r, "\r\nProxy-Authenticate: Basic realm=\"braid\"\r\n\r\n");
  // Every response we build parses as a response with a body of Content-Length.
  for (int s : {400, 403, 407, 408, 414, 431, 500, 501, 502, 503, 504, 505, 599}) {
    std::string e = http_error_response(s, "x");
    HttpResponse resp;
    size_t used = 0;
    std::string err;
    CHECK_EQ(int(http_parse_response(bytes(e), e.size(), resp, &used, err)), int(HttpParse::Ok));
    CHECK_EQ(resp.status, s);
    CHECK_EQ(e.size() - used, size_t(2));
  }
  CHECK_EQ(std::string(http_reason(599)), std::string("Error"));
  CHECK_EQ(http_status_for(0), 200);
  CHECK_EQ(http_status_for(uint32_t(ResetCode::NotAllowed)), 403);
  CHECK_EQ(http_status_for(uint32_t(ResetCode::TtlExpired)), 504);
  for (ResetCode c : {ResetCode::GeneralFailure, ResetCode::NetworkUnreachable,
                      ResetCode::HostUnreachable, ResetCode::Refused, ResetCode::LinkLost,
                      ResetCode::AddressUnsupported})
    CHECK_EQ(http_status_for(uint32_t(c)), 502);
}

const CheckCase CASES[] = {
    {"request_absolute", test_request_absolute},
    {"request_ipv6_and_connect", test_request_ipv6_and_connect},
    {"request_errors", test_request_errors},
    {"keep_alive", test_keep_alive},
    {"rewrite", test_rewrite},
    {"request_body", test_request_body},
    {"response", test_response},
    {"chunked", test_chunked},
    {"basic_auth", test_basic_auth},
    {"error_response", test_error_response},
};

}  // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
