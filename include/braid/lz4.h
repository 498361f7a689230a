// SPDX-License-Identifier: MIT
// Owns compression: stateless LZ4 per DATA frame, bounded both ways. A frame is compressed
// only if that saves at least 1/16 of it; decompression never writes past the protocol's
// maximum payload and must produce exactly the announced length.
#pragma once
#include <cstddef>
#include <cstdint>

namespace braid {

enum class CompressMode : uint8_t { Off = 0, Auto = 1, On = 2 };

// Frames smaller than this are never compressed: the saving cannot pay for the CPU.
constexpr size_t LZ4_MIN_FRAME = 512;
// `auto` gives up on a stream after this many frames in a row that did not shrink, and tries
// again this many bytes later (content changes: a header, then a compressed body).
constexpr int LZ4_AUTO_MISSES = 4;
constexpr uint64_t LZ4_AUTO_REPROBE = 1024 * 1024;

// Compresses [src, src+n) into dst (capacity cap); returns the compressed size, or 0 if it
// would not fit in cap (incompressible: send raw).
size_t lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
// Decompresses exactly raw_len bytes into dst (capacity >= raw_len); false on any error.
bool lz4_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t raw_len);

}  // namespace braid
