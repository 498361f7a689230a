# SPDX-License-Identifier: MIT
# Transparent proxying (`redir`) on a router, in network namespaces:
#
#   LAN 10.88.1.2 ---- 10.88.1.1 RTR 10.88.2.1 ---- 10.88.2.2 TGT
#       fd88:1::2       fd88:1::1   fd88:2::1        fd88:2::2
#
# RTR does not forward (ip_forward = 0, IPv6 forwarding = 0); it runs the braid server (on its
# loopback, allow = the TGT subnet) and the braid client with redir listeners, and nftables
# redirects every TCP connection arriving from LAN, except to port 22, to them. A host on LAN
# with no proxy settings connects to TGT by its real address: 8 MiB arrive intact and an echo
# round trip works, TGT sees the connection coming from RTR, the braid server logs the stream to
# the original destination and the client's stats count it. Port 22 (not redirected) is not
# reachable from LAN although it is from RTR, so the only path is through braid. A connection
# made straight to the redir port is refused as "not redirected", also when it comes back from
# the braid server (the router's TGT-side address is in the allowed subnet): no loop. IPv6 the same way when the
# kernel supports it here.
# Needs root, `ip` and `nft`; prints SKIP and passes without them.
import json
import os
import re
import signal
import sys
import time

import harness as h
import netns as nn

SIZE = 8 * h.MiB
SEED = 88
PORT = 8080          # the data+echo service on TGT
SSH_PORT = 22        # a banner service on TGT that the rule does not redirect
REDIR4 = 12345
REDIR6 = 12346
ECHO_LEN = 64 * 1024
# Every wait is cut to what is left of this, so even a run where everything times out ends
# within about a minute (stretched under sanitizers).
_END = h._T0 + h.dl(55)


def budget(seconds):
    """seconds (stretched under sanitizers), cut to what is left of the test's minute."""
    return max(1.0, min(h.dl(seconds), _END - time.monotonic(), h.remaining()))


# Runs on TGT: on every address family available, PORT sends SIZE deterministic bytes then echoes
# until EOF; SSH_PORT sends a banner and closes. Logs "ready" and each connection's peer.
TGT_SERVER = r"""
import socket, sys, threading
sys.path.insert(0, sys.argv[1])
from harness import det_chunks
port, ssh_port, seed, size = (int(a) for a in sys.argv[2:6])

def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()

def data(c, peer):
    log("conn %d from %s" % (port, peer[0]))
    c.settimeout(30)
    try:
        for chunk in det_chunks(seed, size):
            c.sendall(chunk)
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        log("conn %d from %s: %s" % (port, peer[0], e))
    finally:
        c.close()

def banner(c, peer):
    log("conn %d from %s" % (ssh_port, peer[0]))
    try:
        c.sendall(b"SSH-2.0-braidtest\r\n")
    except OSError:
        pass
    c.close()

def serve(s, fn):
    while True:
        c, peer = s.accept()
        threading.Thread(target=fn, args=(c, peer), daemon=True).start()

socks = []
for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    for p, fn in ((port, data), (ssh_port, banner)):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, p))
            s.listen(64)
        except OSError as e:
            if fam == socket.AF_INET:
                raise
            log("no IPv6: %s" % e)
            continue
        socks.append(s)
        threading.Thread(target=serve, args=(s, fn), daemon=True).start()
log("ready %d sockets" % len(socks))
threading.Event().wait()
"""

# Runs on LAN (or RTR): prints one JSON line describing what happened.
#   fetch HOST PORT SIZE TIMEOUT: reads SIZE bytes (SHA-256), echo round trip, then EOF.
#   probe HOST PORT TIMEOUT: connects and reads until EOF (or 1 KiB).
LAN_CLIENT = r"""
import hashlib, json, socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
res = {}
try:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(float(sys.argv[-1]))
    s.connect((host, port))
    res["connected"] = True
    if mode == "fetch":
        size = int(sys.argv[4])
        hh, n = hashlib.sha256(), 0
        while n < size:
            b = s.recv(min(1 << 20, size - n))
            if not b:
                break
            hh.update(b)
            n += len(b)
        res["n"], res["sha"] = n, hh.hexdigest()
        msg = bytes((i * 7 + 3) % 251 for i in range(ECHO_LEN))
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(65536)
            if not b:
                break
            got += b
        res["echo_ok"], res["echo_len"] = got == msg, len(got)
        s.shutdown(socket.SHUT_WR)
        res["eof"] = s.recv(1) == b""
    else:
        got = b""
        while len(got) < 1024:
            b = s.recv(1024)
            if not b:
                break
            got += b
        res["data"] = got.decode("latin-1")
except Exception as e:
    res["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(res))
""".replace("ECHO_LEN", str(ECHO_LEN))


