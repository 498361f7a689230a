// SPDX-License-Identifier: MIT
// libFuzzer target for the frame codec: decodes the input as a link does (frame after frame
// until need-more or error), touches every body byte, and checks the decoder's invariants and
// that fixed-size frames re-encode to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "braid/frame.h"
#include "braid/limits.h"

using namespace braid;

namespace {

volatile unsigned body_sum;

void require(bool cond) {
  if (!cond) std::abort();
}

// Re-encodes a decoded frame of a fixed-layout type and compares with the input bytes.
void check_reencode(const Frame &f, const uint8_t *p, size_t used) {
  std::string e;
  const uint8_t *b = f.body;
  switch (static_cast<FrameType>(f.h.type)) {
    case FrameType::Ack: frame_ack(e, f.h.stream, get_u64(b), get_u64(b + 8), f.h.flags); break;
    case FrameType::Reset:
      if (f.h.flags) return;
      frame_reset(e, f.h.stream, get_u32(b), get_u64(b + 4));
      break;
    case FrameType::StopSending:
      if (f.h.flags) return;
      frame_stop_sending(e, f.h.stream, get_u32(b));
      break;
    case FrameType::Ping:
      if (f.h.flags & ~FLAG_PONG) return;
      frame_ping(e, get_u64(b), f.h.flags == FLAG_PONG);
      break;
    case FrameType::GoAway:
      if (f.h.flags) return;
      frame_goaway(e, get_u32(b), get_u32(b + 4));
      break;
    case FrameType::OpenAck:
      if (f.h.flags) return;
      frame_open_ack(e, f.h.stream);
      break;
    case FrameType::Open:
      if (f.h.flags) return;
      frame_open(e, f.h.stream, std::string(reinterpret_cast<const char *>(b), f.h.len));
      break;
    case FrameType::Data:
      frame_data_header(e, f.h.stream, f.offset, f.payload_len, f.h.flags);
      e.append(reinterpret_cast<const char *>(f.payload), f.payload_len);
      break;
    default: return;
  }
  require(e.size() == used && std::memcmp(e.data(), p, used) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t pos = 0;
  unsigned sum = 0;
  for (int frames = 0; frames < 100000 && pos < size; ++frames) {
    const uint8_t *p = data + pos;
    size_t n = size - pos;
    Frame f;
    size_t used = 0;
    std::string err;
    Decode d = frame_decode(p, n, f, &used, err);
    if (d == Decode::NeedMore) {
      require(err.empty());
      break;
    }
    if (d == Decode::Error) {
      require(!err.empty());
      break;
    }
    require(err.empty());
    require(used >= FRAME_HEADER && used <= n && used == FRAME_HEADER + f.h.len);
    require(f.h.len <= MAX_FRAME_BODY);
    require(f.body == p + FRAME_HEADER);
    for (size_t i = 0; i < f.h.len; ++i) sum += f.body[i];  // ASan: the view is in bounds
    if (f.h.type == uint8_t(FrameType::Data)) {
      require(f.payload == f.body + DATA_PREFIX && f.payload_len + DATA_PREFIX == f.h.len);
      require(f.offset < (uint64_t(1) << 62));
    }
    require(f.h.type <= uint8_t(FrameType::Listen) || f.h.type >= FRAME_EXTENSION_MIN);
    // A strict prefix of a complete frame is never an error, only need-more.
    Frame g;
    size_t u2 = 0;
    std::string e2;
    require(frame_decode(p, used - 1, g, &u2, e2) == Decode::NeedMore);
    check_reencode(f, p, used);
    pos += used;
  }
  body_sum = sum;  // keeps the reads of every body byte
  return 0;
}
