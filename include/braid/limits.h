// SPDX-License-Identifier: MIT
// Every fixed limit of braid, each with the reason it has the value it has. Limits a user may
// need to change are config keys instead (see config.h); these are the protocol and safety caps.
#pragma once
#include <cstddef>
#include <cstdint>

namespace braid {

// --- wire --------------------------------------------------------------------------------
// A frame (8-byte header + body) fits one TLS record of 16384 plaintext bytes, so a record can
// be decrypted and dispatched on its own and a frame never waits for a second record.
constexpr size_t FRAME_HEADER = 8;
constexpr size_t MAX_FRAME_BODY = 16384 - FRAME_HEADER;  // 16376
constexpr size_t DATA_PREFIX = 8;                         // u64 stream offset
constexpr size_t MAX_DATA_PAYLOAD = MAX_FRAME_BODY - DATA_PREFIX;  // 16368
constexpr size_t TLS_RECORD = 16384;

// --- flow control ------------------------------------------------------------------------
// Initial per-stream window: 256 KiB lets one stream run ~25 MB/s at 10 ms RTT without
// autotuning, while 1,000 idle streams on a router cost nothing (credit is a promise, buffers are
// only filled by data that actually arrives).
constexpr uint64_t STREAM_WINDOW = 256 * 1024;
// Per-session receive window: the memory one peer can make us hold in reorder and socket-write
// buffers. 16 MiB covers 64 concurrent full windows on a server; a router client sees far less.
constexpr uint64_t SESSION_WINDOW = 16 * 1024 * 1024;
// Autotuning: a stream's window doubles when the application drained a whole window within
// 2 x SRTT (the window, not the path, was the limit), up to this cap: 4 MiB fills 100 Mbit/s
// at 300 ms, or 4 striped links of 4 MB/s at 250 ms of queueing.
constexpr uint64_t STREAM_WINDOW_MAX = 4 * 1024 * 1024;
// Bytes read from a local socket and kept until the peer acks them (they are resent after a
// link loss): the peer's current window plus one read, so reading never runs ahead of credit
// by more than that.
constexpr uint64_t STREAM_SEND_SLACK = 64 * 1024;
// Received bytes are acknowledged at the latest this long after they arrive (and at once when
// half a window was delivered): the sender keeps unacknowledged bytes for resending, and
// streams that never drain half a window must not pin the session's send-buffer. 10 ms, not
// TCP's 40: 500 streams of 64 KiB each (the peers bench) peaked at 42 MiB both ends with 50 ms
// and at 29 MiB with 10 ms (3 ms: no better); a bulk stream acks on the half window anyway.
constexpr double ACK_DELAY_S = 0.01;
// Read size for local sockets and links: large reads cut syscalls per byte (libevent 2.1
// reads 4 KiB at a time, which doubles the syscall count at 1 GB/s).
constexpr size_t READ_CHUNK = 64 * 1024;
// First allocation of a byte buffer (it doubles from there): a stream's buffers are allocated
// when data arrives and released when drained, so a small start keeps 10,000 streams that
// each carry a short request and reply small, at the price of a few early regrowths.
constexpr size_t BUF_MIN_ALLOC = 512;
// Memory is handed back to the OS this long after streams close (or start-up ends): long enough
// to coalesce a burst of closes into one trim, short enough that an idle process is small soon.
// A trim walks the heap's free chunks; 1,500 sequential connections (a trim every 0.5 s) showed
// no change in connect latency or CPU time.
constexpr double TRIM_DELAY_S = 0.5;

// --- links ---------------------------------------------------------------------------------
// Ciphertext queued in user space per link before we stop producing frames for it; two full
// records keep the socket busy while the scheduler decides late (TCP_NOTSENT_LOWAT below).
constexpr size_t LINK_OUT_HIGH = 64 * 1024;
constexpr int TCP_NOTSENT_LOWAT_BYTES = 128 * 1024;
// Plaintext frame-reassembly buffer cap: one frame plus a record.
constexpr size_t LINK_IN_MAX = 2 * TLS_RECORD + FRAME_HEADER;
// A link decrypts up to this much before parsing, so the DATA of several records for one
// stream leaves in one writev (WriteBatch): a loopback writer spends 0.26 s/GiB in 4 x 16 KiB
// writev calls against 0.35 in 16 KiB writes, and its reader 0.09 against 0.18.
constexpr size_t PARSE_BATCH = 4 * TLS_RECORD;

// --- handshakes and deadlines (seconds) -------------------------------------------------------
constexpr int HELLO_DEADLINE_S = 10;        // TLS handshake + HELLO must complete within this
constexpr int HELLO_TIME_WINDOW_S = 120;     // accepted clock skew of a HELLO timestamp
constexpr size_t REPLAY_CACHE_MAX = 65536;  // nonces remembered within the time window
constexpr int SOCKS_HEAD_DEADLINE_S = 10;   // a SOCKS5 greeting + request must arrive in this
constexpr size_t SOCKS_HEAD_MAX = 1024;     // greeting + auth + request, bytes
constexpr int SESSION_WAIT_S = 10;          // a request waits this long for a session while links are down
constexpr int DIAL_TIMEOUT_S = 10;          // server: connect to a target
constexpr int OPEN_TIMEOUT_S = 15;          // client: OPEN answered (ack or reset)
constexpr double REDIAL_MIN_S = 0.5;        // link redial backoff, doubling with +-20 % jitter
constexpr double REDIAL_MAX_S = 30.0;
// Several `server` candidates are dialled this far apart; the first to authenticate wins.
constexpr double RACE_STAGGER_S = 0.25;
constexpr double AUTH_FAIL_DELAY_MIN_S = 0.2;  // random delay before closing an unauthenticated link
constexpr double AUTH_FAIL_DELAY_MAX_S = 2.0;
constexpr int DRAIN_S = 5;                    // SIGTERM: running transfers get this long
// Server: a session without links keeps its streams (and their target sockets) this long for
// the client to resume; pushed to clients in HELLO_ACK. Covers a WAN flap or a DHCP renewal.
constexpr int RESUME_TIMEOUT_S = 60;
// Links one session may have (the `links` key's range); pushed in HELLO_ACK.
constexpr int MAX_LINKS_PER_SESSION = 16;
// Stream ids a peer skipped whose OPEN may still arrive on a slower link.
constexpr uint32_t MAX_MISSING_IDS = 4096;
// UDP: an association (SOCKS5 UDP ASSOCIATE, DNS) without traffic for this long is closed.
constexpr int UDP_IDLE_S = 60;
// UDP associations per session on the server: each holds up to two sockets.
constexpr size_t MAX_UDP_ASSOC = 256;
// DATAGRAM frames waiting in a session's control queue: beyond this UDP is dropped, like a
// full router queue, rather than growing memory.
constexpr size_t DATAGRAM_QUEUE_MAX = 1024 * 1024;
// DNS forwarder: queries waiting for an answer, and how long one waits.
constexpr size_t DNS_PENDING_MAX = 4096;
constexpr int DNS_TIMEOUT_S = 5;

// --- counts ----------------------------------------------------------------------------------
constexpr size_t MAX_STREAMS_PER_SESSION = 16384;  // server default for `max-streams`
constexpr size_t MAX_SESSIONS = 1024;              // server default for `max-sessions`
constexpr size_t MAX_PENDING_HANDSHAKES = 256;     // TLS + HELLO in progress, server
constexpr size_t MAX_PENDING_REQUESTS = 4096;      // client requests waiting for a session
constexpr size_t MAX_NAME = 64;                    // client name length
constexpr size_t CONFIG_MAX_BYTES = 1 << 20;       // config, clients and auth files
constexpr size_t CONFIG_MAX_LINE = 4096;
// expose= and listen= entries per clients-file line: checked linearly per request.
constexpr size_t MAX_CLIENT_RULES = 64;
// Remote-forward listeners one session may hold on the server (each is a socket and a request a
// client can repeat).
constexpr size_t MAX_REMOTE_FORWARDS = 64;

} // namespace braid

