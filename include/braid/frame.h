// SPDX-License-Identifier: MIT
// Owns the wire format of frames: encoding and decoding as pure functions over bytes, no I/O.
// Header, 8 bytes, big endian: type u8 | flags u8 | len u16 | stream u32; `len` counts the body
// after the header. Every length is checked before use; decoders report need-more / ok / error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/limits.h"

namespace braid {

enum class FrameType : uint8_t {
  Data = 0x00,       // body: offset u64 | payload            flags: FIN, COMPRESSED
  Open = 0x01,       // body: atyp u8 | addr | port u16 (SOCKS5 address form)
  OpenAck = 0x02,    // body: empty
  Ack = 0x03,        // body: delivered u64 | max_offset u64  (stream 0: session credit)
  Reset = 0x04,      // body: code u32 | final_size u64
  StopSending = 0x05,// body: code u32
  Ping = 0x06,       // body: opaque u64                      flags: PONG
  GoAway = 0x07,     // body: last_stream u32 | code u32
  Hello = 0x08,      // body: see hello.h
  HelloAck = 0x09,   // body: see hello.h
  Datagram = 0x0A,   // body: atyp u8 | addr | port u16 | payload  (stream = association id)
                     // flags: DNS (to/from the server's dns-upstream)
  Listen = 0x0B,     // remote forward; stream = request id. Request: bind | target (both SOCKS5
                     // address form). Reply (flag REPLY): code u32 | port u16 | message.
};                   // Cancel (flag CANCEL): empty body; the server closes that listener.
constexpr uint8_t FRAME_EXTENSION_MIN = 0x40;  // types >= this are ignored when unknown

constexpr uint8_t FLAG_FIN = 0x01;
constexpr uint8_t FLAG_COMPRESSED = 0x02;
constexpr uint8_t FLAG_PONG = 0x80;
constexpr uint8_t FLAG_DNS = 0x04;
// OPEN: the client's compression mode for the stream; the server uses it for its direction.
constexpr uint8_t FLAG_COMPRESS_AUTO = 0x10;
constexpr uint8_t FLAG_COMPRESS_ON = 0x20;
// OPEN: the body starts with len u8 | client name: the server relays the stream to that client
// (peer-forward); in a server-opened stream the name is the client it comes from.
constexpr uint8_t FLAG_VIA = 0x40;
// LISTEN: an answer to request `stream` / the client withdraws request `stream`.
constexpr uint8_t FLAG_REPLY = 0x01;
constexpr uint8_t FLAG_CANCEL = 0x02;
constexpr size_t LISTEN_REPLY_MIN = 6;
constexpr size_t LISTEN_MESSAGE_MAX = 200;  // DATAGRAM: addressed to / answered by the DNS upstream
// Largest UDP payload a DATAGRAM carries; larger datagrams are dropped and counted.
constexpr size_t MAX_DATAGRAM_PAYLOAD = 16 * 1024 - 64;

// Reset codes: 1-8 are SOCKS5 REP values so a client can answer a SOCKS request exactly.
enum class ResetCode : uint32_t {
  GeneralFailure = 1,
  NotAllowed = 2,
  NetworkUnreachable = 3,
  HostUnreachable = 4,
  Refused = 5,
  TtlExpired = 6,        // also: connect timed out
  CommandUnsupported = 7,
  AddressUnsupported = 8,
  Protocol = 0x100,      // peer broke the protocol on this stream
  FlowControl = 0x101,   // peer sent beyond credit
  Internal = 0x102,
  Cancelled = 0x103,     // local application reset the connection
  LinkLost = 0x104,      // session ended under the stream
  SessionLimit = 0x105,  // too many streams
};
const char *reset_code_str(uint32_t code);

// GOAWAY codes
enum class GoAwayCode : uint32_t { Normal = 0, Protocol = 1, AuthFailed = 2, Busy = 3, UnknownSession = 4 };

struct FrameHeader {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint16_t len = 0;
  uint32_t stream = 0;
};

// A decoded frame: header plus a view of its body inside the caller's buffer.
struct Frame {
  FrameHeader h;
  const uint8_t *body = nullptr;
  // DATA only: offset and payload view (after the 8-byte offset).
  uint64_t offset = 0;
  const uint8_t *payload = nullptr;
  size_t payload_len = 0;
};

enum class Decode { NeedMore, Ok, Error };

// Decodes one frame from [p, p+n). On Ok sets *used to the bytes consumed. On Error, `err`
// names what was wrong (length too large, DATA shorter than its offset, ...). Unknown types
// below FRAME_EXTENSION_MIN are an error; types >= it decode Ok for the caller to skip.
Decode frame_decode(const uint8_t *p, size_t n, Frame &out, size_t *used, std::string &err);

// Encoders write a complete frame to `out` (appending) and return the bytes written. The
// caller guarantees the payload fits (len <= MAX_FRAME_BODY); they never fail otherwise.
void put_u16(std::string &out, uint16_t v);
void put_u32(std::string &out, uint32_t v);
void put_u64(std::string &out, uint64_t v);
uint16_t get_u16(const uint8_t *p);
uint32_t get_u32(const uint8_t *p);
uint64_t get_u64(const uint8_t *p);

void frame_header(std::string &out, FrameType t, uint8_t flags, size_t len, uint32_t stream);
// DATA header + offset; the caller appends `payload_len` payload bytes itself (no copy here).
void frame_data_header(std::string &out, uint32_t stream, uint64_t offset, size_t payload_len,
                       uint8_t flags);
// The same 16 bytes into a caller's array (the data path assembles records without strings).
constexpr size_t DATA_HEADER = FRAME_HEADER + DATA_PREFIX;
void frame_data_header(uint8_t out[DATA_HEADER], uint32_t stream, uint64_t offset,
                       size_t payload_len, uint8_t flags);
// flags FLAG_FIN: the FIN was received and every byte before it (delivered == final size).
void frame_ack(std::string &out, uint32_t stream, uint64_t delivered, uint64_t max_offset,
               uint8_t flags = 0);
void frame_reset(std::string &out, uint32_t stream, uint32_t code, uint64_t final_size);
void frame_stop_sending(std::string &out, uint32_t stream, uint32_t code);
void frame_ping(std::string &out, uint64_t opaque, bool pong);
void frame_goaway(std::string &out, uint32_t last_stream, uint32_t code);
// OPEN with a target in SOCKS5 address form (see addr.h); the body must fit a frame.
void frame_open(std::string &out, uint32_t stream, const std::string &socks_addr, uint8_t flags = 0);
void frame_open_ack(std::string &out, uint32_t stream);
// LISTEN request (bind and target in SOCKS5 address form), its reply and its withdrawal.
void frame_listen(std::string &out, uint32_t req, const std::string &bind, const std::string &target);
void frame_listen_reply(std::string &out, uint32_t req, uint32_t code, uint16_t port,
                        const std::string &message);
void frame_listen_cancel(std::string &out, uint32_t req);
// DATAGRAM for association `assoc` to/from `socks_addr`; false if it does not fit a frame.
bool frame_datagram(std::string &out, uint32_t assoc, const std::string &socks_addr,
                    const uint8_t *p, size_t n, uint8_t flags);

// Fixed body sizes, checked by the decoder.
constexpr size_t ACK_BODY = 16;
constexpr size_t RESET_BODY = 12;
constexpr size_t STOP_SENDING_BODY = 4;
constexpr size_t PING_BODY = 8;
constexpr size_t GOAWAY_BODY = 8;

} // namespace braid
