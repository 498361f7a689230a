# SPDX-License-Identifier: MIT
# Helpers for the multi-link integration tests (striping, link loss, outage, server restart):
# the path emulator (tests/tools/pathemu.py) as a harness-tracked process with its control
# port, multi-link clients that wait for all K links, SIGUSR1 statistics parsed from the log,
# and binary-safe SOCKS5 download/upload clients with deterministic data and SHA-256 checks
# against local source/sink targets. Standard library only; builds on harness.py.
import hashlib
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

import harness as h

PATHEMU = os.path.join(h.HERE, "..", "tools", "pathemu.py")


# ---------------------------------------------------------------------------------------------
# path emulator

class Emu:
    """A running pathemu between a client and target_port. Attributes: proc (harness Proc,
    stopped by PID at cleanup), port (where clients connect), cport (control port)."""

    def __init__(self, d, target_port, rate=0, delay_ms=0, name="pathemu"):
        # The harness reads stderr; pathemu announces its ports on stdout. `exec` keeps the PID
        # the harness kills the emulator's own.
        cmd = "exec %s %s --listen 127.0.0.1:0 --target 127.0.0.1:%d --rate %d --delay-ms %d " \
              "--control 127.0.0.1:0 1>&2" % (sys.executable, PATHEMU, target_port, int(rate),
                                                int(delay_ms))
        self.proc = h.Proc(["sh", "-c", cmd], name, d)
        m = self.proc.wait_for(
            r"pathemu listening on 127\.0\.0\.1:(\d+) control 127\.0\.0\.1:(\d+)", h.dl(10))
        self.port, self.cport = int(m.group(1)), int(m.group(2))

    def control(self, cmd, timeout=5.0):
        """Sends one control command; returns the answer line."""
        with socket.create_connection(("127.0.0.1", self.cport), timeout=h.dl(timeout)) as s:
            s.sendall((cmd + "\n").encode())
            return s.makefile().readline().strip()

    def stats(self):
        return json.loads(self.control("stats"))

    def live(self):
        """The connections that are alive (dicts as in `stats`)."""
        return [c for c in self.stats()["connections"] if c["alive"]]

    def busiest(self, key, interval=0.3):
        """The live connection whose `key` ("up_bytes" or "down_bytes") grew most over interval
        s (ties and idle links: the one with the most in total). Returns (conn, growth)."""
        before = {c["id"]: c[key] for c in self.live()}
        time.sleep(interval)
        after = self.live()
        if not after:
            return None, 0
        best = max(after, key=lambda c: (c[key] - before.get(c["id"], 0), c[key]))
        return best, best[key] - before.get(best["id"], 0)


def start_emu(d, target_port, rate=0, delay_ms=0, name="pathemu"):
    return Emu(d, target_port, rate, delay_ms, name)


# ---------------------------------------------------------------------------------------------
# multi-link clients

LINK_UP_RE = r"link (\d+): (?:session established with|joined session|resumed session)"


def wait_links(proc, k, timeout, since=0):
    """Waits until k distinct links have logged "session established" / "joined session" /
    "resumed session" (from `since`). Returns the set of link ids."""
    deadline = time.monotonic() + h.limit(timeout)
    ids = set()
    i = since
    while True:
        with proc.cond:
            lines = proc.lines[i:]
        i += len(lines)
        for line in lines:
            m = re.search(LINK_UP_RE, line)
            if m:
                ids.add(int(m.group(1)))
        if len(ids) >= k:
            return ids
        if time.monotonic() > deadline:
            raise TimeoutError("%s: only %d of %d links up (%s) within %.1f s\n%s" % (
                proc.name, len(ids), k, sorted(ids), timeout, proc.tail()))
        if not proc.alive():
            raise TimeoutError("%s exited (rc %s) with %d of %d links up\n%s" % (
                proc.name, proc.p.poll(), len(ids), k, proc.tail()))
        time.sleep(0.05)


def start_ml_client(d, server_port, pin, secret, links, extra=(), tag="alice", timeout=None):
    """Starts client "alice" with `links = K` dialling 127.0.0.1:server_port and waits until all
    K links are up. Returns (proc, socks_port)."""
    client, socks = h.start_client(d, server_port, pin, "alice", secret,
                                   extra=("links = %d" % links,) + tuple(extra), tag=tag,
                                   timeout=timeout)
    wait_links(client, links, timeout or h.dl(20))
    return client, socks


# ---------------------------------------------------------------------------------------------
# SIGUSR1 statistics

