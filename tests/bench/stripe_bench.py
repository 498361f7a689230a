#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Striping benchmark (not a test): single-stream goodput through the path emulator with a
# per-connection rate cap and one-way delay, for K = 1, 2, 4, 8 links, and the time a transfer
# stalls when one of its links dies. Prints a table and writes JSON (--json FILE).
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness as h  # noqa: E402

h.BUDGET_S = 900
PATHEMU = os.path.join(HERE, "..", "tools", "pathemu.py")


def start_emu(d, target_port, rate, delay):
    # The harness reads stderr; pathemu announces its ports on stdout.
    cmd = "exec %s %s --listen 127.0.0.1:0 --target 127.0.0.1:%d --rate %d --delay-ms %d 1>&2" % (
        sys.executable, PATHEMU, target_port, rate, delay)
    p = h.Proc(["sh", "-c", cmd], "pathemu", d)
    m = p.wait_for(r"pathemu listening on 127\.0\.0\.1:(\d+) control 127\.0\.0\.1:(\d+)", 10)
    return p, int(m.group(1)), int(m.group(2))


def control(cport, cmd):
    with socket.create_connection(("127.0.0.1", cport), timeout=5) as s:
        s.sendall((cmd + "\n").encode())
        return s.makefile().readline().strip()


def source_server(nbytes):
    """A target that sends nbytes of zeros to every connection, then closes."""
    chunk = bytes(1 << 20)

    def handle(sock):
        left = nbytes
        while left > 0:
            n = min(left, len(chunk))
            sock.sendall(chunk[:n])
            left -= n
    return h.start_tcp_server(handle)


def download(socks_port, port, nbytes, on_progress=None):
    s, rep = h.socks5_connect(socks_port, "127.0.0.1", port)
    if rep != 0:
        raise RuntimeError("socks reply %d" % rep)
    got, t0, gaps, last = 0, time.monotonic(), [], time.monotonic()
    s.settimeout(60)
    while got < nbytes:
        b = s.recv(1 << 20)
        if not b:
            break
        now = time.monotonic()
        gaps.append((now, now - last))
        last = now
        got += len(b)
        if on_progress:
            on_progress(got)
    s.close()
    return got, time.monotonic() - t0, gaps


def run_k(d, pin, secret, server_port, k, rate, delay, size):
    emu, eport, cport = start_emu(d, server_port, rate, delay)
    client, socks = h.start_client(d, eport, pin, "alice", secret, extra=("links = %d" % k,),
                                   tag="k%d" % k)
    client.wait_count(r"joined session", k - 1, 20)
    port = source_server(size)
    got, secs, _ = download(socks, port, size)
    client.stop()
    emu.stop()
    return got / secs


def recovery(d, pin, secret, server_port, rate, delay, size):
    emu, eport, cport = start_emu(d, server_port, rate, delay)
    client, socks = h.start_client(d, eport, pin, "alice", secret, extra=("links = 4",), tag="rec")
    client.wait_count(r"joined session", 3, 20)
    port = source_server(size)
    killed = {}

    def progress(got):
        if not killed and got > size // 3:
            st = json.loads(control(cport, "stats"))
            live = [c for c in st["connections"] if c["alive"]]
            victim = max(live, key=lambda c: c["down_bytes"])
            killed["at"] = time.monotonic()
            control(cport, "kill %d" % victim["id"])
    got, secs, gaps = download(socks, port, size, progress)
    after = [g for t, g in gaps if t >= killed.get("at", 0)]
    client.stop()
    emu.stop()
    return got == size, max(after) if after else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=4000000)
    ap.add_argument("--delay", type=int, default=20)
    ap.add_argument("--mib-per-link", type=int, default=12)
    ap.add_argument("--links", default="1,2,4,8")
    ap.add_argument("--json")
    a = ap.parse_args()
    res = {"rate": a.rate, "delay_ms": a.delay, "goodput": {}}
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret})
        try:
            print("cap %.1f MB/s per connection, %d ms one-way delay" % (a.rate / 1e6, a.delay))
            for k in [int(x) for x in a.links.split(",")]:
                size = a.mib_per_link * k * h.MiB
                bps = run_k(d, pin, secret, sport, k, a.rate, a.delay, size)
                ratio = bps / (k * a.rate)
                res["goodput"][k] = {"bytes_per_s": bps, "ratio_of_k_caps": ratio}
                print("K=%d  %7.2f MB/s  %.2f x K x cap" % (k, bps / 1e6, ratio), flush=True)
            ok, stall = recovery(d, pin, secret, sport, a.rate, a.delay, 48 * h.MiB)
            res["recovery"] = {"intact_length": ok, "longest_stall_s": stall}
            print("link killed mid-transfer (K=4): complete=%s, longest stall after the kill %.2f s"
                  % (ok, stall or -1))
        finally:
            h.cleanup()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
