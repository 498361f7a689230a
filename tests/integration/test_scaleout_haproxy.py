# SPDX-License-Identifier: MIT
# Scale-out behind HAProxy: two braid servers A and B (same key, certificate and clients file)
# behind HAProxy in TCP mode with source affinity (`balance source`) and health checks. The
# client's 3 links all come from 127.0.0.1, so they hash to the same braid server: the session is
# established and joined there only. When that server is killed, HAProxy sends the client's resume
# attempts to the other server, which does not know the session; the client gives up on it (the
# server says so, or resume-timeout = 3 runs out), starts a new session that lands on the other
# server, and new SOCKS connections work again.
import json
import os
import re
import signal
import socket
import subprocess
import time

import harness as h

HAPROXY = "/usr/sbin/haproxy"
RECOVERY_S = 20  # kill -> a new SOCKS connection echoes through the other server


def haproxy_config(d, front, aport, bport):
    # `log stderr`: the harness reads a Proc's stderr (stdout goes to /dev/null).
    text = """global
    log stderr format raw local0 info

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s

frontend braid_in
    bind 127.0.0.1:%d
    default_backend braid_servers

backend braid_servers
    balance source
    server a 127.0.0.1:%d check inter 200 fall 2 rise 2
    server b 127.0.0.1:%d check inter 200 fall 2 rise 2
""" % (front, aport, bport)
    return h.write(os.path.join(d, "haproxy.cfg"), text)


def wait_listening(port, timeout):
    """Waits until 127.0.0.1:port is in LISTEN state (read from /proc/net/tcp, so no connection
    reaches a braid server and clutters its log)."""
    want = ":%04X" % port
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1] == "0100007F" + want and parts[3] == "0A":
                    return True
        time.sleep(0.05)
    return False


