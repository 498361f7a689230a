// SPDX-License-Identifier: MIT
// Unit tests for src/frame.cc: encoders, the decoder (whole and byte by byte), every length and
// stream rule, reset code names and the big-endian helpers.
#include "braid/frame.h"
#include "braid/limits.h"
#include "check.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace braid;

namespace {

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

// Decodes `s` in one call and expects exactly one complete frame of all of s.
bool decode_whole(const std::string &s, Frame &f) {
  size_t used = 0;
  std::string err;
  Decode d = frame_decode(bytes(s), s.size(), f, &used, err);
  CHECK_EQ(d, Decode::Ok);
  CHECK_EQ(used, s.size());
  CHECK_EQ(err, "");
  return d == Decode::Ok && used == s.size();
}

// Feeds a growing prefix of s, one byte more each call: NeedMore until the last byte.
void decode_bytewise(const std::string &s) {
  Frame f;
  std::string err;
  for (size_t n = 0; n < s.size(); ++n) {
    size_t used = 12345;
    CHECK_EQ(frame_decode(bytes(s), n, f, &used, err), Decode::NeedMore);
    CHECK_EQ(used, size_t(12345));
  }
  size_t used = 0;
  CHECK_EQ(frame_decode(bytes(s), s.size(), f, &used, err), Decode::Ok);
  CHECK_EQ(used, s.size());
}

// A raw frame: header with the given fields and `body` as is (no validity implied).
std::string raw(uint8_t type, uint8_t flags, uint16_t len, uint32_t stream,
                const std::string &body = "") {
  std::string s;
  s.push_back(char(type));
  s.push_back(char(flags));
  put_u16(s, len);
  put_u32(s, stream);
  return s + body;
}

Decode decode_err(const std::string &s, std::string &err) {
  Frame f;
  size_t used = 0;
  err.clear();
  return frame_decode(bytes(s), s.size(), f, &used, err);
}

void expect_error(const std::string &s, const std::string &msg_part) {
  std::string err;
  CHECK_EQ(decode_err(s, err), Decode::Error);
  CHECK_STR_CONTAINS(err, msg_part);
}

// --- encode + decode ---------------------------------------------------------------------------

void test_data() {
  std::string payload;
  for (int i = 0; i < 300; ++i) payload += char(i * 7);
  std::string s;
  frame_data_header(s, 0x01020304, 0x0011223344556677ull, payload.size(), FLAG_FIN);
  CHECK_EQ(s.size(), FRAME_HEADER + DATA_PREFIX);
  s += payload;
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::Data));
    CHECK_EQ(f.h.flags, FLAG_FIN);
    CHECK_EQ(f.h.len, uint16_t(DATA_PREFIX + payload.size()));
    CHECK_EQ(f.h.stream, 0x01020304u);
    CHECK(f.body == bytes(s) + FRAME_HEADER);
    CHECK_EQ(f.offset, 0x0011223344556677ull);
    CHECK(f.payload == bytes(s) + FRAME_HEADER + DATA_PREFIX);
    CHECK_EQ(f.payload_len, payload.size());
    CHECK(std::string(reinterpret_cast<const char *>(f.payload), f.payload_len) == payload);
  }
  decode_bytewise(s);

  // Empty payload with FIN only, and a maximal payload.
  s.clear();
  frame_data_header(s, 9, 0, 0, FLAG_FIN | FLAG_COMPRESSED);
  if (decode_whole(s, f)) {
    CHECK_EQ(f.payload_len, size_t(0));
    CHECK_EQ(f.h.flags, uint8_t(FLAG_FIN | FLAG_COMPRESSED));
  }
  s.clear();
  frame_data_header(s, 1, (uint64_t(1) << 62) - 1, MAX_DATA_PAYLOAD, 0);
  s += std::string(MAX_DATA_PAYLOAD, 'x');
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.len, uint16_t(MAX_FRAME_BODY));
    CHECK_EQ(f.payload_len, MAX_DATA_PAYLOAD);
    CHECK_EQ(f.offset, (uint64_t(1) << 62) - 1);
  }
}

