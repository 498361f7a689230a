# SPDX-License-Identifier: MIT
# Small streams beside a bulk one: a client with links = 2 behind the path emulator (4 MB/s per
# connection and direction, 20 ms one-way delay) runs a 256 MiB download (>= 33.5 s at the 8 MB/s
# of both links together). While it runs, 50 small request/response streams one after another
# (SOCKS5 connect to an echo server, 1 KiB there and back) each complete within 5 s, and all 50
# finish before the bulk download does; the bulk download arrives intact. Latencies are printed.
# The bulk download is 256 MiB, not 64: a small stream takes two round trips through full queues
# (the emulator's 145 KB plus up to ~700 KB in its paused socket's receive buffer, i.e. 36-250 ms
# at 4 MB/s each way), so 50 of them need 8-25 s: measured on 2 busy cores, 8-24 s (median
# 100-450 ms each), as long as or longer than 64 MiB takes at 8 MB/s.
import statistics
import threading
import time

import harness as h
import multilink as ml

LINKS = 2
RATE = 4000000
DELAY_MS = 20
BULK = 256 * h.MiB
BULK_FIRST = 2 * h.MiB   # the small streams start once the bulk one is this far
SMALL_N = 50
SMALL_SIZE = 1024
SMALL_S = 5.0
TRANSFER_S = 80      # hang guard; 256 MiB at 8 MB/s takes 33.5 s


def test():
    with h.TempDir() as d:
        env = ml.setup(d, LINKS, emu=(RATE, DELAY_MS))
        client, server, socks = env["client"], env["server"], env["socks"]
        source = ml.start_source_server()
        echo = h.start_echo_server()

        def baseline():
            lat = []
            for i in range(10):
                el = ml.echo_ok(socks, echo, "idle small stream %d" % (i + 1), size=SMALL_SIZE,
                                seed=900 + i, timeout=SMALL_S)
                if el is None:
                    return
                lat.append(el)
            h.log("idle links: 10 small streams, median %.0f ms, max %.0f ms (informational)"
                  % (1000 * statistics.median(lat), 1000 * max(lat)))

        def beside():
            started = threading.Event()
            bulk = ml.Transfer(socks, source, seed=61, size=BULK, timeout=TRANSFER_S,
                               name="bulk download",
                               on_progress=lambda n: n >= BULK_FIRST and started.set())
            bulk.start()
            if not h.check(started.wait(h.limit(h.dl(20))),
                           "bulk download: 2 MiB not reached within 20 s (%d bytes; %s)"
                           % (bulk.progress, bulk.error)):
                bulk.join(TRANSFER_S)
                return
            t0 = time.monotonic()
            lat = []
            for i in range(SMALL_N):
                el = ml.echo_ok(socks, echo, "small stream %d" % (i + 1), size=SMALL_SIZE,
                                seed=1000 + i, timeout=SMALL_S)
                if el is None:
                    break
                lat.append(el)
                h.check(el <= h.dl(SMALL_S), "small stream %d took %.2f s (limit %.0f s)"
                        % (i + 1, el, SMALL_S))
            t_small = time.monotonic()
            bulk_at = bulk.progress
            bulk_done = bulk.done.is_set()
            h.log("%d small streams in %.2f s: median %.0f ms, max %.0f ms; bulk at %.1f MiB%s"
                  % (len(lat), t_small - t0, 1000 * statistics.median(lat) if lat else -1,
                     1000 * max(lat) if lat else -1, bulk_at / h.MiB,
                     " (already finished)" if bulk_done else ""))
            print("    latencies (ms), in order: %s" % " ".join("%.0f" % (1000 * x) for x in lat),
                  flush=True)
            h.check_eq(len(lat), SMALL_N, "small streams completed")
            h.check(not bulk_done, "the bulk download finished (%s) before the last small "
                    "stream, so the small streams did not all run beside it"
                    % (bulk.report() if bulk_done else ""))
            bulk.join(TRANSFER_S)
            h.check(bulk.done.is_set(), "bulk download still running")
            ml.check_transfer(bulk, "bulk download")
            if bulk.t_end is not None:
                h.log("bulk download ended %.2f s after the last small stream"
                      % (bulk.t_end - t_small))
            ml.show_stats("client stats", ml.stats(client))

        h.run_cases([
            ("10 small streams on idle links (baseline)", baseline),
            ("50 small streams beside a 256 MiB download", beside),
        ])
        h.check(client.alive(), "client still running")
        h.check(server.alive(), "server still running")


if __name__ == "__main__":
    h.main(test)
