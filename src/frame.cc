// SPDX-License-Identifier: MIT
// Frame codec: pure functions over bytes.
#include "braid/frame.h"

namespace braid {

const char *reset_code_str(uint32_t code) {
  switch (static_cast<ResetCode>(code)) {
    case ResetCode::GeneralFailure: return "general failure";
    case ResetCode::NotAllowed: return "not allowed by the server's ACL";
    case ResetCode::NetworkUnreachable: return "network unreachable";
    case ResetCode::HostUnreachable: return "host unreachable";
    case ResetCode::Refused: return "connection refused";
    case ResetCode::TtlExpired: return "timed out";
    case ResetCode::CommandUnsupported: return "command not supported";
    case ResetCode::AddressUnsupported: return "address type not supported";
    case ResetCode::Protocol: return "protocol error";
    case ResetCode::FlowControl: return "flow control violation";
    case ResetCode::Internal: return "internal error";
    case ResetCode::Cancelled: return "reset by peer application";
    case ResetCode::LinkLost: return "session lost";
    case ResetCode::SessionLimit: return "too many streams";
  }
  return "unknown reset code";
}

void put_u16(std::string &out, uint16_t v) {
  out.push_back(char(v >> 8));
  out.push_back(char(v));
}
void put_u32(std::string &out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(char(v >> s));
}
void put_u64(std::string &out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(char(v >> s));
}
uint16_t get_u16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get_u32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint64_t get_u64(const uint8_t *p) { return uint64_t(get_u32(p)) << 32 | get_u32(p + 4); }

void frame_header(std::string &out, FrameType t, uint8_t flags, size_t len, uint32_t stream) {
  out.push_back(char(t));
  out.push_back(char(flags));
  put_u16(out, uint16_t(len));
  put_u32(out, stream);
}

void frame_data_header(std::string &out, uint32_t stream, uint64_t offset, size_t payload_len,
                       uint8_t flags) {
  frame_header(out, FrameType::Data, flags, DATA_PREFIX + payload_len, stream);
  put_u64(out, offset);
}

void frame_data_header(uint8_t out[DATA_HEADER], uint32_t stream, uint64_t offset,
                       size_t payload_len, uint8_t flags) {
  size_t len = DATA_PREFIX + payload_len;
  out[0] = uint8_t(FrameType::Data);
  out[1] = flags;
  out[2] = uint8_t(len >> 8);
  out[3] = uint8_t(len);
  for (int i = 0; i < 4; i++) out[4 + i] = uint8_t(stream >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) out[8 + i] = uint8_t(offset >> (56 - 8 * i));
}

void frame_ack(std::string &out, uint32_t stream, uint64_t delivered, uint64_t max_offset,
               uint8_t flags) {
  frame_header(out, FrameType::Ack, flags, ACK_BODY, stream);
  put_u64(out, delivered);
  put_u64(out, max_offset);
}

void frame_reset(std::string &out, uint32_t stream, uint32_t code, uint64_t final_size) {
  frame_header(out, FrameType::Reset, 0, RESET_BODY, stream);
  put_u32(out, code);
  put_u64(out, final_size);
}

void frame_stop_sending(std::string &out, uint32_t stream, uint32_t code) {
  frame_header(out, FrameType::StopSending, 0, STOP_SENDING_BODY, stream);
  put_u32(out, code);
}

void frame_ping(std::string &out, uint64_t opaque, bool pong) {
  frame_header(out, FrameType::Ping, pong ? FLAG_PONG : 0, PING_BODY, 0);
  put_u64(out, opaque);
}

void frame_goaway(std::string &out, uint32_t last_stream, uint32_t code) {
  frame_header(out, FrameType::GoAway, 0, GOAWAY_BODY, 0);
  put_u32(out, last_stream);
  put_u32(out, code);
}

void frame_open(std::string &out, uint32_t stream, const std::string &socks_addr, uint8_t flags) {
  frame_header(out, FrameType::Open, flags, socks_addr.size(), stream);
  out += socks_addr;
}

bool frame_datagram(std::string &out, uint32_t assoc, const std::string &socks_addr,
                    const uint8_t *p, size_t n, uint8_t flags) {
  if (n > MAX_DATAGRAM_PAYLOAD || socks_addr.size() + n > MAX_FRAME_BODY) return false;
  frame_header(out, FrameType::Datagram, flags, socks_addr.size() + n, assoc);
  out += socks_addr;
  out.append(reinterpret_cast<const char *>(p), n);
  return true;
}

void frame_open_ack(std::string &out, uint32_t stream) {
  frame_header(out, FrameType::OpenAck, 0, 0, stream);
}

void frame_listen(std::string &out, uint32_t req, const std::string &bind, const std::string &target) {
  frame_header(out, FrameType::Listen, 0, bind.size() + target.size(), req);
  out += bind;
  out += target;
}

void frame_listen_reply(std::string &out, uint32_t req, uint32_t code, uint16_t port,
                        const std::string &message) {
  std::string m = message.substr(0, LISTEN_MESSAGE_MAX);
  frame_header(out, FrameType::Listen, FLAG_REPLY, LISTEN_REPLY_MIN + m.size(), req);
  put_u32(out, code);
  put_u16(out, port);
  out += m;
}

void frame_listen_cancel(std::string &out, uint32_t req) {
  frame_header(out, FrameType::Listen, FLAG_CANCEL, 0, req);
}

namespace {
// Body size rule per known type: exact size, or minimum size for variable bodies.
bool body_ok(const FrameHeader &h, std::string &err) {
  size_t exact = SIZE_MAX, min = 0;
  bool on_stream0 = false, any_stream = false;
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::Data: min = DATA_PREFIX; break;
    case FrameType::Open: min = 4; break;  // atyp + at least 1 addr byte + port
    case FrameType::OpenAck: exact = 0; break;
    case FrameType::Ack: exact = ACK_BODY; any_stream = true; break;
    case FrameType::Reset: exact = RESET_BODY; break;
    case FrameType::StopSending: exact = STOP_SENDING_BODY; break;
    case FrameType::Ping: exact = PING_BODY; on_stream0 = true; break;
    case FrameType::GoAway: exact = GOAWAY_BODY; on_stream0 = true; break;
    case FrameType::Hello:
    case FrameType::HelloAck: on_stream0 = true; break;
    case FrameType::Datagram: min = 7; break;  // atyp + 4-byte address + port, empty payload
    case FrameType::Listen: break;             // checked by its handler (request, reply, cancel)
    default: return true;  // extension
  }
  if (exact != SIZE_MAX && h.len != exact) {
    err = "frame type " + std::to_string(h.type) + " has length " + std::to_string(h.len) +
          ", expected " + std::to_string(exact);
    return false;
  }
  if (h.len < min) {
    err = "frame type " + std::to_string(h.type) + " too short: " + std::to_string(h.len);
    return false;
  }
  if (!any_stream && on_stream0 != (h.stream == 0)) {
    err = "frame type " + std::to_string(h.type) + " on stream " + std::to_string(h.stream);
    return false;
  }
  return true;
}
}  // namespace