void test_open() {
  const std::string addr("\x03\x0b" "example.org" "\x01\xbb", 15);
  std::string s;
  frame_open(s, 77, addr);
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::Open));
    CHECK_EQ(f.h.flags, uint8_t(0));
    CHECK_EQ(f.h.len, uint16_t(addr.size()));
    CHECK_EQ(f.h.stream, 77u);
    CHECK(std::string(reinterpret_cast<const char *>(f.body), f.h.len) == addr);
    CHECK_EQ(f.offset, uint64_t(0));
    CHECK(f.payload == nullptr);
  }
  decode_bytewise(s);
  expect_error(raw(uint8_t(FrameType::Open), 0, 3, 1, "\x01\x02\x03"), "too short");
}

void test_open_ack() {
  std::string s;
  frame_open_ack(s, 0xfffffffeu);
  CHECK_EQ(s.size(), FRAME_HEADER);
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::OpenAck));
    CHECK_EQ(f.h.len, uint16_t(0));
    CHECK_EQ(f.h.stream, 0xfffffffeu);
  }
  decode_bytewise(s);
  expect_error(raw(uint8_t(FrameType::OpenAck), 0, 1, 1, "x"), "expected 0");
}

void test_ack() {
  for (uint32_t stream : {0u, 5u}) {  // stream 0 carries session credit
    std::string s;
    frame_ack(s, stream, 0x0102030405060708ull, 0xf0e0d0c0b0a09080ull, FLAG_FIN);
    CHECK_EQ(s.size(), FRAME_HEADER + ACK_BODY);
    Frame f;
    if (decode_whole(s, f)) {
      CHECK_EQ(f.h.type, uint8_t(FrameType::Ack));
      CHECK_EQ(f.h.flags, FLAG_FIN);
      CHECK_EQ(f.h.len, uint16_t(ACK_BODY));
      CHECK_EQ(f.h.stream, stream);
      CHECK_EQ(get_u64(f.body), 0x0102030405060708ull);
      CHECK_EQ(get_u64(f.body + 8), 0xf0e0d0c0b0a09080ull);
    }
    decode_bytewise(s);
  }
  std::string s;
  frame_ack(s, 1, 2, 3);  // default flags
  Frame f;
  if (decode_whole(s, f)) CHECK_EQ(f.h.flags, uint8_t(0));
}

void test_reset() {
  std::string s;
  frame_reset(s, 3, uint32_t(ResetCode::FlowControl), 0xdeadbeefcafef00dull);
  CHECK_EQ(s.size(), FRAME_HEADER + RESET_BODY);
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::Reset));
    CHECK_EQ(f.h.len, uint16_t(RESET_BODY));
    CHECK_EQ(f.h.stream, 3u);
    CHECK_EQ(get_u32(f.body), uint32_t(ResetCode::FlowControl));
    CHECK_EQ(get_u64(f.body + 4), 0xdeadbeefcafef00dull);
  }
  decode_bytewise(s);
}

void test_stop_sending() {
  std::string s;
  frame_stop_sending(s, 11, 0x01020304);
  CHECK_EQ(s.size(), FRAME_HEADER + STOP_SENDING_BODY);
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::StopSending));
    CHECK_EQ(f.h.len, uint16_t(STOP_SENDING_BODY));
    CHECK_EQ(f.h.stream, 11u);
    CHECK_EQ(get_u32(f.body), 0x01020304u);
  }
  decode_bytewise(s);
}

void test_ping() {
  for (bool pong : {false, true}) {
    std::string s;
    frame_ping(s, 0x8877665544332211ull, pong);
    CHECK_EQ(s.size(), FRAME_HEADER + PING_BODY);
    Frame f;
    if (decode_whole(s, f)) {
      CHECK_EQ(f.h.type, uint8_t(FrameType::Ping));
      CHECK_EQ(f.h.flags, pong ? FLAG_PONG : uint8_t(0));
      CHECK_EQ(f.h.len, uint16_t(PING_BODY));
      CHECK_EQ(f.h.stream, 0u);
      CHECK_EQ(get_u64(f.body), 0x8877665544332211ull);
    }
    decode_bytewise(s);
  }
}

