// SPDX-License-Identifier: MIT
// libFuzzer target for the SOCKS5 parsers and the SOCKS5 address form: the input goes to the
// greeting, auth and request parsers and to target_decode; consumed lengths must stay within
// the input and decoded targets must re-encode to the bytes they came from.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "braid/addr.h"
#include "braid/socks5.h"

using namespace braid;

namespace {
void require(bool cond) {
  if (!cond) std::abort();
}

void check_target(const Target &t, const uint8_t *p, size_t used) {
  if (t.atyp == Atyp::Domain) require(!t.domain.empty() && t.domain.find('\0') == std::string::npos);
  std::string e = target_encode(t);
  require(e.size() == used && std::memcmp(e.data(), p, used) == 0);
  (void)t.str();
  sockaddr_storage ss;
  socklen_t len = target_sockaddr(t, ss);
  require((len == 0) == (t.atyp == Atyp::Domain));
  if (len) (void)sockaddr_str(reinterpret_cast<sockaddr *>(&ss));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string err, methods, user, pass;
  size_t used = 0;
  if (socks5_parse_greeting(data, size, methods, &used, err) == SocksParse::Ok)
    require(used <= size && used == 2 + methods.size() && !methods.empty());

  used = 0;
  if (socks5_parse_auth(data, size, user, pass, &used, err) == SocksParse::Ok)
    require(used <= size && used == 3 + user.size() + pass.size());

  uint8_t cmd = 0, reply = 0xee;
  Target t;
  used = 0;
  switch (socks5_parse_request(data, size, cmd, t, &used, &reply, err)) {
    case SocksParse::Ok:
      require(used <= size && used > 3);
      check_target(t, data + 3, used - 3);
      break;
    case SocksParse::Error: require(reply == 1 || reply == 8); break;
    case SocksParse::NeedMore: break;
  }

  Target t2;
  used = 0;
  if (target_decode(data, size, t2, &used) == AddrParse::Ok) {
    require(used <= size);
    check_target(t2, data, used);
  }
  return 0;
}