class Net:
    """The three namespaces, named after this process so parallel runs do not collide."""

    def __init__(self):
        pid = os.getpid()
        self.lan = nn.Netns("braidt-lan-%d" % pid)
        self.rtr = nn.Netns("braidt-rtr-%d" % pid)
        self.tgt = nn.Netns("braidt-tgt-%d" % pid)
        self.lan_if, self.rtr_lan_if = "bl%da" % pid, "bl%db" % pid
        self.rtr_tgt_if, self.tgt_if = "bt%da" % pid, "bt%db" % pid
        self.v6 = False
        self.v6_why = ""

    def build(self):
        for ns in (self.lan, self.rtr, self.tgt):
            ns.add()
        nn.veth(self.lan, self.lan_if, self.rtr, self.rtr_lan_if)
        nn.veth(self.rtr, self.rtr_tgt_if, self.tgt, self.tgt_if)
        self.rtr.sysctl("net.ipv4.ip_forward", 0)
        nn.up(self.lan, self.lan_if, "10.88.1.2/24")
        nn.up(self.rtr, self.rtr_lan_if, "10.88.1.1/24")
        nn.up(self.rtr, self.rtr_tgt_if, "10.88.2.1/24")
        nn.up(self.tgt, self.tgt_if, "10.88.2.2/24")
        self.lan.ip("route", "add", "default", "via", "10.88.1.1")
        self.tgt.ip("route", "add", "default", "via", "10.88.2.1")
        self.rtr.nft("table ip braidtest {\n chain pre {\n"
                     "  type nat hook prerouting priority dstnat;\n"
                     "  iifname \"%s\" tcp dport != %d redirect to :%d\n }\n}\n"
                     % (self.rtr_lan_if, SSH_PORT, REDIR4))
        try:
            self.rtr.sysctl("net.ipv6.conf.all.forwarding", 0)
            for ns, ifname, addr in ((self.lan, self.lan_if, "fd88:1::2/64"),
                                     (self.rtr, self.rtr_lan_if, "fd88:1::1/64"),
                                     (self.rtr, self.rtr_tgt_if, "fd88:2::1/64"),
                                     (self.tgt, self.tgt_if, "fd88:2::2/64")):
                nn.up(ns, ifname, addr)
            self.lan.ip("-6", "route", "add", "default", "via", "fd88:1::1")
            self.tgt.ip("-6", "route", "add", "default", "via", "fd88:2::1")
            self.rtr.nft("table ip6 braidtest6 {\n chain pre {\n"
                         "  type nat hook prerouting priority dstnat;\n"
                         "  iifname \"%s\" tcp dport != %d redirect to :%d\n }\n}\n"
                         % (self.rtr_lan_if, SSH_PORT, REDIR6))
            self.v6 = True
        except (nn.NetnsError, OSError) as e:
            self.v6_why = str(e)

    def destroy(self):
        for ns in (self.lan, self.rtr, self.tgt):
            try:
                ns.delete()
            except Exception as e:
                print("cleanup: deleting namespace %s: %s" % (ns.name, e), flush=True)


def lan_client(ns, *args, timeout=10):
    """Runs LAN_CLIENT in ns; returns its JSON result (or {"error": ...})."""
    t = budget(timeout) + 2
    argv = [sys.executable, "-c", LAN_CLIENT] + [str(a) for a in args] + [str(t - 2)]
    try:
        r = ns.run(argv, timeout=t + 5, check=False)
    except Exception as e:
        return {"error": "runner: %s: %s" % (type(e).__name__, e)}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no result: rc %d stdout %r stderr %r" % (r.returncode, r.stdout,
                                                                   r.stderr[-2000:])}


def probe(ns, host, port, timeout=2):
    timeout = budget(timeout)
    argv = [sys.executable, "-c", LAN_CLIENT, "probe", host, str(port), str(timeout)]
    r = ns.run(argv, timeout=timeout + 10, check=False)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no result: rc %d stderr %r" % (r.returncode, r.stderr[-2000:])}