def ctl(sock, what):
    r = h.run_braid(["ctl", "-S", sock, "--json", what], timeout=h.dl(5))
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def run():
    if not os.access(HAPROXY, os.X_OK):
        h.check(False, "%s not found: HAProxy is needed for this test; run contrib/install-deps.sh"
                % HAPROXY)
        return
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        a, aport = h.start_server(d, {"alice": secret}, name="a")
        b, bport = h.start_server(d, {"alice": secret}, name="b")
        servers = {"a": (a, aport), "b": (b, bport)}
        front = h.free_port()
        cfg = haproxy_config(d, front, aport, bport)
        r = subprocess.run([HAPROXY, "-c", "-f", cfg], capture_output=True, text=True,
                             timeout=h.dl(10), stdin=subprocess.DEVNULL)
        if not h.check_eq(r.returncode, 0, "haproxy -c accepts the config: %s%s" % (r.stdout,
                                                                                  r.stderr)):
            return
        hap = h.Proc([HAPROXY, "-f", cfg, "-db"], "haproxy", d)
        if not h.check(wait_listening(front, h.dl(10)),
                       "haproxy listens on 127.0.0.1:%d\n%s" % (front, hap.tail())):
            return
        echo = h.start_echo_server()
        csock = os.path.join(d, "c.sock")
        cconf = h.client_config(d, front, pin, "alice", secret, extra=(
            "links = 3", "resume-timeout = 3", "control = %s" % csock))
        client = h.Proc([h.BRAID, "client", "-c", cconf], "client", d)
        socks = int(client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
        client.wait_for(r"session established with 127\.0\.0\.1:%d" % front, h.dl(10))

        def echo_ok(what, payload, timeout=None):
            """One SOCKS connection to the echo server; returns True when the payload comes
            back intact."""
            s, rep = h.socks5_connect(socks, "127.0.0.1", echo, timeout=timeout)
            if not h.check_eq(rep, 0, what + ": socks reply"):
                return False
            try:
                s.sendall(payload)
                got = h.recv_exact(s, len(payload))
            finally:
                s.close()
            return h.check_eq(h.sha256(got), h.sha256(payload),
                              what + ": echo of %d bytes (got %d)" % (len(payload), len(got)))

        state = {}

        def settle(want_joins, since=None):
            """Waits (bounded) until the servers' logs hold want_joins join lines in all, so the
            log checks below do not race the servers' writes; returns {name: (est, joined)}."""
            end = time.monotonic() + h.limit(h.dl(3))
            while True:
                found = {n: sessions_on(p, (since or {}).get(n, 0)) for n, (p, _) in servers.items()}
                if sum(len(j) for _, j in found.values()) >= want_joins or time.monotonic() > end:
                    return found
                time.sleep(0.05)

        def sessions_on(p, since=0):
            with p.cond:
                lines = list(p.lines[since:])
            est = [m.group(1) for m in (re.search(r"session ([0-9a-f]{16}) established", l)
                                        for l in lines) if m]
            joined = [m.groups() for m in (re.search(r"link (\d+) joined session ([0-9a-f]{16})", l)
                                           for l in lines) if m]
            return est, joined

        def affinity():
            # the client reports 3 links up (its 2 joins went through HAProxy too)
            end = time.monotonic() + h.limit(h.dl(10))
            st = None
            while time.monotonic() < end:
                st = ctl(csock, "stats")
                if st and st.get("links_up") == 3:
                    break
                time.sleep(0.1)
            h.check(st and st.get("links_up") == 3, "the client has 3 links up: %r" % (st,))
            sid = st and st.get("session")
            found = settle(2)
            h.log("server logs: %r" % found)
            home = [n for n, (est, _) in found.items() if est]
            if not h.check_eq(len(home), 1, "exactly one of A/B established a session"):
                return
            home = home[0]
            other = "b" if home == "a" else "a"
            est, joined = found[home]
            h.check_eq(est, [sid], "server %s established the client's session (and only it)" % home)
            h.check_eq(sorted(s for _, s in joined), [sid, sid],
                       "server %s: 2 links joined session %s" % (home, sid))
            h.check_eq(found[other], ([], []),
                       "server %s saw no session establishment or join" % other)
            links = ctl(csock, "links") or {}
            h.check_eq(sorted(l.get("server") for l in links.get("links", [])),
                       ["127.0.0.1:%d" % front] * 3, "all 3 client links go to HAProxy")
            echo_ok("echo through %s" % home, os.urandom(64 * 1024))
            state.update(home=home, other=other, sid=sid)

        def failover():
            if not state:
                h.check(False, "no session home known (previous case failed)")
                return
            home, other, sid = state["home"], state["other"], state["sid"]
            hp, _ = servers[home]
            op, _ = servers[other]
            cmark, omark = client.mark(), op.mark()
            t0 = time.monotonic()
            hp.kill(signal.SIGKILL)
            h.log("killed server %s (pid %d), session %s" % (home, hp.pid, sid))
            deadline = t0 + h.limit(h.dl(RECOVERY_S))

            def until(p, regex, since):
                return p.wait_for(regex, max(0.5, deadline - time.monotonic()), since=since)

            times = {}
            m = until(client, r"session %s with .* ended: (.*)" % sid, cmark)
            times["old session ended"] = time.monotonic() - t0
            why = m.group(1)
            h.log("client: old session ended after %.2f s: %s" % (times["old session ended"], why))
            h.check("the server no longer knows this session" in why or "resume-timeout" in why,
                    "the old session ended because the server forgot it or resume-timeout: %r"
                    % why)
            if "no longer knows" in why:
                h.check(op.find(r"asked to (resume|join) session %s, which is unknown here" % sid,
                                omark),
                        "server %s said it does not know session %s" % (other, sid))
            m = until(client, r"session established with 127\.0\.0\.1:%d \(session ([0-9a-f]{16})"
                      % front, cmark)
            new_sid = m.group(1)
            times["new session (client)"] = time.monotonic() - t0
            h.check(new_sid != sid, "a new session id (%s, old %s)" % (new_sid, sid))
            until(op, r"session %s established" % new_sid, omark)
            times["new session (server %s)" % other] = time.monotonic() - t0
            ok = False
            attempt = 0
            while not ok and time.monotonic() < deadline:
                attempt += 1
                try:
                    s, rep = h.socks5_connect(socks, "127.0.0.1", echo,
                                              timeout=max(1.0, deadline - time.monotonic()))
                except OSError as e:
                    s, rep = None, repr(e)
                if s is None:
                    h.log("SOCKS attempt %d after failover: reply %r" % (attempt, rep))
                    time.sleep(0.2)
                    continue
                s.close()
                ok = True
            times["socks connect works"] = time.monotonic() - t0
            if h.check(ok, "a SOCKS connection works within %d s of the kill" % RECOVERY_S):
                echo_ok("echo through %s after failover" % other, os.urandom(256 * 1024))
                times["echo intact"] = time.monotonic() - t0
            h.check(times["echo intact" if ok else "socks connect works"] <= h.dl(RECOVERY_S),
                    "recovered within %d s" % RECOVERY_S)
            # the new session fills up to 3 links again, all on the other server
            end = time.monotonic() + h.limit(h.dl(8))
            st = None
            while time.monotonic() < end:
                st = ctl(csock, "stats")
                if st and st.get("links_up") == 3:
                    break
                time.sleep(0.1)
            h.check(st and st.get("links_up") == 3 and st.get("session") == new_sid,
                    "the new session has 3 links up: %r" % (st,))
            est, joined = settle(2, {other: omark, home: hp.mark()})[other]
            h.check_eq(est, [new_sid], "server %s established only the new session" % other)
            h.check_eq(sorted(s for _, s in joined), [new_sid, new_sid],
                       "server %s: 2 links joined the new session" % other)
            for k, v in times.items():
                h.log("timing: %-28s %6.2f s after the kill" % (k, v))
            h.check(hap.alive(), "haproxy is still running")

        h.run_cases([("3 links land on one server behind haproxy", affinity),
                     ("failover through haproxy after SIGKILL", failover)])


if __name__ == "__main__":
    h.main(run)
