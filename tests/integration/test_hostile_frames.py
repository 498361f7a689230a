# SPDX-License-Identifier: MIT
# Hostile frames on an authenticated link, spoken directly with Python's ssl (PROTOCOL.md 3):
#  - a header with len 0xFFFF (> MAX_FRAME_BODY 16376): link error, link closed;
#  - a truncated frame followed by a close: the link goes down, the server notes it;
#  - a frame type from the reserved range 0x0b-0x3f (0x20): link error, link closed;
#  - DATA beyond the stream's credit (offset 300000 > the initial 256 KiB window): the stream is
#    reset with RESET code 0x101 (FlowControl), or the link is closed;
#  - garbage right after TLS, without a HELLO: "auth failed ... not a HELLO", closed unanswered;
#  - a HELLO on an established link: link error.
# Each must be logged with what went wrong, and a normal client session of the same server must
# keep working: a SOCKS download runs through it while the hostile link misbehaves, and after.
import base64
import hashlib
import socket
import ssl
import struct
import threading
import time

import harness as h

MiB = h.MiB
T_DATA, T_OPEN, T_OPEN_ACK, T_ACK, T_RESET, T_PING, T_GOAWAY = 0, 1, 2, 3, 4, 6, 7
DL_SIZE = 8 * MiB


class Background:
    """A SOCKS download through the normal client, running in a thread while a case acts."""

    def __init__(self, socks_port, http_port, seed, what):
        self.what = what
        self.seed = seed
        self.res = None
        url = "http://127.0.0.1:%d/data/%d/%d" % (http_port, seed, DL_SIZE)

        def run():
            hasher = hashlib.sha256()
            rc, n, err = h.curl(socks_port, url, out_hasher=hasher, timeout=h.dl(40),
                                extra=["--limit-rate", "4M"])
            self.res = (rc, n, hasher.hexdigest(), err)

        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def check(self):
        self.t.join(h.limit(h.dl(45)))
        if not h.check(self.res is not None, "%s: download did not finish" % self.what):
            return
        rc, n, digest, err = self.res
        h.check_eq(rc, 0, "%s: curl exit (%s)" % (self.what, err.strip()))
        h.check_eq(n, DL_SIZE, "%s: bytes downloaded" % self.what)
        h.check_eq(digest, h.det_sha256(self.seed, DL_SIZE), "%s: sha256 of the download"
                   % self.what)


def open_session(port, name, secret_raw):
    """A raw TLS link with a valid HELLO (kind new) answered by HELLO_ACK; returns the socket."""
    s = h.tls_connect(port)
    s.sendall(h.frame(h.T_HELLO, h.hello_body(name, secret_raw)))
    f = h.read_one_frame(s, h.dl(10))
    if f is None or f[0] != h.T_HELLO_ACK:
        s.close()
        raise AssertionError("valid HELLO: expected HELLO_ACK, got %r" % (f,))
    return s


def local_port(s):
    return s.getsockname()[1]


def expect_closed(s, what, timeout=None):
    """Reads frames until the server closes; checks it does. Returns the frames seen."""
    frames, closed, el = h.read_frames_until_eof(s, timeout or h.dl(5))
    h.check(closed, "%s: server did not close the link within %.0f s (frames: %s)"
            % (what, timeout or h.dl(5), [(f[0], f[2]) for f in frames][:20]))
    return frames


