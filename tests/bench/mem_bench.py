#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Memory benchmark (not a test): the memory phases of peers_bench.py, with a breakdown.

    BRAID=build/braid python3 tests/bench/mem_bench.py [--peers braid,ss-aes] [--streams 500]
        [--many 10000] [--skip-many] [--json FILE]

Uses peers_bench's own peers, load generator (concurrent()) and RSS snapshot (VmRSS/VmHWM from
/proc/PID/status), so its figures are the ones `make bench` reports. Per peer, each phase on a
fresh instance (VmHWM is a lifetime peak):
  idle        1 s after start: VmRSS per end, plus /proc/PID/smaps_rollup (anonymous vs file
              pages) and the top mappings of /proc/PID/smaps by Rss
  streams_N   N x 64 KiB echo, 128 in flight, finished streams held open: peak (VmHWM) both
              ends; then every stream is closed and VmRSS is read again after 2 s
  streams_M   M x 64 B echo, held open: same
"""
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers_bench as pb  # noqa: E402

h = pb.h


def smaps(pid, top=8):
    """{"rollup": {field: KiB}, "top": [(KiB Rss, mapping)]} for pid."""
    out = {"rollup": {}, "top": []}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and p[2] == "kB":
                    out["rollup"][p[0].rstrip(":")] = int(p[1])
        cur, rows = None, {}
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                p = line.split()
                if not p:
                    continue
                if "-" in p[0] and len(p) >= 5 and not p[0].endswith(":"):
                    cur = (p[5] if len(p) >= 6 else "[anon]") + " " + p[1]
                elif p[0] == "Rss:" and cur:
                    rows[cur] = rows.get(cur, 0) + int(p[1])
        out["top"] = sorted(((v, k) for k, v in rows.items() if v), reverse=True)[:top]
    except OSError:
        pass
    return out


def show_smaps(label, pid):
    s = smaps(pid)
    r = s["rollup"]
    pb.log("  %s pid %d: Rss %s KiB = anon %s + file %s (+shmem %s); private %s, shared %s" % (
        label, pid, r.get("Rss"), r.get("Anonymous"), r.get("Rss", 0) - r.get("Anonymous", 0) -
        r.get("Shmem", 0), r.get("Shmem"), r.get("Private_Clean", 0) + r.get("Private_Dirty", 0),
        r.get("Shared_Clean", 0) + r.get("Shared_Dirty", 0)))
    for kib, name in s["top"]:
        pb.log("      %6d KiB  %s" % (kib, name))
    return s


def phase_idle(peer, d, R):
    peer.start(d)
    time.sleep(1.0)
    R["idle"] = pb.mem_snapshot(peer)
    R["idle_smaps"] = {}
    for end, pids in (("client", peer.client_pids()), ("server", peer.server_pids())):
        for pid in pids:
            R["idle_smaps"]["%s %d" % (end, pid)] = show_smaps(end, pid)
    pb.log("  %s idle RSS client %.2f MiB, server %.2f MiB" % (
        peer.label, R["idle"]["client"]["rss_kib"] / 1024.0,
        R["idle"]["server"]["rss_kib"] / 1024.0))
    peer.stop()


def phase_conc(peer, d, tports, n, payload, deadline, R, key):
    sport = peer.start(d)
    time.sleep(0.5)
    before = pb.mem_snapshot(peer)
    ok, failed, nd, secs, errs, peak = pb.concurrent(sport, tports["echo"], n, payload, 128,
                                                     deadline, at_peak=lambda: pb.mem_snapshot(peer))
    # concurrent() closed every stream on return: give the peers time to reap them
    time.sleep(2.0)
    after = pb.mem_snapshot(peer)
    hwm = peak["client"]["hwm_kib"] + peak["server"]["hwm_kib"]
    R[key] = {"n": n, "payload": payload, "ok": ok, "failed": failed, "not_done": nd,
              "seconds": secs, "errors": errs, "before": before, "peak": peak, "after": after,
              "hwm_both_kib": hwm}
    pb.log("  %s: %d x %d B: %d ok, %d failed, %d not done in %.1f s; before %.1f+%.1f MiB, "
           "at peak RSS %.1f+%.1f, VmHWM both %.1f MiB, after close %.1f+%.1f MiB %s" % (
               peer.label, n, payload, ok, failed, nd, secs,
               before["client"]["rss_kib"] / 1024.0, before["server"]["rss_kib"] / 1024.0,
               peak["client"]["rss_kib"] / 1024.0, peak["server"]["rss_kib"] / 1024.0,
               hwm / 1024.0, after["client"]["rss_kib"] / 1024.0,
               after["server"]["rss_kib"] / 1024.0, errs or ""))
    if isinstance(peer, pb.Braid) and ok < n:
        print(peer.logs(20), flush=True)
    peer.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", default="braid", help="comma list: braid,ss-aes,ss-chacha")
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--many", type=int, default=10000)
    ap.add_argument("--skip-many", action="store_true")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(pb.NOFILE, hard) if hard != resource.RLIM_INFINITY else pb.NOFILE
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    src = os.path.abspath(os.environ.get("BRAID") or os.path.join(HERE, "..", "..", "build", "braid"))
    cand = {"braid": lambda: pb.Braid(),
            "ss-aes": lambda: pb.Shadowsocks("aes-256-gcm", "aes-256-gcm"),
            "ss-chacha": lambda: pb.Shadowsocks("chacha20-ietf-poly1305", "chacha20-poly1305")}
    res = {}
    tmp = tempfile.mkdtemp(prefix="braid-mem-")
    try:
        h.BRAID = os.path.join(tmp, "braid")
        shutil.copy(src, h.BRAID)
        tgt = h.Proc([sys.executable, os.path.join(HERE, "peers_target.py")], "target", tmp)
        m = tgt.wait_for(r"peers_target echo (\d+) source (\d+) sink (\d+)", 10)
        tports = {"echo": int(m.group(1)), "source": int(m.group(2)), "sink": int(m.group(3))}
        for key in [k for k in a.peers.split(",") if k]:
            peer = cand[key]()
            R = res.setdefault(peer.label, {})
            d = tempfile.mkdtemp(prefix="m-", dir=tmp)
            pb.log("== %s" % peer.label)
            phase_idle(peer, d, R)
            phase_conc(peer, d, tports, a.streams, 64 * 1024, 30, R, "streams_%d" % a.streams)
            if not a.skip_many:
                phase_conc(peer, d, tports, a.many, 64, 120, R, "streams_%d" % a.many)
    finally:
        h.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
