# SPDX-License-Identifier: MIT
# Authentication of links and of SOCKS5 users:
#  - wrong server pin: the client logs expected and actual pin, keeps running, its requests fail;
#  - wrong secret, unknown client name: the server logs "auth failed" with the reason;
#  - replayed HELLO, expired timestamp, garbage after TLS (spoken directly with Python's ssl):
#    refused without HELLO_ACK after a short random delay, reason logged;
#  - afterwards a correctly configured client still works through the same server;
#  - SOCKS5 username/password (RFC 1929) with socks-auth-file.
import base64
import hashlib
import socket
import time

import harness as h

MiB = h.MiB


def auth_failed_line(server, reason, since):
    return server.wait_for(r"auth failed.*%s" % reason, h.dl(10), since=since)


def refused_without_ack(port, payload, what):
    """Sends payload on a fresh TLS link; checks the server closes it without a HELLO_ACK after
    the documented random delay (0.2-2 s)."""
    s = h.tls_connect(port)
    try:
        s.sendall(payload)
        frames, closed, elapsed = h.read_frames_until_eof(s, h.dl(8))
    finally:
        s.close()
    h.check(closed, "%s: server did not close the link within %.0f s" % (what, h.dl(8)))
    h.check_eq([f[0] for f in frames if f[0] == h.T_HELLO_ACK], [],
               what + ": HELLO_ACK frames received")
    if closed:
        h.check(elapsed >= 0.15, "%s: closed after %.3f s, expected a random delay of 0.2-2 s"
                % (what, elapsed))
        h.check(elapsed <= h.dl(3.0), "%s: closed after %.3f s, expected 0.2-2 s"
                % (what, elapsed))


