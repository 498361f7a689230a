#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Forward benchmark (not a test): one bulk download on loopback through each kind of forward,
# beside the same download without a tunnel: `forward` (-L, client -> server -> target),
# `remote-forward` (-R, server -> client -> target) and `peer-forward` (client A -> server ->
# client B -> target, spliced in the server). Reports MB/s and the CPU seconds per GiB of every
# braid process involved (from /proc). Prints a table and writes JSON (--json FILE).
import argparse
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness as h  # noqa: E402

h.BUDGET_S = 600
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def source_server(nbytes):
    chunk = os.urandom(1 << 20)

    def handle(sock):
        left = nbytes
        while left > 0:
            n = min(left, len(chunk))
            sock.sendall(chunk[:n])
            left -= n
        sock.shutdown(socket.SHUT_WR)
    return h.start_tcp_server(handle)


def download(port, nbytes):
    got = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)
    if got != nbytes:
        raise RuntimeError("got %d of %d bytes" % (got, nbytes))


def measure(port, nbytes, pids, runs):
    best = None
    for _ in range(runs):
        c0, t0 = cpu_s(pids), time.monotonic()
        download(port, nbytes)
        t, c = time.monotonic() - t0, cpu_s(pids) - c0
        r = (nbytes / t / 1e6, c / (nbytes / 2**30))
        best = r if best is None or r[0] > best[0] else best
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    n = a.mib << 20
    results = {}
    with h.TempDir() as d:
        pin = h.keygen(d)
        sa, sb = h.make_secret(), h.make_secret()
        src = source_server(n)
        server, sport = h.start_server(d, {"a": sa, "b": sb + " expose=127.0.0.1:%d" % src})
        pr = h.free_port()
        cb, _ = h.start_client(d, sport, pin, "b", sb)
        ca, _ = h.start_client(d, sport, pin, "a", sa, extra=(
            "forward = 0:127.0.0.1:%d" % src, "remote-forward = %d:127.0.0.1:%d" % (pr, src),
            "peer-forward = 0:b:127.0.0.1:%d" % src))
        fl = int(ca.wait_for(r"forward to 127\.0\.0\.1:%d listening on 127\.0\.0\.1:(\d+)" % src, 10).group(1))
        fp = int(ca.wait_for(r"peer-forward to 127\.0\.0\.1:%d via b listening on 127\.0\.0\.1:(\d+)" % src, 10).group(1))
        ca.wait_for(r"the server listens on 127\.0\.0\.1:%d" % pr, 10)
        cases = [("direct (no tunnel)", src, []),
                 ("forward (-L)", fl, [server.pid, ca.pid]),
                 ("remote-forward (-R)", pr, [server.pid, ca.pid]),
                 ("peer-forward (A -> server -> B)", fp, [server.pid, ca.pid, cb.pid])]
        print("%-34s %10s %14s" % ("path, %d MiB, best of %d" % (a.mib, a.runs), "MB/s", "CPU s/GiB"))
        for name, port, pids in cases:
            mbs, cpu = measure(port, n, pids, a.runs)
            results[name] = {"mb_s": round(mbs, 1), "cpu_s_per_gib": round(cpu, 2), "processes": len(pids)}
            print("%-34s %10.1f %14.2f" % (name, mbs, cpu))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    h.main(main)