_SESSION_RE = re.compile(
    r"stats: session (\w+) peer (\S+) links_up (\d+) streams_open (\d+) streams_total (\d+) "
    r"bytes_sent (\d+) bytes_received (\d+) resent_bytes (\d+)")
_LINK_RE = re.compile(
    r"stats: link (\d+) peer (\S+) state (\w+) rtt_ms ([\d.]+) rate_mbps ([\d.]+) "
    r"bytes_sent (\d+) bytes_received (\d+) resent_bytes (\d+)")


def stats(proc, timeout=5.0):
    """Sends SIGUSR1 to proc and parses what it logs. Returns {"session": {...}, "links":
    [{...}, ...]} (ints for counts, floats for rtt_ms and rate_mbps); the link lines are the
    ones that directly follow the first session line."""
    mark = proc.mark()
    os.kill(proc.pid, signal.SIGUSR1)
    proc.wait_for(r"stats: session ", h.dl(timeout), since=mark)
    # The link lines are logged in the same call; give the reader thread a moment.
    time.sleep(0.3)
    with proc.cond:
        lines = proc.lines[mark:]
    out = {"session": None, "links": [], "lines": []}
    for line in lines:
        if out["session"] is None:
            m = _SESSION_RE.search(line)
            if m:
                out["session"] = {
                    "id": m.group(1), "peer": m.group(2), "links_up": int(m.group(3)),
                    "streams_open": int(m.group(4)), "streams_total": int(m.group(5)),
                    "bytes_sent": int(m.group(6)), "bytes_received": int(m.group(7)),
                    "resent_bytes": int(m.group(8))}
                out["lines"].append(line)
            continue
        m = _LINK_RE.search(line)
        if not m:
            break
        out["lines"].append(line)
        out["links"].append({
            "id": int(m.group(1)), "peer": m.group(2), "state": m.group(3),
            "rtt_ms": float(m.group(4)), "rate_mbps": float(m.group(5)),
            "bytes_sent": int(m.group(6)), "bytes_received": int(m.group(7)),
            "resent_bytes": int(m.group(8))})
    if out["session"] is None:
        raise RuntimeError("%s: SIGUSR1 logged no parsable session line:\n%s" % (
            proc.name, "\n".join(lines)))
    return out


def show_stats(label, st):
    h.log("%s:" % label)
    for line in st["lines"]:
        print("    " + line, flush=True)


# ---------------------------------------------------------------------------------------------
# targets: a deterministic source and a hashing sink

REQ = struct.Struct(">QQ")   # source request: seed, size


def start_source_server():
    """Target that reads a 16-byte request (seed, size as two big-endian u64) and sends size
    bytes of harness.det_chunks(seed, size), then closes. Returns the port."""

    def handle(sock):
        req = h.recv_exact(sock, REQ.size)
        if len(req) < REQ.size:
            return
        seed, size = REQ.unpack(req)
        for c in h.det_chunks(seed, size):
            sock.sendall(c)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    return h.start_tcp_server(handle)


def start_sink_server():
    """Target that reads until EOF and answers "<sha256 hex> <byte count>\\n", then closes.
    Returns the port."""

    def handle(sock):
        hs = hashlib.sha256()
        n = h.read_to_eof(sock, hasher=hs)
        sock.sendall(("%s %d\n" % (hs.hexdigest(), n)).encode())
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    return h.start_tcp_server(handle)


# ---------------------------------------------------------------------------------------------
# transfers through SOCKS5

