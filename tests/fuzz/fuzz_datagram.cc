// SPDX-License-Identifier: MIT
// libFuzzer target for what arrives in datagrams: the SOCKS5 UDP header, DNS messages (id
// rewrite as the forwarder does it, both ways) and LZ4-compressed DATA payloads (bounded
// decompression, as the session does it). Invariants: headers stay inside the input, an id
// swapped twice gives the message back, and decompression never writes past its bound.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "braid/frame.h"
#include "braid/listen.h"
#include "braid/lz4.h"
#include "braid/socks5.h"

using namespace braid;

namespace {
void require(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n) {
  Target t;
  size_t head = 0;
  if (socks5_parse_udp(p, n, t, &head) == SocksParse::Ok) require(head >= 7 && head <= n);

  std::string msg(reinterpret_cast<const char *>(p), n), orig = msg;
  uint16_t old = 0, back = 0;
  if (dns_swap_id(msg, 0x1234, &old)) {
    require(dns_swap_id(msg, old, &back) && back == 0x1234 && msg == orig);
  } else {
    require(n < 12);
  }

  // As in Session::on_link_frame: raw length u16, then an LZ4 block.
  if (n >= 3) {
    size_t raw_len = size_t(p[0]) << 8 | p[1];
    if (raw_len > 0 && raw_len <= MAX_DATA_PAYLOAD) {
      static uint8_t out[MAX_DATA_PAYLOAD + 64];
      std::memset(out + raw_len, 0xA5, 64);
      (void)lz4_decompress(p + 2, n - 2, out, raw_len);
      for (size_t i = 0; i < 64; i++) require(out[raw_len + i] == 0xA5);  // nothing past the bound
    }
  }
  return 0;
}
