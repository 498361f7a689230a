// SPDX-License-Identifier: MIT
// HTTP CONNECT and SOCKS5 client handshakes for links dialled through an upstream proxy.
#include "braid/proxy.h"

#include <cstring>

#include "braid/addr.h"
#include "braid/frame.h"
#include "braid/socks5.h"

namespace braid {
namespace {
constexpr size_t HTTP_REPLY_MAX = 8192;  // a CONNECT answer head; anything longer is not one
}

bool parse_upstream_proxy(const std::string &text, UpstreamProxy &out, std::string &err) {
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    out.kind = UpstreamProxy::Kind::Http;
    rest = text.substr(7);
  } else if (text.rfind("socks5://", 0) == 0) {
    out.kind = UpstreamProxy::Kind::Socks5;
    rest = text.substr(9);
  } else {
    err = "expected http://HOST:PORT or socks5://HOST:PORT";
    return false;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (!parse_endpoint(rest, "", out.ep, err)) return false;
  if (out.ep.host.empty() || out.ep.port == 0) {
    err = "expected http://HOST:PORT or socks5://HOST:PORT with a port from 1 to 65535";
    return false;
  }
  return true;
}

ProxyHandshake::ProxyHandshake(UpstreamProxy::Kind kind, const Endpoint &target)
    : kind_(kind), target_(target) {}

std::string ProxyHandshake::start() {
  if (kind_ == UpstreamProxy::Kind::Socks5) return std::string("\x05\x01\x00", 3);
  std::string hp = target_.str();
  return "CONNECT " + hp + " HTTP/1.1\r\nHost: " + hp + "\r\n\r\n";
}

ProxyHandshake::Result ProxyHandshake::feed(const uint8_t *p, size_t n, size_t *used,
                                            std::string &out, std::string &err) {
  *used = 0;
  if (kind_ == UpstreamProxy::Kind::Http) {
    std::string s(reinterpret_cast<const char *>(p), n < HTTP_REPLY_MAX ? n : HTTP_REPLY_MAX);
    size_t end = s.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (n >= HTTP_REPLY_MAX) {
        err = "upstream proxy sent no complete answer to CONNECT";
        return Result::Error;
      }
      return Result::NeedMore;
    }
    std::string line = s.substr(0, s.find("\r\n"));
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0 || line[9] != '2') {
      err = "upstream proxy refused CONNECT " + target_.str() + ": \"" + line.substr(0, 80) + "\"";
      return Result::Error;
    }
    *used = end + 4;
    return Result::Done;
  }
  if (stage_ == 0) {  // method selection
    if (n < 2) return Result::NeedMore;
    if (p[0] != 5 || p[1] != 0) {
      err = "upstream SOCKS5 proxy wants authentication (method " + std::to_string(p[1]) +
            "), which braid does not offer";
      return Result::Error;
    }
    *used = 2;
    stage_ = 1;
    Target t;
    target_from_string(target_.host, target_.port, t);
    out = std::string("\x05\x01\x00", 3) + target_encode(t);
    return Result::NeedMore;
  }
  if (n < 4) return Result::NeedMore;
  if (p[0] != 5 || p[1] != 0) {
    err = "upstream SOCKS5 proxy refused " + target_.str() + ": " +
          (p[0] == 5 ? reset_code_str(p[1]) : "not a SOCKS5 answer");
    return Result::Error;
  }
  Target bound;
  size_t alen = 0;
  AddrParse r = target_decode(p + 3, n - 3, bound, &alen);
  if (r == AddrParse::NeedMore) return Result::NeedMore;
  if (r == AddrParse::Error) {
    err = "upstream SOCKS5 proxy sent a malformed answer";
    return Result::Error;
  }
  *used = 3 + alen;
  return Result::Done;
}

}  // namespace braid