def stats(client):
    """SIGUSR1 to the client (the PID of `ip netns exec`, which exec'd braid); returns the
    session stats line's match."""
    mark = client.mark()
    os.kill(client.pid, signal.SIGUSR1)
    return client.wait_for(r"stats: session \S+ .*streams_total (\d+) bytes_sent (\d+) "
                           r"bytes_received (\d+)", budget(5), since=mark)


def run():
    why = nn.missing_prereqs()
    if why:
        print("SKIP: %s" % why)
        return
    net = Net()
    try:
        net.build()
        with h.TempDir() as d:
            body(net, d)
    finally:
        net.destroy()


def body(net, d):
    # TGT service
    tgt = h.Proc(net.tgt.cmd([sys.executable, "-u", "-c", TGT_SERVER, h.HERE, str(PORT),
                              str(SSH_PORT), str(SEED), str(SIZE)]), "tgt", d)
    tgt.wait_for(r"^ready \d+ sockets", budget(10))

    # braid server and client, both on RTR
    pin = h.keygen(d)
    secret = h.make_secret()
    allow = ["10.88.2.0/24"] + (["fd88:2::/64"] if net.v6 else [])
    sconf = h.server_config(d, {"alice": secret}, allow=allow)
    server = h.Proc(net.rtr.cmd([h.BRAID, "server", "-c", sconf]), "server", d)
    sport = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", budget(10)).group(1))
    redirs = ["redir = 0.0.0.0:%d" % REDIR4] + (["redir = [::]:%d" % REDIR6] if net.v6 else [])
    cconf = h.client_config(d, sport, pin, "alice", secret, extra=redirs)
    client = h.Proc(net.rtr.cmd([h.BRAID, "client", "-c", cconf]), "client", d)
    client.wait_for(r"redir listening on 0\.0\.0\.0:%d\b" % REDIR4, budget(10))
    if net.v6:
        client.wait_for(r"redir listening on \[::\]:%d\b" % REDIR6, budget(10))
    client.wait_for(r"socks5 listening on 127\.0\.0\.1:\d+", budget(10))
    client.wait_for(r"session established", budget(10))
    want_sha = h.det_sha256(SEED, SIZE)

    def transfer(fam, host, rtr_addr):
        tmark, smark = tgt.mark(), server.mark()
        res = lan_client(net.lan, "fetch", host, PORT, SIZE)
        h.log("LAN -> %s:%d: %s" % (host, PORT, res))
        h.check(res.get("connected"), "%s: LAN connects to %s:%d: %s" % (fam, host, PORT, res))
        h.check_eq(res.get("n"), SIZE, "%s: bytes received on LAN" % fam)
        h.check_eq(res.get("sha"), want_sha, "%s: SHA-256 of the %d bytes" % (fam, SIZE))
        h.check(res.get("echo_ok"), "%s: echo round trip of %d bytes: %s" % (fam, ECHO_LEN, res))
        h.check(res.get("eof"), "%s: EOF after half-close: %s" % (fam, res))
        # TGT saw the connection coming from the router, i.e. from braid's dial
        m = tgt.find(r"^conn %d from (\S+)" % PORT, since=tmark)
        h.check_eq(m and m.group(1), rtr_addr, "%s: TGT's peer address (the router)" % fam)
        # the braid server dialled the original destination
        hp = "[%s]:%d" % (host, PORT) if ":" in host else "%s:%d" % (host, PORT)
        try:
            server.wait_for(r"stream \d+ .*-> %s: connected" % re.escape(hp), budget(5), since=smark)
        except TimeoutError as e:
            h.check(False, "%s: braid server logged no stream to %s: %s" % (fam, hp, e))

    def v4_transfer():
        transfer("IPv4", "10.88.2.2", "10.88.2.1")
        m = stats(client)
        h.log("client stats: %s" % m.group(0))
        h.check(int(m.group(1)) >= 1, "IPv4: client streams_total >= 1: %s" % m.group(0))
        h.check(int(m.group(3)) >= SIZE, "IPv4: client bytes_received >= %d: %s" % (SIZE, m.group(0)))
        h.check(client.find(r"no original destination|not redirected") is None,
                "IPv4: client refused a redirected connection:\n%s" % client.tail())

    def v4_no_bypass():
        h.check_eq(net.rtr.read_sysctl("net.ipv4.ip_forward"), "0", "RTR ip_forward")
        tmark = tgt.mark()
        # port 22 is up on TGT (reachable from the router itself) ...
        res = probe(net.rtr, "10.88.2.2", SSH_PORT)
        h.check(res.get("connected") and res.get("data", "").startswith("SSH-2.0-braidtest"),
                "RTR reaches TGT:22 directly: %s" % res)
        # ... but not from LAN: it is not redirected and the router does not forward
        res = probe(net.lan, "10.88.2.2", SSH_PORT)
        h.log("LAN -> 10.88.2.2:%d (not redirected): %s" % (SSH_PORT, res))
        h.check(not res.get("connected") and "error" in res,
                "LAN must not reach TGT:22 around braid: %s" % res)
        h.check(tgt.find(r"^conn %d from 10\.88\.1\.2" % SSH_PORT, since=tmark) is None,
                "TGT saw a connection from LAN itself")

    def not_redirected():
        cmark = client.mark()
        # the rule redirects LAN's connection to the router's own port 12345 to itself: the
        # original destination is the listener, which must not be tunnelled back to itself
        res = probe(net.lan, "10.88.1.1", REDIR4)
        h.log("LAN -> 10.88.1.1:%d: %s" % (REDIR4, res))
        h.check(res.get("connected") and res.get("data") == "",
                "accepted, then closed with no data: %s" % res)
        try:
            client.wait_for(r"redir \S+ 10\.88\.1\.2:\d+: connection was not redirected", budget(5),
                            since=cmark)
        except TimeoutError as e:
            h.check(False, "client did not log the unredirected connection: %s" % e)
        # the router's other address (inside the allowed TGT subnet): the braid server dials it,
        # reaching the redir listener without a redirect; that must end there, not loop
        cmark, smark = client.mark(), server.mark()
        res = probe(net.lan, "10.88.2.1", REDIR4)
        h.log("LAN -> 10.88.2.1:%d: %s" % (REDIR4, res))
        h.check(res.get("connected") and res.get("data") == "",
                "via the router's other address: accepted, then closed with no data: %s" % res)
        try:
            client.wait_for(r"redir \S+ 10\.88\.2\.1:\d+: connection was not redirected", budget(5),
                            since=cmark)
        except TimeoutError as e:
            h.check(False, "client did not stop the loop through 10.88.2.1:%d: %s" % (REDIR4, e))
        n = len(re.findall(r"-> 10\.88\.2\.1:%d: connected" % REDIR4,
                           "\n".join(server.lines[smark:])))
        h.check(n <= 1, "server dialled 10.88.2.1:%d %d times (a loop)" % (REDIR4, n))

    def v6_all():
        if not net.v6:
            print("SKIP (IPv6 part): IPv6 setup failed in the namespaces: %s" % net.v6_why,
                  flush=True)
            return
        before = int(stats(client).group(1))
        transfer("IPv6", "fd88:2::2", "fd88:2::1")
        m = stats(client)
        h.check(int(m.group(1)) > before, "IPv6: client streams_total grew: %d -> %s" % (
            before, m.group(0)))
        h.check_eq(net.rtr.read_sysctl("net.ipv6.conf.all.forwarding"), "0", "RTR IPv6 forwarding")
        res = probe(net.rtr, "fd88:2::2", SSH_PORT)
        h.check(res.get("connected") and res.get("data", "").startswith("SSH-2.0-braidtest"),
                "RTR reaches [fd88:2::2]:22 directly: %s" % res)
        res = probe(net.lan, "fd88:2::2", SSH_PORT)
        h.log("LAN -> [fd88:2::2]:%d (not redirected): %s" % (SSH_PORT, res))
        h.check(not res.get("connected") and "error" in res,
                "LAN must not reach [fd88:2::2]:22 around braid: %s" % res)

    h.run_cases([("IPv4: 8 MiB + echo from LAN to TGT through the redir listener", v4_transfer),
                 ("IPv4: no path from LAN to TGT around braid", v4_no_bypass),
                 ("connections to the redir listener itself are not tunnelled (no loop)", not_redirected),
                 ("IPv6: the same through a [::] redir listener", v6_all)])
    for p in (server, client):
        h.check(p.alive(), "%s still running:\n%s" % (p.name, p.tail()))


if __name__ == "__main__":
    h.main(run)
