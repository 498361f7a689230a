// SPDX-License-Identifier: MIT
// libFuzzer target for the HTTP proxy parsers: the input goes to the request and response head
// parsers, body framing, the rewrite, Basic auth, and the chunked-body parser (whole and split
// at a position taken from the input). Consumed lengths must stay within the input, a parsed
// request must rewrite to a head that parses again, and a chunked body must end at the same
// byte however it is split.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "braid/http.h"
#include "braid/limits.h"

using namespace braid;

namespace {
void require(bool cond) {
  if (!cond) std::abort();
}

void check_request(const uint8_t *data, size_t size) {
  HttpRequest r;
  size_t used = 0;
  int status = 0;
  std::string err;
  HttpParse res = http_parse_request(data, size, r, &used, &status, err);
  if (res == HttpParse::NeedMore) require(size < HTTP_HEAD_MAX);
  if (res == HttpParse::Error)
    require(!err.empty() && (status == 400 || status == 414 || status == 431 || status == 501 ||
                             status == 505));
  if (res != HttpParse::Ok) return;
  require(used <= size && used <= HTTP_HEAD_MAX);
  require(r.port != 0 && !r.host.empty());
  (void)r.keep_alive();
  (void)http_check_basic(r.get("Proxy-Authorization"), {{"user", "pass"}});
  BodyFraming b;
  if (!http_request_body(r, b, &status, err)) require(status == 400);
  if (r.connect) return;
  std::string head = http_rewrite_request(r);
  HttpRequest again;
  size_t used2 = 0;
  // The origin-form head is not a proxy request, so it parses as far as its target only.
  HttpParse res2 = http_parse_request(reinterpret_cast<const uint8_t *>(head.data()), head.size(),
                                      again, &used2, &status, err);
  require(res2 != HttpParse::NeedMore || head.size() >= HTTP_HEAD_MAX);
  require(head.find("\r\n\r\n") == head.size() - 4);
}

void check_response(const uint8_t *data, size_t size) {
  HttpResponse r;
  size_t used = 0;
  std::string err;
  if (http_parse_response(data, size, r, &used, err) != HttpParse::Ok) return;
  require(used <= size && r.status >= 100 && r.status <= 999);
  BodyFraming b;
  (void)http_response_body(r, false, b, err);
  (void)http_response_body(r, true, b, err);
}

void check_chunked(const uint8_t *data, size_t size) {
  ChunkParser whole;
  size_t used = 0;
  std::string err;
  HttpParse a = whole.feed(data, size, &used, err);
  require(used <= size);
  if (size < 2) return;
  size_t split = data[0] % size;
  ChunkParser parts;
  size_t u1 = 0, u2 = 0;
  HttpParse b = parts.feed(data, split, &u1, err);
  require(u1 <= split);
  if (b == HttpParse::NeedMore) {
    require(u1 == split);
    b = parts.feed(data + split, size - split, &u2, err);
    u1 += u2;
  }
  require(a == b);
  if (a != HttpParse::Error) require(u1 == used);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_request(data, size);
  check_response(data, size);
  check_chunked(data, size);
  std::string s(reinterpret_cast<const char *>(data), size);
  (void)http_check_basic(&s, {{"user", "pass"}, {"", ""}});
  std::string host;
  uint16_t port = 0;
  std::string err;
  if (http_parse_authority(s, host, port, err)) require(port != 0 && !host.empty());
  return 0;
}