def test():
    with h.Tunnel(connect_reply="confirmed") as t:
        d = t.dir
        http_port = h.start_http_server()
        echo_port = h.start_echo_server()
        bob_secret = h.make_secret()
        bob_raw = base64.b64decode(bob_secret)
        # a second server of the same key knows "bob" too: the wire-level tests speak as bob
        srv2, port2 = h.start_server(d, {"alice": t.secret, "bob": bob_secret}, name="server2")

        def pin_check():
            # keygen's pin is sha256 of the SubjectPublicKeyInfo of the certificate served
            s = h.tls_connect(t.server_port)
            try:
                der = s.getpeercert(binary_form=True)
            finally:
                s.close()
            h.check_eq("sha256:" + hashlib.sha256(h.der_spki(der)).hexdigest(), t.pin,
                       "sha256 of the served certificate's public key vs keygen's pin")

        def wrong_pin():
            other_pin = h.keygen(d, "other")
            c, sp = h.start_client(d, t.server_port, other_pin, "alice", t.secret,
                                   wait_session=False, tag="wrongpin")
            m = c.wait_for(r"certificate pin mismatch: expected (sha256:[0-9a-f]{64}) "
                           r"got (sha256:[0-9a-f]{64})", h.dl(10))
            h.check_eq(m.group(1), other_pin, "pin mismatch line: expected pin")
            h.check_eq(m.group(2), t.pin, "pin mismatch line: actual pin")
            # it retries: a second mismatch line shows up, and it is still running
            c.wait_for(r"certificate pin mismatch", h.dl(10), since=c.mark())
            h.check(c.alive(), "client with a wrong pin keeps running")
            h.check(c.find(r"session established") is None,
                    "client with a wrong pin must not establish a session")
            t0 = time.monotonic()
            try:
                s, rep = h.socks5_connect(sp, "127.0.0.1", echo_port, timeout=h.dl(15))
            except h.Socks5Error as e:
                s, rep = None, "%s %r" % (e.stage, e.value)
            el = time.monotonic() - t0
            h.check(rep != 0, "wrong pin: SOCKS5 request must fail, got reply %r" % rep)
            h.check(el <= h.dl(12), "wrong pin: SOCKS5 request took %.1f s to fail" % el)
            if s:
                s.close()
            c.stop()

        def wrong_secret():
            mark = t.server.mark()
            c, _ = h.start_client(d, t.server_port, t.pin, "alice", h.random_secret(),
                                  wait_session=False, tag="wrongsecret")
            auth_failed_line(t.server, "bad HMAC", mark)
            h.check(c.find(r"session established") is None,
                    "client with a wrong secret must not establish a session")
            c.stop()

        def unknown_client():
            mark = t.server.mark()
            c, _ = h.start_client(d, t.server_port, t.pin, "mallory", t.secret,
                                  wait_session=False, tag="mallory")
            auth_failed_line(t.server, "unknown client", mark)
            h.check(c.find(r"session established") is None,
                    "unknown client must not establish a session")
            c.stop()

        def replayed_hello():
            hello = h.frame(h.T_HELLO, h.hello_body("bob", bob_raw))
            s = h.tls_connect(port2)
            try:
                s.sendall(hello)
                f = h.read_one_frame(s, h.dl(10))
                h.check(f is not None and f[0] == h.T_HELLO_ACK,
                        "valid HELLO: expected a HELLO_ACK frame, got %r" % (f,))
                if f is not None and f[0] == h.T_HELLO_ACK:
                    h.check(len(f[3]) >= 24, "HELLO_ACK body is %d bytes, want >= 24 (session "
                            "u64 + join token 16)" % len(f[3]))
                    h.check_eq(f[2], 0, "HELLO_ACK stream id")
            finally:
                s.close()
            mark = srv2.mark()
            refused_without_ack(port2, hello, "replayed HELLO")
            auth_failed_line(srv2, "replayed HELLO", mark)

        def expired_timestamp():
            mark = srv2.mark()
            hello = h.frame(h.T_HELLO, h.hello_body("bob", bob_raw,
                                                    timestamp=int(time.time()) - 3600))
            refused_without_ack(port2, hello, "HELLO with timestamp now-3600")
            auth_failed_line(srv2, "timestamp", mark)

        def future_timestamp():
            mark = srv2.mark()
            hello = h.frame(h.T_HELLO, h.hello_body("bob", bob_raw,
                                                    timestamp=int(time.time()) + 3600))
            refused_without_ack(port2, hello, "HELLO with timestamp now+3600")
            auth_failed_line(srv2, "timestamp", mark)

        def garbage():
            mark = srv2.mark()
            refused_without_ack(port2, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
                                "HTTP request after TLS")
            auth_failed_line(srv2, "not a HELLO", mark)

        def wire_wrong_secret():
            mark = srv2.mark()
            hello = h.frame(h.T_HELLO, h.hello_body("bob", b"\x01" * 32))
            refused_without_ack(port2, hello, "HELLO with a wrong HMAC")
            auth_failed_line(srv2, "bad HMAC", mark)

        def good_client_still_works():
            def fetch(sp, seed, what):
                hasher = hashlib.sha256()
                rc, n, err = h.curl(sp, "http://127.0.0.1:%d/data/%d/%d" % (http_port, seed, MiB),
                                    out_hasher=hasher)
                h.check_eq(rc, 0, what + ": curl exit (%r)" % err.strip())
                h.check_eq(hasher.hexdigest(), h.det_sha256(seed, MiB), what + ": sha256 of 1 MiB")

            fetch(t.socks_port, 5, "client started before the failures")
            # fresh clients of both servers (server2 saw the wire-level attacks)
            c, sp = t.second_client(connect_reply="confirmed", tag="carol-fresh")
            fetch(sp, 6, "fresh client of the same server")
            c.stop()
            c, sp = h.start_client(d, port2, t.pin, "alice", t.secret, tag="alice2")
            fetch(sp, 7, "fresh client of server2")
            c.stop()
            h.check(t.server.alive() and srv2.alive(), "servers still running")

        def socks_userpass():
            c, sp = t.second_client(connect_reply="confirmed", tag="carol-auth",
                                    socks_auth=[("user1", "pass1"), ("u2", "p:w2")])
            # a greeting offering only "no authentication" is refused with 0xFF
            s = socket.create_connection(("127.0.0.1", sp), timeout=h.dl(10))
            try:
                s.sendall(b"\x05\x01\x00")
                r = h.recv_exact(s, 2)
                h.check_eq(r, b"\x05\xff", "no-auth greeting: method selection reply")
            finally:
                s.close()
            for user, pw in (("user1", "pass1"), ("u2", "p:w2")):
                try:
                    s, rep = h.socks5_connect(sp, "127.0.0.1", echo_port, user=user, password=pw)
                except h.Socks5Error as e:
                    h.check(False, "correct credentials %s: %s" % (user, e))
                    continue
                h.check_eq(rep, 0, "correct credentials %s: socks5 reply" % user)
                if s:
                    s.sendall(b"ping")
                    h.check_eq(h.recv_exact(s, 4), b"ping", "echo with credentials %s" % user)
                    s.close()
            for user, pw in (("user1", "wrong"), ("nobody", "pass1"), ("user1", ""),
                             ("user1", "pass1x")):
                try:
                    s, rep = h.socks5_connect(sp, "127.0.0.1", echo_port, user=user, password=pw,
                                              timeout=h.dl(10))
                    h.check(False, "wrong credentials %r:%r accepted (reply %r)" % (user, pw, rep))
                    if s:
                        s.close()
                except h.Socks5Error as e:
                    h.check_eq(e.stage, "auth", "wrong credentials %r:%r: failing stage"
                               % (user, pw))
                    h.check(e.value != 0, "wrong credentials %r:%r: status %r"
                            % (user, pw, e.value))
            c.stop()

        h.run_cases([
            ("keygen pin is the served key's pin", pin_check),
            ("wrong server pin", wrong_pin),
            ("wrong secret", wrong_secret),
            ("unknown client name", unknown_client),
            ("replayed HELLO", replayed_hello),
            ("expired timestamp", expired_timestamp),
            ("timestamp in the future", future_timestamp),
            ("garbage after TLS", garbage),
            ("HELLO with a wrong HMAC on the wire", wire_wrong_secret),
            ("correct client still works", good_client_still_works),
            ("SOCKS5 username/password", socks_userpass),
        ])


if __name__ == "__main__":
    h.main(test)
