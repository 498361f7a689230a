# SPDX-License-Identifier: MIT
# The server's target ACL against a client that asks for internal addresses (SOCKS5 CONNECT
# with connect-reply = confirmed, so the ACL's answer is the SOCKS5 reply code):
#  - default ACL (no allow lines): loopback, RFC 1918, link-local, CGNAT, ::1, fe80::/10, the
#    v4-mapped loopback, a name resolving to loopback, and the server's own listening address
#    and port all get REP 2 (not allowed);
#  - allow = 127.0.0.0/8: loopback works (echo round trip), 10.1.2.3 still gets 2;
#  - allow = 127.0.0.0/8 with deny = 127.0.0.2/32: 127.0.0.2 gets 2, 127.0.0.1 and 127.0.0.3
#    work (echo server on 0.0.0.0).
import ipaddress
import socket
import subprocess
import time

import harness as h

DEFAULT_DENY = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4")]


def public_ipv4():
    """An IPv4 address of this host outside the default deny list (a listen address whose only
    protection is the "server's own address" rule), or None."""
    try:
        out = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if "inet" not in parts:
            continue
        a = ipaddress.ip_interface(parts[parts.index("inet") + 1]).ip
        if not any(a in n for n in DEFAULT_DENY):
            return str(a)
    return None


def reply(socks_port, host, port, what):
    """SOCKS5 CONNECT reply code (0 = success; the socket is closed either way)."""
    try:
        s, rep = h.socks5_connect(socks_port, host, port, timeout=h.dl(15))
    except (OSError, h.Socks5Error) as e:
        h.check(False, "%s: SOCKS5 exchange failed: %s" % (what, e))
        return None
    if s:
        s.close()
    return rep


def expect_refused(socks_port, host, port, what):
    rep = reply(socks_port, host, port, what)
    h.check_eq(rep, 2, "%s (%s port %d): SOCKS5 reply, want 2 (not allowed by ruleset)"
               % (what, host, port))


