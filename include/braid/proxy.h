// SPDX-License-Identifier: MIT
// Owns dialling through an upstream proxy (`upstream-proxy = http://HOST:PORT` or
// `socks5://HOST:PORT`): the client side of HTTP CONNECT and SOCKS5 CONNECT as a small state
// machine over bytes, run by a link before its TLS handshake. No I/O here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/config.h"

namespace braid {

struct UpstreamProxy {
  enum class Kind { None, Http, Socks5 } kind = Kind::None;
  Endpoint ep;
};

// Parses "http://HOST:PORT" or "socks5://HOST:PORT"; err says what is expected.
bool parse_upstream_proxy(const std::string &text, UpstreamProxy &out, std::string &err);

class ProxyHandshake {
 public:
  enum class Result { NeedMore, Done, Error };
  ProxyHandshake(UpstreamProxy::Kind kind, const Endpoint &target);
  // The bytes to send once connected to the proxy.
  std::string start();
  // Feeds bytes from the proxy. *used: bytes consumed (what follows is the server's TLS).
  // out: bytes to send next. Error sets err ("upstream proxy 10.0.0.1:3128 answered ...").
  Result feed(const uint8_t *p, size_t n, size_t *used, std::string &out, std::string &err);

 private:
  UpstreamProxy::Kind kind_;
  Endpoint target_;
  int stage_ = 0;
};

}  // namespace braid