Decode frame_decode(const uint8_t *p, size_t n, Frame &out, size_t *used, std::string &err) {
  if (n < FRAME_HEADER) return Decode::NeedMore;
  FrameHeader h;
  h.type = p[0];
  h.flags = p[1];
  h.len = get_u16(p + 2);
  h.stream = get_u32(p + 4);
  if (h.len > MAX_FRAME_BODY) {
    err = "frame length " + std::to_string(h.len) + " exceeds " + std::to_string(MAX_FRAME_BODY);
    return Decode::Error;
  }
  if (h.type > static_cast<uint8_t>(FrameType::Listen) && h.type < FRAME_EXTENSION_MIN) {
    err = "unknown frame type " + std::to_string(h.type);
    return Decode::Error;
  }
  if (!body_ok(h, err)) return Decode::Error;
  if (n < FRAME_HEADER + h.len) return Decode::NeedMore;
  out = Frame{};
  out.h = h;
  out.body = p + FRAME_HEADER;
  if (h.type == static_cast<uint8_t>(FrameType::Data)) {
    out.offset = get_u64(out.body);
    out.payload = out.body + DATA_PREFIX;
    out.payload_len = h.len - DATA_PREFIX;
    if (out.offset > (UINT64_MAX >> 2)) {  // offsets are byte counts; 2^62 cannot be reached
      err = "DATA offset out of range";
      return Decode::Error;
    }
  }
  *used = FRAME_HEADER + h.len;
  return Decode::Ok;
}

} // namespace braid
