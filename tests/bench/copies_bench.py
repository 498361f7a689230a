#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Data-path cost benchmark (not a test): how much CPU braid spends per byte it relays.

    BRAID=build/braid python3 tests/bench/copies_bench.py [--mib 256] [--callgrind-mib 32]
                                                          [--runs 3] [--json FILE]

A braid server + client on loopback (harness keys and configs, verbose 1); one SOCKS5 stream
per direction carries --mib MiB of random (incompressible) bytes:
  up    the bench's source -> SOCKS -> braid client -> TLS link -> braid server -> sink target
  down  a source target -> braid server -> TLS link -> braid client -> SOCKS -> the bench's sink
Reported per direction: CPU seconds (utime + stime from /proc/PID/stat, both braid processes,
so a busy shared machine does not skew it as wall time would) per GiB, the best of --runs.

With --callgrind-mib N (0 = skip), both braid processes run again under callgrind; counters are
zeroed after the session is up and dumped after the transfer, so the figures are the transfer's
alone: instructions per MiB per process and direction, and the top functions by inclusive and
self cost (memcpy's share especially). The output files stay in --keep DIR when given.
Every process is started through the harness and killed by PID; every wait is bounded.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness as h  # noqa: E402

h.BUDGET_S = 3600
MiB = 1 << 20
GiB = 1 << 30
CLK = os.sysconf("SC_CLK_TCK")
BLOCK = os.urandom(MiB)
T0 = time.monotonic()


def log(msg):
    print("[%6.1f s] %s" % (time.monotonic() - T0, msg), flush=True)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    rest = st[st.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK


def send_n(s, n):
    mv = memoryview(BLOCK)
    left = n
    while left > 0:
        k = min(left, MiB)
        s.sendall(mv[:k])
        left -= k


def expected_crc(n):
    crc, left = 0, n
    while left > 0:
        k = min(left, MiB)
        crc = zlib.crc32(BLOCK[:k], crc)
        left -= k
    return crc


def recv_all(s, deadline):
    buf = bytearray(MiB)
    mv = memoryview(buf)
    n, crc = 0, 0
    while time.monotonic() < deadline:
        k = s.recv_into(mv)
        if k == 0:
            return n, crc
        crc = zlib.crc32(mv[:k], crc)
        n += k
    raise TimeoutError("no EOF within the deadline (%d bytes so far)" % n)


class Target:
    """One-connection-at-a-time target: mode "sink" reads to EOF, "source" sends n bytes."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.ls.settimeout(1.0)
        self.port = self.ls.getsockname()[1]
        self.mode, self.n, self.result, self.done = None, 0, None, threading.Event()
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        h.at_cleanup(self.close)

    def expect(self, mode, n):
        self.mode, self.n, self.result = mode, n, None
        self.done.clear()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(600)
            try:
                if self.mode == "sink":
                    self.result = recv_all(c, time.monotonic() + 600)
                else:
                    send_n(c, self.n)
                    c.shutdown(socket.SHUT_WR)
                    c.settimeout(30)
                    while c.recv(65536):
                        pass
                    self.result = (self.n, None)
            except Exception as e:  # reported by the waiter
                self.result = e
            finally:
                c.close()
                self.done.set()

    def close(self):
        self.stop = True
        self.ls.close()


def one_transfer(socks_port, target, direction, n):
    target.expect("sink" if direction == "up" else "source", n)
    s, rep = h.socks5_connect(socks_port, "127.0.0.1", target.port, timeout=20)
    if rep != 0:
        raise RuntimeError("SOCKS connect failed: reply %d" % rep)
    s.settimeout(600)
    try:
        if direction == "up":
            send_n(s, n)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(60)
            while s.recv(65536):
                pass
        else:
            got, crc = recv_all(s, time.monotonic() + 600)
            if got != n or crc != expected_crc(n):
                raise RuntimeError("down: got %d bytes crc %08x, want %d crc %08x"
                                   % (got, crc, n, expected_crc(n)))
    finally:
        s.close()
    if not target.done.wait(120):
        raise RuntimeError("target did not finish")
    if isinstance(target.result, Exception):
        raise target.result
    if direction == "up":
        got, crc = target.result
        if got != n or crc != expected_crc(n):
            raise RuntimeError("up: target got %d bytes crc %08x, want %d crc %08x"
                               % (got, crc, n, expected_crc(n)))


def start_pair(d, wrap_server=(), wrap_client=(), timeout=10):
    pin = h.keygen(d)
    secret = h.make_secret()
    sconf = h.server_config(d, {"alice": secret}, verbose=1)
    server = h.Proc(list(wrap_server) + [h.BRAID, "server", "-c", sconf], "server", d)
    port = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", timeout).group(1))
    cconf = h.client_config(d, port, pin, "alice", secret, connect_reply="early", verbose=1)
    client = h.Proc(list(wrap_client) + [h.BRAID, "client", "-c", cconf], "client", d)
    sport = int(client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", timeout).group(1))
    client.wait_for(r"session established", timeout)
    return server, client, sport


def cpu_bench(n, runs):
    out = {}
    with h.TempDir() as d:
        server, client, sport = start_pair(d)
        target = Target()
        one_transfer(sport, target, "up", 4 * MiB)  # warm up: windows, session tickets
        one_transfer(sport, target, "down", 4 * MiB)
        for direction in ("up", "down"):
            best = None
            for r in range(runs):
                c0, s0, t0 = cpu_s(client.pid), cpu_s(server.pid), time.monotonic()
                one_transfer(sport, target, direction, n)
                c1, s1, t1 = cpu_s(client.pid), cpu_s(server.pid), time.monotonic()
                per = {"client": (c1 - c0) * GiB / n, "server": (s1 - s0) * GiB / n,
                       "wall_mbps": n / MiB / (t1 - t0)}
                per["total"] = per["client"] + per["server"]
                log("%-4s run %d: client %.3f + server %.3f = %.3f CPU s/GiB (%.0f MiB/s wall)"
                    % (direction, r + 1, per["client"], per["server"], per["total"],
                       per["wall_mbps"]))
                if best is None or per["total"] < best["total"]:
                    best = per
            out[direction] = best
    return out


CG_FN = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")


def annotate(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100"]
    if inclusive:
        args.append("--inclusive=yes")
    r = subprocess.run(args + [path], capture_output=True, text=True, timeout=120)
    total, fns = 0, []
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(\(.*\))?\s*PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = CG_FN.match(line)
        if m:
            fns.append((int(m.group(1).replace(",", "")), float(m.group(2)), m.group(3).strip()))
    return total, fns


def short(fn):
    fn = re.sub(r"^.*?:", "", fn, count=1) if ":" in fn.split(" ")[0] else fn
    fn = re.sub(r"\s*\[[^\]]*\]\s*$", "", fn)
    return fn[:90]


def callgrind_bench(n, keep):
    res = {}
    base = keep or None
    for direction in ("up", "down"):
        with h.TempDir() as d:
            outd = base or d
            os.makedirs(outd, exist_ok=True)
            files = {r: os.path.join(outd, "callgrind.%s.%s" % (direction, r))
                     for r in ("server", "client")}
            wrap = {r: ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + files[r] + ".%p"]
                    for r in files}
            server, client, sport = start_pair(d, wrap["server"], wrap["client"], timeout=120)
            target = Target()
            one_transfer(sport, target, direction, 2 * MiB)  # warm up
            for p in (server, client):
                subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True,
                               timeout=60)
            one_transfer(sport, target, direction, n)
            for r, p in (("server", server), ("client", client)):
                subprocess.run(["callgrind_control", "-d", "transfer", str(p.pid)],
                               capture_output=True, timeout=120)
            time.sleep(1)
            for r, p in (("server", server), ("client", client)):
                dumps = sorted(f for f in os.listdir(outd)
                               if f.startswith("callgrind.%s.%s.%d." % (direction, r, p.pid)))
                if not dumps:
                    raise RuntimeError("no callgrind dump for %s" % r)
                path = os.path.join(outd, dumps[-1])
                total, incl = annotate(path, True)
                _, self_ = annotate(path, False)
                # Functions on the stack when the counters were zeroed show ~100 % "self" in
                # a mid-run dump; they are frames, not costs.
                self_ = [x for x in self_ if x[1] < 99]
                memcpy = sum(c for c, _, fn in self_ if "memcpy" in fn or "memmove" in fn)
                crypto = sum(c for c, _, fn in self_ if "libmbedcrypto" in fn or "libcrypto" in fn)
                res["%s/%s" % (direction, r)] = {
                    "ir_per_mib": total / (n / MiB), "memcpy_share": memcpy / total if total else 0,
                    "crypto_share": crypto / total if total else 0,
                    "top_inclusive": [(short(fn), pct) for _, pct, fn in incl if pct < 99][:14],
                    "top_self": [(short(fn), pct) for _, pct, fn in self_[:12]]}
            for p in (client, server):
                p.kill()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--callgrind-mib", type=int, default=32)
    ap.add_argument("--keep", default="")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    r = subprocess.run([h.BRAID, "version"], capture_output=True, text=True, timeout=10)
    log("braid: %s %s" % (h.BRAID, r.stdout.strip().replace("\n", " ")))
    out = {"version": r.stdout.strip(), "mib": a.mib}
    out["cpu"] = cpu_bench(a.mib * MiB, a.runs)
    if a.callgrind_mib:
        out["callgrind"] = callgrind_bench(a.callgrind_mib * MiB, os.path.abspath(a.keep) if a.keep else "")
        out["callgrind_mib"] = a.callgrind_mib
    print()
    print("CPU s per GiB (best of %d, %d MiB per run)" % (a.runs, a.mib))
    print("  %-5s %8s %8s %8s %10s" % ("dir", "client", "server", "total", "MiB/s wall"))
    for d in ("up", "down"):
        c = out["cpu"][d]
        print("  %-5s %8.3f %8.3f %8.3f %10.0f" % (d, c["client"], c["server"], c["total"], c["wall_mbps"]))
    if a.callgrind_mib:
        print()
        print("callgrind, %d MiB per direction (transfer only)" % a.callgrind_mib)
        for k, v in out["callgrind"].items():
            print("  %-12s %12.0f Ir/MiB   libc memcpy+memmove %.1f %%   crypto library %.1f %%"
                  % (k, v["ir_per_mib"], 100 * v["memcpy_share"], 100 * v["crypto_share"]))
        for k, v in out["callgrind"].items():
            print("\n  %s: top inclusive" % k)
            for fn, pct in v["top_inclusive"]:
                print("    %6.2f %%  %s" % (pct, fn))
            print("  %s: top self" % k)
            for fn, pct in v["top_self"]:
                print("    %6.2f %%  %s" % (pct, fn))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    h.cleanup()


if __name__ == "__main__":
    try:
        main()
    finally:
        h.cleanup()
