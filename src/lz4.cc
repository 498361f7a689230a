// SPDX-License-Identifier: MIT
// Bounded LZ4 block compression for DATA frames.
#include "braid/lz4.h"

#include <lz4.h>

#include <climits>
#include <vector>

namespace braid {

size_t lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap) {
  // One state for the process: braid is single-threaded, and a state per call would cost 16 KiB
  // of initialisation each time.
  static std::vector<char> state(static_cast<size_t>(LZ4_sizeofState()));
  if (n > INT_MAX || cap > INT_MAX) return 0;
  int r = LZ4_compress_fast_extState(state.data(), reinterpret_cast<const char *>(src),
                                     reinterpret_cast<char *>(dst), int(n), int(cap), 1);
  return r > 0 ? size_t(r) : 0;
}

bool lz4_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t raw_len) {
  if (n > INT_MAX || raw_len > INT_MAX) return false;
  int r = LZ4_decompress_safe(reinterpret_cast<const char *>(src), reinterpret_cast<char *>(dst),
                              int(n), int(raw_len));
  return r >= 0 && size_t(r) == raw_len;
}

}  // namespace braid