def goaways(frames):
    return [struct.unpack(">II", f[3]) for f in frames if f[0] == T_GOAWAY and len(f[3]) == 8]


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        alice = h.make_secret()
        bob = h.make_secret()
        bob_raw = base64.b64decode(bob)
        http_port = h.start_http_server()

        def sink(sock):
            while sock.recv(65536):
                pass
        sink_port = h.start_tcp_server(sink)
        server, sport = h.start_server(d, {"alice": alice, "bob": bob})
        client, socks_port = h.start_client(d, sport, pin, "alice", alice)
        seeds = iter(range(100, 200))

        def with_download(what, act):
            bg = Background(socks_port, http_port, next(seeds), what + " (download beside it)")
            time.sleep(0.3)  # the download is under way before the hostile link acts
            try:
                act()
            finally:
                bg.check()

        def peer_line(mark, lport, regex, what):
            """The server's log line about link 127.0.0.1:lport matching regex."""
            try:
                return server.wait_for(r"^(?=.*127\.0\.0\.1:%d\b)(?=.*%s)" % (lport, regex),
                                       h.dl(5), since=mark)
            except TimeoutError as e:
                h.check(False, "%s: no server log line /%s/ for 127.0.0.1:%d\n%s"
                        % (what, regex, lport, e))
                return None

        def huge_length():
            what = "len 0xFFFF"
            mark = server.mark()
            s = open_session(sport, "bob", bob_raw)
            lp = local_port(s)
            try:
                # DATA on stream 1, len 65535: a frame can never be that long
                s.sendall(struct.pack(">BBHI", T_DATA, 0, 0xFFFF, 1) + b"\0" * 64)
                frames = expect_closed(s, what)
            finally:
                s.close()
            peer_line(mark, lp, r"frame length 65535 exceeds 16376", what)
            h.check_eq([g[1] for g in goaways(frames)], [1],
                       what + ": GOAWAY codes before the close (PROTOCOL.md 3, GOAWAY code 1 "
                       "Protocol: sent before closing a link whose peer broke the protocol)")

        def truncated():
            what = "truncated frame + close"
            mark = server.mark()
            s = open_session(sport, "bob", bob_raw)
            lp = local_port(s)
            # an ACK header announcing 16 bytes, only 5 of them, then close_notify and FIN
            s.sendall(struct.pack(">BBHI", T_ACK, 0, 16, 0) + b"\0" * 5)
            time.sleep(0.2)
            try:
                s.settimeout(h.dl(3))
                s.unwrap().close()
            except (OSError, ssl.SSLError, ValueError):
                s.close()
            line = peer_line(mark, lp, r"down", what)
            if line:
                h.log("server: %s" % line.string)
            # the link is gone; its session waits for a resume without any stream
            h.check(server.alive(), what + ": server still running")

        def unknown_type():
            what = "frame type 0x20"
            mark = server.mark()
            s = open_session(sport, "bob", bob_raw)
            lp = local_port(s)
            try:
                s.sendall(h.frame(0x20, b"\x01\x02\x03\x04"))
                frames = expect_closed(s, what)
            finally:
                s.close()
            peer_line(mark, lp, r"unknown frame type 32", what)
            h.check_eq([g[1] for g in goaways(frames)], [1],
                       what + ": GOAWAY codes before the close (PROTOCOL.md 3, GOAWAY code 1)")

        def extension_skipped():
            # the contrast to 0x20: a type >= 0x40 is skipped, the link stays up (PING answered)
            what = "frame type 0x40"
            s = open_session(sport, "bob", bob_raw)
            try:
                s.sendall(h.frame(0x40, b"x" * 100, stream=7, flags=0xff)
                          + h.frame(T_PING, struct.pack(">Q", 0x1234)))
                pong = None
                end = time.monotonic() + h.dl(5)
                while pong is None and time.monotonic() < end:
                    f = h.read_one_frame(s, max(0.1, end - time.monotonic()))
                    if f is None:
                        break
                    if f[0] == T_PING and f[1] & 0x80:
                        pong = f
                h.check(pong is not None and pong[3] == struct.pack(">Q", 0x1234),
                        what + ": expected the PONG to a PING sent after the extension frame, "
                        "got %r" % (pong,))
            finally:
                s.close()

        def beyond_credit():
            what = "DATA beyond the stream credit"
            mark = server.mark()
            s = open_session(sport, "bob", bob_raw)
            lp = local_port(s)
            try:
                target = b"\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", sink_port)
                s.sendall(h.frame(T_OPEN, target, stream=1)
                          + h.frame(T_DATA, struct.pack(">Q", 0) + b"a" * 1000, stream=1))
                time.sleep(0.3)
                # 300000 + 16000 > 262144 (STREAM_WINDOW), nothing was ever granted beyond it
                s.sendall(h.frame(T_DATA, struct.pack(">Q", 300000) + b"b" * 16000, stream=1))
                got_reset = None
                closed = False
                seen = []
                end = time.monotonic() + h.dl(5)
                buf = b""
                while got_reset is None and not closed and time.monotonic() < end:
                    frames, closed, _ = h.read_frames_until_eof(s, min(0.5, end - time.monotonic()))
                    for f in frames:
                        seen.append((f[0], f[2]))
                        if f[0] == T_RESET and f[2] == 1:
                            got_reset = f
                h.check(got_reset is not None or closed,
                        what + ": neither RESET for stream 1 nor a closed link within 5 s "
                        "(frames seen: %s)" % seen[:20])
                if got_reset is not None:
                    code, final = struct.unpack(">IQ", got_reset[3])
                    h.check_eq(hex(code), hex(0x101), what + ": RESET code (FlowControl)")
                    # the link itself stays usable: a PING is answered
                    s.sendall(h.frame(T_PING, struct.pack(">Q", 77)))
                    pong = None
                    end = time.monotonic() + h.dl(5)
                    while pong is None and time.monotonic() < end:
                        f = h.read_one_frame(s, max(0.1, end - time.monotonic()))
                        if f is None:
                            break
                        if f[0] == T_PING and f[1] & 0x80 and f[3] == struct.pack(">Q", 77):
                            pong = f
                    h.check(pong is not None, what + ": link answers PING after the RESET")
            finally:
                s.close()
            try:
                m = server.wait_for(r"stream 1 .*beyond its credit|127\.0\.0\.1:%d\b.*(credit|"
                                    r"window)" % lp, h.dl(5), since=mark)
                h.log("server: %s" % m.string)
            except TimeoutError as e:
                h.check(False, what + ": no server log line about the credit violation\n%s" % e)

        def garbage_no_hello():
            for payload, label, why in (
                    (b"\xde\xad\xbe\xef" * 64, "0xdeadbeef bytes", r"frame length 48879 exceeds"),
                    (b" " * 256, "spaces (type 0x20, len 0x2020)", r"unknown frame type 32")):
                what = "garbage after TLS: " + label
                mark = server.mark()
                s = h.tls_connect(sport)
                lp = local_port(s)
                try:
                    s.sendall(payload)
                    frames, closed, el = h.read_frames_until_eof(s, h.dl(5))
                finally:
                    s.close()
                h.check(closed, what + ": server did not close the link within 5 s")
                h.check_eq([f[0] for f in frames], [], what + ": frames received")
                peer_line(mark, lp, r"auth failed.*not a HELLO.*" + why, what)

        def hello_again():
            what = "HELLO on an established link"
            mark = server.mark()
            s = open_session(sport, "bob", bob_raw)
            lp = local_port(s)
            try:
                s.sendall(h.frame(h.T_HELLO, h.hello_body("bob", bob_raw)))
                frames = expect_closed(s, what)
            finally:
                s.close()
            peer_line(mark, lp, r"HELLO on an established link", what)
            h.check_eq([g[1] for g in goaways(frames)], [1], what + ": GOAWAY codes")

        def still_works():
            bg = Background(socks_port, http_port, next(seeds), "download after all cases")
            bg.check()
            c2, sp2 = h.start_client(d, sport, pin, "alice", alice, tag="alice2")
            bg = Background(sp2, http_port, next(seeds), "fresh client after all cases")
            bg.check()
            c2.stop()
            h.check(server.alive(), "server still running")
            h.check(client.alive(), "client still running")
            h.check(client.find(r"session .*(ended|lost)|resetting") is None,
                    "the normal client's session was never disturbed")

        h.run_cases([
            ("len 0xFFFF", lambda: with_download("len 0xFFFF", huge_length)),
            ("truncated frame then close", lambda: with_download("truncated", truncated)),
            ("unknown frame type 0x20", lambda: with_download("type 0x20", unknown_type)),
            ("extension type 0x40 is skipped", extension_skipped),
            ("DATA beyond credit", lambda: with_download("beyond credit", beyond_credit)),
            ("garbage without HELLO", lambda: with_download("garbage", garbage_no_hello)),
            ("HELLO on an established link", lambda: with_download("HELLO again", hello_again)),
            ("normal session still works", still_works),
        ])


if __name__ == "__main__":
    h.main(test)