void test_goaway() {
  std::string s;
  frame_goaway(s, 0xabcdef01u, uint32_t(GoAwayCode::AuthFailed));
  CHECK_EQ(s.size(), FRAME_HEADER + GOAWAY_BODY);
  Frame f;
  if (decode_whole(s, f)) {
    CHECK_EQ(f.h.type, uint8_t(FrameType::GoAway));
    CHECK_EQ(f.h.len, uint16_t(GOAWAY_BODY));
    CHECK_EQ(f.h.stream, 0u);
    CHECK_EQ(get_u32(f.body), 0xabcdef01u);
    CHECK_EQ(get_u32(f.body + 4), uint32_t(GoAwayCode::AuthFailed));
  }
  decode_bytewise(s);
}

void test_hello_frames() {
  for (FrameType t : {FrameType::Hello, FrameType::HelloAck}) {
    std::string s;
    frame_header(s, t, 0, 5, 0);
    s += "hello";
    Frame f;
    if (decode_whole(s, f)) {
      CHECK_EQ(f.h.type, uint8_t(t));
      CHECK_EQ(f.h.len, uint16_t(5));
      CHECK(std::string(reinterpret_cast<const char *>(f.body), 5) == "hello");
    }
    decode_bytewise(s);
  }
}

// Several frames back to back, consumed the way a link does.
void test_stream_of_frames() {
  std::string s;
  frame_ping(s, 1, false);
  frame_open_ack(s, 2);
  frame_data_header(s, 2, 100, 3, 0);
  s += "abc";
  frame_goaway(s, 2, 0);
  const uint8_t want[] = {uint8_t(FrameType::Ping), uint8_t(FrameType::OpenAck),
                          uint8_t(FrameType::Data), uint8_t(FrameType::GoAway)};
  size_t pos = 0, k = 0;
  std::string err;
  for (int guard = 0; guard < 10 && pos < s.size(); ++guard) {
    Frame f;
    size_t used = 0;
    if (frame_decode(bytes(s) + pos, s.size() - pos, f, &used, err) != Decode::Ok) break;
    if (k < 4) CHECK_EQ(f.h.type, want[k]);
    ++k;
    pos += used;
  }
  CHECK_EQ(k, size_t(4));
  CHECK_EQ(pos, s.size());
}

// --- errors --------------------------------------------------------------------------------------

void test_length_limits() {
  // len > MAX_FRAME_BODY is refused from the header alone (before the body arrives).
  for (uint8_t type : {uint8_t(0x00), uint8_t(0x01), uint8_t(0x08), uint8_t(0x40), uint8_t(0xff)}) {
    expect_error(raw(type, 0, uint16_t(MAX_FRAME_BODY + 1), type == 0x08 ? 0 : 1), "exceeds");
    expect_error(raw(type, 0, 0xffff, 1), "exceeds");
  }
  // Exactly MAX_FRAME_BODY is fine.
  std::string s = raw(0x40, 0, uint16_t(MAX_FRAME_BODY), 1, std::string(MAX_FRAME_BODY, 'a'));
  Frame f;
  decode_whole(s, f);

  // DATA body shorter than its 8-byte offset.
  for (uint16_t len = 0; len < DATA_PREFIX; ++len)
    expect_error(raw(uint8_t(FrameType::Data), 0, len, 1, std::string(len, '\0')), "too short");
}

void test_exact_sizes() {
  struct {
    FrameType t;
    size_t size;
    uint32_t stream;
  } fixed[] = {{FrameType::Ack, ACK_BODY, 1},     {FrameType::Reset, RESET_BODY, 1},
               {FrameType::Ping, PING_BODY, 0},   {FrameType::GoAway, GOAWAY_BODY, 0},
               {FrameType::StopSending, STOP_SENDING_BODY, 1}};
  for (const auto &c : fixed) {
    for (size_t len : {size_t(0), c.size - 1, c.size + 1, size_t(100)}) {
      std::string err;
      // Errors come from the header alone: no body needs to be present.
      CHECK_EQ(decode_err(raw(uint8_t(c.t), 0, uint16_t(len), c.stream), err), Decode::Error);
      CHECK_STR_CONTAINS(err, "expected " + std::to_string(c.size));
      CHECK_EQ(decode_err(raw(uint8_t(c.t), 0, uint16_t(len), c.stream, std::string(len, 'z')), err),
               Decode::Error);
    }
  }
}