// --- HTTP proxy (listen_http.cc, http.cc) -----------------------------------------------------
namespace braid {
// A request or response head (request line + headers): 16 KiB holds any browser's cookies while
// one connection's parse buffer stays small; larger heads get 431 (request) or 502 (response).
constexpr size_t HTTP_HEAD_MAX = 16 * 1024;
// The request line alone: URLs longer than this get 414 before the whole head is read.
constexpr size_t HTTP_LINE_MAX = 8 * 1024;
// Header fields per head: more is a flood, not a request (Apache's LimitRequestFields is 100).
constexpr size_t HTTP_HEADERS_MAX = 100;
// A chunk-size line (size + extensions) and a chunked body's trailer section.
constexpr size_t HTTP_CHUNK_LINE_MAX = 4096;
constexpr size_t HTTP_TRAILER_MAX = 16 * 1024;
// The first request head must arrive within this (a slow or silent client holds no slot longer).
constexpr int HTTP_HEAD_DEADLINE_S = 10;
// A kept-alive connection idle between requests is closed after this; curl and browsers reuse
// within seconds, and each idle one keeps its stream open at the server.
constexpr int HTTP_IDLE_S = 60;
// Bytes queued per direction (client -> tunnel, tunnel -> client) before reading the other side
// stops: the stream's own buffers do the bulk buffering, this only smooths the hand-over.
constexpr size_t HTTP_QUEUE_HIGH = 256 * 1024;
}  // namespace braid
// --- end HTTP proxy ------------------------------------------------------------------------
