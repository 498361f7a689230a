# SPDX-License-Identifier: MIT
# SOCKS5 reply codes with connect-reply = confirmed: the server's dial result and ACL verdict
# reach the SOCKS5 client as the exact RFC 1928 code. Also IPv6 targets (when the machine has
# ::1), the default-deny ACL without `allow`, and a failure in early mode showing as a close.
import socket
import time

import harness as h


def expect_code(socks_port, host, port, want, what, cmd=1, raw_addr=None):
    """Checks that a SOCKS5 request gets a reply code in `want` (an int or a tuple)."""
    want = want if isinstance(want, tuple) else (want,)
    t0 = time.monotonic()
    try:
        s, rep = h.socks5_connect(socks_port, host, port, cmd=cmd, raw_addr=raw_addr,
                                  timeout=h.dl(25))
    except h.Socks5Error as e:
        h.check(False, "%s: socks5 exchange failed: %s" % (what, e))
        return None
    except (socket.timeout, TimeoutError):
        h.check(False, "%s: no SOCKS5 reply within %.0f s" % (what, h.dl(25)))
        return None
    el = time.monotonic() - t0
    h.check(rep in want, "%s: SOCKS5 reply code: %r vs %s" % (what, rep,
                                                              " or ".join(map(str, want))))
    h.log("%s: reply %r after %.2f s" % (what, rep, el))
    return s


def echo_roundtrip(s, what):
    try:
        s.settimeout(h.dl(10))
        msg = b"hello " + what.encode()
        s.sendall(msg)
        h.check_eq(h.recv_exact(s, len(msg)), msg, what + ": echo")
    finally:
        s.close()


def test():
    v6 = h.have_ipv6_loopback()
    allow = ("127.0.0.0/8", "::1/128") if v6 else ("127.0.0.0/8",)
    with h.Tunnel(connect_reply="confirmed", allow=allow) as t:
        echo_port = h.start_echo_server()
        _, closed_port = h.refused_port()

        def success():
            s = expect_code(t.socks_port, "127.0.0.1", echo_port, 0, "open echo port")
            if s:
                echo_roundtrip(s, "127.0.0.1")

        def refused():
            expect_code(t.socks_port, "127.0.0.1", closed_port, 5, "closed port")

        def unresolvable():
            # DNS may be unreachable in the sandbox: host unreachable (4) or general failure (1)
            expect_code(t.socks_port, "nonexistent.invalid", 80, (4, 1), "nonexistent.invalid")

        def bind_cmd():
            expect_code(t.socks_port, "127.0.0.1", echo_port, 7, "BIND command", cmd=2)

        def unknown_cmd():
            expect_code(t.socks_port, "127.0.0.1", echo_port, 7, "command 0x09", cmd=9)

        def bad_atyp():
            # RFC 1928: X'08' Address type not supported
            expect_code(t.socks_port, "", 0, 8, "address type 5", raw_addr=b"\x05\x7f\0\0\x01\0\x50")

        def ipv6():
            if not v6:
                h.log("no IPv6 loopback: skipped")
                return
            echo6 = h.start_echo_server("::1")
            s = expect_code(t.socks_port, "::1", echo6, 0, "[::1] echo port")
            if s:
                echo_roundtrip(s, "[::1]")
            _, closed6 = h.refused_port("::1")
            expect_code(t.socks_port, "::1", closed6, 5, "[::1] closed port")

        def early_mode():
            # default mode answers success at once; the failure then shows as a close or reset
            c, sp = t.second_client(connect_reply="early", tag="carol-early")
            s = expect_code(sp, "127.0.0.1", closed_port, 0, "early mode, closed port")
            if s:
                s.settimeout(h.limit(h.dl(20)))
                try:
                    s.sendall(b"x")
                except OSError:
                    pass
                try:
                    got = h.read_to_eof(s, timeout=h.dl(20))
                    h.check_eq(got, b"", "early mode, closed port: bytes before close")
                except (socket.timeout, TimeoutError):
                    h.check(False, "early mode, closed port: connection not closed within "
                            "%.0f s" % h.dl(20))
                finally:
                    s.close()
            s = expect_code(sp, "127.0.0.1", echo_port, 0, "early mode, echo port")
            if s:
                echo_roundtrip(s, "early mode")
            c.stop()

        h.run_cases([
            ("success -> 0", success),
            ("connection refused -> 5", refused),
            ("unresolvable name -> 4 (or 1 without DNS)", unresolvable),
            ("BIND -> 7", bind_cmd),
            ("unknown command -> 7", unknown_cmd),
            ("unsupported address type -> 8", bad_atyp),
            ("IPv6 target [::1]", ipv6),
            ("early mode failure shows as close", early_mode),
        ])
        h.check(t.server.alive() and t.client.alive(), "server and client still running")

    # without `allow`, loopback and ::1 are in the default deny list
    with h.Tunnel(connect_reply="confirmed", allow=()) as t:
        echo_port = h.start_echo_server()

        def denied_v4():
            expect_code(t.socks_port, "127.0.0.1", echo_port, 2, "127.0.0.1 without allow")
            expect_code(t.socks_port, "127.0.0.2", echo_port, 2, "127.0.0.2 without allow")

        def denied_name():
            # names are checked after resolution: localhost is 127.0.0.1 here (/etc/hosts)
            expect_code(t.socks_port, "localhost", echo_port, 2, "localhost without allow")

        def denied_v6():
            if not v6:
                h.log("no IPv6 loopback: skipped")
                return
            echo6 = h.start_echo_server("::1")
            expect_code(t.socks_port, "::1", echo6, 2, "[::1] without allow")

        h.run_cases([
            ("loopback without allow -> 2", denied_v4),
            ("localhost (by name) without allow -> 2", denied_name),
            ("[::1] without allow -> 2", denied_v6),
        ])
        h.check(t.server.alive() and t.client.alive(), "server and client still running")


if __name__ == "__main__":
    h.main(test)
