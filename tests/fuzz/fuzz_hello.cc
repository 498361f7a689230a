// SPDX-License-Identifier: MIT
// libFuzzer target for link authentication: the input is parsed as a HELLO body (and its MAC
// checked with a fixed secret) and as a HELLO_ACK body. A parsed HELLO must re-encode to the
// same bytes before the MAC, and a HELLO_ACK's settings must survive a round trip.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "braid/hello.h"
#include "braid/limits.h"

using namespace braid;

namespace {
// The secret the seed corpus was signed with: 32 bytes of 0x42.
const std::string SECRET(32, '\x42');
constexpr size_t MAC_LEN = 32;

void require(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Hello h;
  std::string err;
  bool parsed = hello_parse(data, size, h, err);
  bool mac_ok = hello_verify_mac(data, size, SECRET);
  if (parsed) {
    require(err.empty());
    require(!h.name.empty() && h.name.size() <= MAX_NAME);
    require(h.nonce.size() == 16 && h.join_token.size() == 16);
    std::string e = hello_encode(h, SECRET);
    require(e.size() == size);
    require(std::memcmp(e.data(), data, size - MAC_LEN) == 0);
    // The MAC of our re-encoding is right by construction; the input's only if it matches.
    require(mac_ok == (std::memcmp(e.data() + size - MAC_LEN, data + size - MAC_LEN, MAC_LEN) == 0));
  } else {
    require(!err.empty());
  }

  HelloAck a;
  err.clear();
  if (hello_ack_parse(data, size, a, err)) {
    require(a.join_token.size() == 16);
    std::string e = hello_ack_encode(a);
    HelloAck b;
    std::string err2;
    require(hello_ack_parse(reinterpret_cast<const uint8_t *>(e.data()), e.size(), b, err2));
    require(b.session == a.session && b.join_token == a.join_token);
  } else {
    require(!err.empty());
  }
  return 0;
}