void test_stream_rules() {
  // Connection-level frames must be on stream 0.
  for (uint32_t stream : {1u, 0x80000000u, 0xffffffffu}) {
    expect_error(raw(uint8_t(FrameType::Ping), 0, PING_BODY, stream, std::string(8, '\0')),
                 "on stream " + std::to_string(stream));
    expect_error(raw(uint8_t(FrameType::GoAway), 0, GOAWAY_BODY, stream, std::string(8, '\0')),
                 "on stream");
    expect_error(raw(uint8_t(FrameType::Hello), 0, 4, stream, "abcd"), "on stream");
    expect_error(raw(uint8_t(FrameType::HelloAck), 0, 4, stream, "abcd"), "on stream");
  }
  // Stream frames must not be on stream 0 (ACK may be either).
  expect_error(raw(uint8_t(FrameType::Data), 0, 8, 0, std::string(8, '\0')), "on stream 0");
  expect_error(raw(uint8_t(FrameType::Open), 0, 7, 0, std::string("\x01\x01\x02\x03\x04\x00\x50", 7)),
               "on stream 0");
  expect_error(raw(uint8_t(FrameType::OpenAck), 0, 0, 0), "on stream 0");
  expect_error(raw(uint8_t(FrameType::Reset), 0, RESET_BODY, 0, std::string(12, '\0')), "on stream 0");
  expect_error(raw(uint8_t(FrameType::StopSending), 0, 4, 0, std::string(4, '\0')), "on stream 0");
}

void test_listen() {
  std::string s;
  frame_listen(s, 7, std::string("\x01\x7f\x00\x00\x01\x08\xae", 7),
               std::string("\x01\x0a\x00\x00\x01\x00\x16", 7));
  Frame f;
  CHECK(decode_whole(s, f));
  CHECK_EQ(f.h.type, uint8_t(FrameType::Listen));
  CHECK_EQ(f.h.flags, uint8_t(0));
  CHECK_EQ(f.h.stream, uint32_t(7));
  CHECK_EQ(f.h.len, uint16_t(14));
  s.clear();
  frame_listen_reply(s, 7, 2, 2222, std::string(300, 'x'));  // message cut to 200 bytes
  CHECK(decode_whole(s, f));
  CHECK_EQ(f.h.flags, FLAG_REPLY);
  CHECK_EQ(f.h.len, uint16_t(LISTEN_REPLY_MIN + LISTEN_MESSAGE_MAX));
  CHECK_EQ(get_u32(f.body), uint32_t(2));
  CHECK_EQ(get_u16(f.body + 4), uint16_t(2222));
  s.clear();
  frame_listen_cancel(s, 9);
  CHECK(decode_whole(s, f));
  CHECK_EQ(f.h.flags, FLAG_CANCEL);
  CHECK_EQ(f.h.len, uint16_t(0));
  // A request id is a stream field: never 0.
  expect_error(raw(uint8_t(FrameType::Listen), 0, 0, 0), "frame type 11 on stream 0");
}

void test_unknown_types() {
  for (int t = 0x0c; t < 0x40; ++t) {
    expect_error(raw(uint8_t(t), 0, 0, 1), "unknown frame type " + std::to_string(t));
    expect_error(raw(uint8_t(t), 0, 0, 0), "unknown frame type");
  }
  // Extension types decode Ok (the caller skips them), on any stream, any length up to the max.
  for (int t = 0x40; t <= 0xff; ++t) {
    std::string s = raw(uint8_t(t), 0xaa, 3, uint32_t(t & 1), "xyz");
    Frame f;
    if (decode_whole(s, f)) {
      CHECK_EQ(f.h.type, uint8_t(t));
      CHECK_EQ(f.h.flags, uint8_t(0xaa));
      CHECK_EQ(f.h.len, uint16_t(3));
    }
  }
  decode_bytewise(raw(0x40, 0, 2, 7, "hi"));
}

void test_data_offset_range() {
  for (uint64_t off : {uint64_t(1) << 62, (uint64_t(1) << 62) + 1, UINT64_MAX}) {
    std::string s;
    frame_data_header(s, 1, off, 0, 0);
    expect_error(s, "offset");
  }
  std::string s;
  frame_data_header(s, 1, (uint64_t(1) << 62) - 1, 1, 0);
  s += "q";
  Frame f;
  decode_whole(s, f);
}

// --- helpers ---------------------------------------------------------------------------------