class Transfer:
    """One download or upload through the SOCKS5 proxy, run in a thread (start()) or inline
    (run()). Fields after it ends: ok (bool), error (str or None), count (bytes the test
    client received (download) / the sink counted (upload)), sha (hex), expect_sha, secs.
    `progress` is the byte count so far (received for downloads, handed to the socket for
    uploads); on_progress(n) is called from the transfer's thread."""

    def __init__(self, socks_port, target_port, seed, size, upload=False, timeout=60.0,
                 on_progress=None, name=None):
        self.socks_port = socks_port
        self.target_port = target_port
        self.seed = seed
        self.size = size
        self.upload = upload
        self.timeout = timeout
        self.on_progress = on_progress
        self.name = name or ("upload" if upload else "download")
        self.progress = 0
        self.ok = False
        self.error = None
        self.count = None
        self.sha = None
        self.expect_sha = h.det_sha256(seed, size)
        self.secs = None
        self.done = threading.Event()
        self.t_end = None
        self.sock = None
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout):
        self.done.wait(h.limit(timeout))
        return self.done.is_set()

    def _tick(self, n):
        self.progress += n
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def run(self):
        t0 = time.monotonic()
        try:
            s, rep = h.socks5_connect(self.socks_port, "127.0.0.1", self.target_port,
                                      timeout=h.dl(20))
            if rep != 0:
                raise RuntimeError("socks5 reply %d" % rep)
            self.sock = s
            t0 = time.monotonic()
            end = t0 + h.limit(h.dl(self.timeout))
            with s:
                if self.upload:
                    self._upload(s, end)
                else:
                    self._download(s, end)
            self.secs = time.monotonic() - t0
            self.ok = self.count == self.size and self.sha == self.expect_sha
            if not self.ok and self.error is None:
                self.error = "%d of %d bytes, sha %s, expected %s" % (
                    self.count or 0, self.size, (self.sha or "-")[:16], self.expect_sha[:16])
        except Exception as e:
            self.secs = time.monotonic() - t0
            self.error = "%s: %s (after %d bytes)" % (type(e).__name__, e, self.progress)
        finally:
            self.t_end = time.monotonic()
            self.done.set()

    def _settimeout(self, s, end):
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("transfer did not finish within %.0f s" % self.timeout)
        s.settimeout(left)

    def _download(self, s, end):
        s.sendall(REQ.pack(self.seed, self.size))
        hs = hashlib.sha256()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        n = 0
        while True:
            self._settimeout(s, end)
            try:
                k = s.recv_into(buf)
            except ConnectionResetError:
                raise ConnectionResetError("download reset by the proxy")
            if k == 0:
                break
            hs.update(view[:k])
            n += k
            self._tick(k)
        self.count = n
        self.sha = hs.hexdigest()

    def _upload(self, s, end):
        for c in h.det_chunks(self.seed, self.size, chunk=256 * 1024):
            self._settimeout(s, end)
            s.sendall(c)
            self._tick(len(c))
        s.shutdown(socket.SHUT_WR)
        self._settimeout(s, end)
        reply = b""
        while not reply.endswith(b"\n"):
            self._settimeout(s, end)
            b = s.recv(256)
            if not b:
                break
            reply += b
        parts = reply.decode("ascii", "replace").split()
        if len(parts) != 2:
            raise RuntimeError("sink answered %r" % reply)
        self.sha, self.count = parts[0], int(parts[1])

    def report(self):
        rate = (self.count or 0) / self.secs / 1e6 if self.secs else 0.0
        return "%s of %d MiB: %s in %.2f s (%.2f MB/s)" % (
            self.name, self.size // h.MiB, "intact" if self.ok else "FAILED (%s)" % self.error,
            self.secs or 0.0, rate)


def check_transfer(t, what):
    h.log(what + ": " + t.report())
    return h.check(t.ok, "%s: %s" % (what, t.error))


def echo_ok(socks_port, echo_port, what, size=1024, seed=5, timeout=10.0):
    """One SOCKS5 stream to the echo server: send size bytes, half-close, read them back.
    Returns the seconds it took, or None (a failure is recorded)."""
    t0 = time.monotonic()
    try:
        s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port, timeout=h.dl(timeout))
    except (OSError, h.Socks5Error) as e:
        h.check(False, "%s: socks5 connect: %s" % (what, e))
        return None
    if not h.check_eq(rep, 0, what + ": socks5 reply"):
        return None
    with s:
        data = h.det_bytes(seed, size)
        try:
            s.settimeout(h.limit(h.dl(timeout)))
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = h.read_to_eof(s, timeout=h.dl(timeout))
        except (OSError, TimeoutError) as e:
            h.check(False, "%s: %s" % (what, e))
            return None
    if not h.check(got == data, "%s: echo of %d bytes differs: got %d bytes sha %s"
                   % (what, size, len(got), h.sha256(got)[:16])):
        return None
    return time.monotonic() - t0


def setup(d, links, server_extra=(), client_extra=(), emu=None, listen="127.0.0.1:0"):
    """Keys, a server, optionally a path emulator (emu = (rate, delay_ms)) in front of it, and a
    K-link client through it. Returns a dict: pin, secret, server, server_port, emu (or None),
    client, socks."""
    pin = h.keygen(d)
    secret = h.make_secret()
    server, sport = h.start_server(d, {"alice": secret}, listen=listen, extra=server_extra)
    e = None
    dial = sport
    if emu is not None:
        e = start_emu(d, sport, rate=emu[0], delay_ms=emu[1])
        dial = e.port
    client, socks = start_ml_client(d, dial, pin, secret, links, extra=client_extra)
    return {"pin": pin, "secret": secret, "server": server, "server_port": sport, "emu": e,
            "client": client, "socks": socks}
