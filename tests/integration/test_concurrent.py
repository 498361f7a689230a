# SPDX-License-Identifier: MIT
# 200 SOCKS5 streams open at once in one session, each carrying its own 64 KiB to a local echo
# server and back; every stream must return exactly its own bytes.
import socket
import threading
import time

import harness as h

STREAMS = 200
SIZE = 64 * 1024


def run_streams(socks_port, echo_port, label):
    end = time.monotonic() + h.limit(h.dl(45))  # the whole case
    barrier = threading.Barrier(STREAMS, timeout=h.limit(h.dl(30)))
    results = [None] * STREAMS  # None = not finished, True = ok, str = failure

    def worker(i):
        data = h.det_bytes(50000 + i, SIZE)
        s = None
        try:
            s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port,
                                      timeout=end - time.monotonic())
            if rep != 0:
                results[i] = "socks5 reply %d" % rep
                barrier.abort()
                return
            # every stream is open before any data flows
            barrier.wait()
            s.settimeout(max(1.0, end - time.monotonic()))
            err = []

            def send():
                try:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    err.append(e)

            wt = threading.Thread(target=send, daemon=True)
            wt.start()
            got = h.read_to_eof(s, max_bytes=2 * SIZE, timeout=end - time.monotonic())
            wt.join(max(0.1, end - time.monotonic()))
            if err:
                results[i] = "send failed: %r" % err[0]
            elif got != data:
                results[i] = "echo mismatch: got %d bytes sha %s, sent %d bytes sha %s" % (
                    len(got), h.sha256(got)[:16], len(data), h.sha256(data)[:16])
            else:
                results[i] = True
        except threading.BrokenBarrierError:
            results[i] = "barrier broken (another stream failed to open in time)"
        except Exception as e:
            results[i] = "%s: %s" % (type(e).__name__, e)
            barrier.abort()
        finally:
            if s is not None:
                s.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(STREAMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, end + 2 - time.monotonic()))
    ok = sum(1 for r in results if r is True)
    h.log("%s: %d/%d streams ok in %.1f s" % (label, ok, STREAMS, time.monotonic() - t0))
    h.check_eq(ok, STREAMS, "%s: streams that echoed their own data" % label)
    shown = 0
    for i, r in enumerate(results):
        if r is not True and shown < 10:
            print("  stream %d: %s" % (i, r if r is not None else "did not finish in time"))
            shown += 1


def test():
    with h.Tunnel(connect_reply="confirmed") as t:
        echo_port = h.start_echo_server()
        early, early_port = t.second_client(connect_reply=None, tag="carol-early")
        h.run_cases([
            ("200 concurrent streams, connect-reply=confirmed",
             lambda: run_streams(t.socks_port, echo_port, "confirmed")),
            ("200 concurrent streams, connect-reply=early",
             lambda: run_streams(early_port, echo_port, "early")),
        ])
        h.check(t.server.alive(), "server still running")
        h.check(t.client.alive() and early.alive(), "clients still running")


if __name__ == "__main__":
    h.main(test)