def expect_echo(socks_port, host, port, what):
    try:
        s, rep = h.socks5_connect(socks_port, host, port, timeout=h.dl(15))
    except (OSError, h.Socks5Error) as e:
        h.check(False, "%s: SOCKS5 exchange failed: %s" % (what, e))
        return
    if not h.check_eq(rep, 0, "%s (%s port %d): SOCKS5 reply" % (what, host, port)):
        return
    try:
        data = h.det_bytes(hash(host) & 0xffff, 100000)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = h.read_to_eof(s, timeout=h.dl(10))
        h.check(got == data, "%s: echo through %s returned %d of %d bytes (equal: %s)"
                % (what, host, len(got), len(data), got == data))
    finally:
        s.close()


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        echo_any = h.start_echo_server("0.0.0.0")
        echo6 = h.start_echo_server("::1") if h.have_ipv6_loopback() else None
        pub = public_ipv4()

        def default_acl():
            extra = ["listen = %s:0" % pub] if pub else []
            srv, sport = h.start_server(d, {"alice": secret}, allow=(), extra=extra,
                                        name="server-default")
            own = None
            if pub:
                m = srv.wait_for(r"listening on %s:(\d+)" % pub.replace(".", r"\."), h.dl(5))
                own = (pub, int(m.group(1)))
            c, sp = h.start_client(d, sport, pin, "alice", secret, tag="alice-default")
            mark = srv.mark()
            targets = [("127.0.0.1", echo_any, "loopback"),
                       ("127.0.0.2", echo_any, "loopback 127.0.0.2"),
                       ("0.0.0.0", echo_any, "0.0.0.0 (this host)"),
                       ("10.1.2.3", 80, "10/8"),
                       ("169.254.1.1", 80, "link-local 169.254/16"),
                       ("192.168.1.1", 80, "192.168/16"),
                       ("172.16.0.1", 80, "172.16/12"),
                       ("172.31.255.254", 80, "172.16/12, last address"),
                       ("100.64.0.1", 80, "CGNAT 100.64/10"),
                       ("::1", echo6 or 80, "IPv6 loopback"),
                       ("fe80::1", 80, "IPv6 link-local"),
                       ("fd00::1", 80, "IPv6 ULA fc00::/7"),
                       ("::ffff:127.0.0.1", echo_any, "v4-mapped loopback"),
                       ("localhost", echo_any, "a name resolving to loopback"),
                       ("127.0.0.1", sport, "the server's own listening address and port")]
            if own:
                targets.append((own[0], own[1], "the server's own non-loopback listen address"))
            else:
                h.log("no IPv4 address outside the default deny list here: own-address rule for "
                      "a non-loopback listener not tested")
            for host, port, what in targets:
                expect_refused(sp, host, port, "default ACL: " + what)
            # the server says why, for each
            # (log lines are read in the background: give the last ones a moment)
            end = time.monotonic() + h.dl(5)
            while True:
                n = sum(1 for l in srv.lines[mark:] if "not allowed" in l)
                if n >= len(targets) or time.monotonic() > end:
                    break
                time.sleep(0.05)
            h.check(n >= len(targets), "server logged %d 'not allowed' lines for %d refused targets"
                    % (n, len(targets)))
            if own:
                h.check(srv.find(r"%s:%d not allowed: the server's own address"
                                 % (own[0].replace(".", r"\."), own[1]), since=mark) is not None,
                        "server log names the own-address rule for %s:%d" % own)
            # (127.0.0.1 is the server's own address: that rule names it first)
            h.check(srv.find(r"127\.0\.0\.2:\d+ not allowed: default deny 127\.0\.0\.0/8",
                             since=mark) is not None,
                    "server log names the default deny rule for 127.0.0.2")
            h.check(srv.find(r"10\.1\.2\.3:80 not allowed: default deny 10\.0\.0\.0/8",
                             since=mark) is not None,
                    "server log names the default deny rule for 10.1.2.3")
            c.stop()
            srv.stop()

        def allow_loopback():
            srv, sport = h.start_server(d, {"alice": secret}, allow=("127.0.0.0/8",),
                                        name="server-allow")
            c, sp = h.start_client(d, sport, pin, "alice", secret, tag="alice-allow")
            expect_echo(sp, "127.0.0.1", echo_any, "allow 127/8: 127.0.0.1")
            expect_echo(sp, "localhost", echo_any, "allow 127/8: localhost")
            expect_refused(sp, "10.1.2.3", 80, "allow 127/8: 10.1.2.3")
            expect_refused(sp, "192.168.1.1", 80, "allow 127/8: 192.168.1.1")
            expect_refused(sp, "::1", echo6 or 80, "allow 127/8: ::1")
            c.stop()
            srv.stop()

        def deny_beside_allow():
            srv, sport = h.start_server(d, {"alice": secret}, allow=("127.0.0.0/8",),
                                        extra=["deny = 127.0.0.2/32"], name="server-deny")
            c, sp = h.start_client(d, sport, pin, "alice", secret, tag="alice-deny")
            mark = srv.mark()
            expect_refused(sp, "127.0.0.2", echo_any, "deny 127.0.0.2/32: 127.0.0.2")
            try:
                srv.wait_for(r"127\.0\.0\.2:\d+ not allowed: deny = 127\.0\.0\.2/32", h.dl(5),
                             since=mark)
            except TimeoutError:
                h.check(False, "server log names the deny rule for 127.0.0.2")
            expect_echo(sp, "127.0.0.1", echo_any, "deny 127.0.0.2/32: 127.0.0.1")
            expect_echo(sp, "127.0.0.3", echo_any, "deny 127.0.0.2/32: 127.0.0.3")
            expect_refused(sp, "::ffff:127.0.0.2", echo_any, "deny 127.0.0.2/32: v4-mapped")
            expect_refused(sp, "10.1.2.3", 80, "deny 127.0.0.2/32: 10.1.2.3")
            c.stop()
            srv.stop()

        h.run_cases([
            ("default ACL refuses internal targets", default_acl),
            ("allow = 127.0.0.0/8", allow_loopback),
            ("deny = 127.0.0.2/32 beside allow = 127.0.0.0/8", deny_beside_allow),
        ])


if __name__ == "__main__":
    h.main(test)