void test_reset_code_str() {
  struct {
    ResetCode c;
    const char *s;
  } codes[] = {
      {ResetCode::GeneralFailure, "general failure"},
      {ResetCode::NotAllowed, "not allowed by the server's ACL"},
      {ResetCode::NetworkUnreachable, "network unreachable"},
      {ResetCode::HostUnreachable, "host unreachable"},
      {ResetCode::Refused, "connection refused"},
      {ResetCode::TtlExpired, "timed out"},
      {ResetCode::CommandUnsupported, "command not supported"},
      {ResetCode::AddressUnsupported, "address type not supported"},
      {ResetCode::Protocol, "protocol error"},
      {ResetCode::FlowControl, "flow control violation"},
      {ResetCode::Internal, "internal error"},
      {ResetCode::Cancelled, "reset by peer application"},
      {ResetCode::LinkLost, "session lost"},
      {ResetCode::SessionLimit, "too many streams"},
  };
  for (const auto &c : codes) CHECK_EQ(std::string(reset_code_str(uint32_t(c.c))), c.s);
  for (uint32_t bad : {0u, 9u, 0xffu, 0x106u, 0xffffffffu})
    CHECK_EQ(std::string(reset_code_str(bad)), "unknown reset code");
}

void test_int_helpers() {
  std::string s;
  put_u16(s, 0xa1b2);
  put_u32(s, 0xc1d2e3f4u);
  put_u64(s, 0x0102030405060708ull);
  CHECK_EQ(s.size(), size_t(14));
  CHECK(s == std::string("\xa1\xb2\xc1\xd2\xe3\xf4\x01\x02\x03\x04\x05\x06\x07\x08", 14));
  CHECK_EQ(get_u16(bytes(s)), uint16_t(0xa1b2));
  CHECK_EQ(get_u32(bytes(s) + 2), 0xc1d2e3f4u);
  CHECK_EQ(get_u64(bytes(s) + 6), 0x0102030405060708ull);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::string b;
    put_u16(b, uint16_t(x));
    put_u32(b, uint32_t(x >> 16));
    put_u64(b, x);
    CHECK_EQ(get_u16(bytes(b)), uint16_t(x));
    CHECK_EQ(get_u32(bytes(b) + 2), uint32_t(x >> 16));
    CHECK_EQ(get_u64(bytes(b) + 6), x);
  }
  for (uint64_t v : {uint64_t(0), UINT64_MAX, uint64_t(1) << 63}) {
    std::string b;
    put_u64(b, v);
    CHECK_EQ(get_u64(bytes(b)), v);
  }
}

// The array encoder the data path uses writes exactly what the string encoder does.
void test_data_header_array() {
  const uint64_t offsets[] = {0, 1, 0x0011223344556677ull, (uint64_t(1) << 62) - 1};
  const size_t lens[] = {0, 1, 300, MAX_DATA_PAYLOAD};
  for (uint64_t off : offsets)
    for (size_t len : lens) {
      std::string s;
      frame_data_header(s, 0x80000001u, off, len, FLAG_FIN | FLAG_COMPRESSED);
      uint8_t a[DATA_HEADER];
      frame_data_header(a, 0x80000001u, off, len, FLAG_FIN | FLAG_COMPRESSED);
      CHECK_EQ(s.size(), DATA_HEADER);
      CHECK(memcmp(a, s.data(), DATA_HEADER) == 0);
    }
}

const CheckCase CASES[] = {
    {"data", test_data},
    {"data_header_array", test_data_header_array},
    {"open", test_open},
    {"open_ack", test_open_ack},
    {"ack", test_ack},
    {"reset", test_reset},
    {"stop_sending", test_stop_sending},
    {"ping", test_ping},
    {"goaway", test_goaway},
    {"hello_frames", test_hello_frames},
    {"stream_of_frames", test_stream_of_frames},
    {"length_limits", test_length_limits},
    {"exact_sizes", test_exact_sizes},
    {"stream_rules", test_stream_rules},
    {"unknown_types", test_unknown_types},
    {"listen", test_listen},
    {"data_offset_range", test_data_offset_range},
    {"reset_code_str", test_reset_code_str},
    {"int_helpers", test_int_helpers},
};

} // namespace

int main(int argc, char **argv) { return check_main(CASES, argc, argv); }
