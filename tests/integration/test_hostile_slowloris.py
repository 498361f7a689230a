# SPDX-License-Identifier: MIT
# Slowloris on the SOCKS5 listener: 2,000 connections each send one byte of a greeting (b"\x05")
# and then nothing. The client (run with `ulimit -n 8192` so it can hold them) must keep serving
# normal SOCKS5 requests while they hang, and must close each of them at the SOCKS head deadline
# (SOCKS_HEAD_DEADLINE_S = 10 s, limits.h): not before ~10 s, and at least 99 % within 15 s.
import os
import select
import socket
import threading
import time

import harness as h

CONNS = 2000
DEADLINE_S = 10  # SOCKS_HEAD_DEADLINE_S


raise_nofile, ulimit_argv, proc_nofile = h.raise_nofile, h.ulimit_argv, h.proc_nofile


def start_server_ulimit(d, clients, nofile):
    conf = h.server_config(d, clients)
    p = h.Proc(ulimit_argv(nofile, [h.BRAID, "server", "-c", conf]), "server", d)
    m = p.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10))
    return p, int(m.group(1))


def start_client_ulimit(d, sport, pin, name, secret, nofile):
    conf = h.client_config(d, sport, pin, name, secret)
    p = h.Proc(ulimit_argv(nofile, [h.BRAID, "client", "-c", conf]), "client-" + name, d)
    m = p.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", h.dl(10))
    p.wait_for(r"session established", h.dl(10))
    return p, int(m.group(1))


def echo_roundtrip(socks_port, echo_port, data, what):
    t0 = time.monotonic()
    try:
        s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port, timeout=h.dl(10))
    except (OSError, h.Socks5Error) as e:
        h.check(False, "%s: SOCKS5 request failed: %s" % (what, e))
        return None
    if not h.check_eq(rep, 0, what + ": SOCKS5 reply"):
        return None
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = h.read_to_eof(s, timeout=h.dl(10))
    finally:
        s.close()
    el = time.monotonic() - t0
    h.check(got == data, "%s: echo returned %d bytes, sent %d (equal: %s)"
            % (what, len(got), len(data), got == data))
    h.log("%s: round trip of %d bytes in %.3f s" % (what, len(data), el))
    return el


def test():
    nofile = raise_nofile(16384)
    h.log("open file limit of the test process: %d" % nofile)
    h.check(nofile >= CONNS + 200, "the test needs %d open files, the hard limit allows %d"
            % (CONNS + 200, nofile))
    braid_nofile = min(8192, nofile)
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        echo_port = h.start_echo_server()
        server, sport = start_server_ulimit(d, {"alice": secret}, braid_nofile)
        client, socks_port = start_client_ulimit(d, sport, pin, "alice", secret, braid_nofile)
        h.log("braid open file limits: server %d, client %d"
              % (proc_nofile(server.pid), proc_nofile(client.pid)))
        h.check(proc_nofile(client.pid) >= CONNS + 100, "client's open file limit %d"
                % proc_nofile(client.pid))

        echo_roundtrip(socks_port, echo_port, h.det_bytes(1, 65536), "before the flood")

        socks = []          # (socket, time the byte was sent)
        open_err = []
        done_opening = threading.Event()

        def flood():
            try:
                for i in range(CONNS):
                    s = socket.create_connection(("127.0.0.1", socks_port), timeout=h.dl(10))
                    s.sendall(b"\x05")
                    socks.append((s, time.monotonic()))
            except OSError as e:
                open_err.append("connection %d: %r" % (len(socks), e))
            finally:
                done_opening.set()

        h.at_cleanup(lambda: [s.close() for s, _ in socks])
        t0 = time.monotonic()
        ft = threading.Thread(target=flood, daemon=True)
        ft.start()
        # normal requests while the flood is being opened
        n_during = 0
        while not done_opening.is_set() and n_during < 5:
            echo_roundtrip(socks_port, echo_port, h.det_bytes(10 + n_during, 65536),
                           "while opening the flood (%d open)" % len(socks))
            n_during += 1
        done_opening.wait(h.limit(h.dl(60)))
        h.check(not open_err, "opening the flood: %s" % open_err)
        h.log("%d hanging connections opened in %.2f s" % (len(socks), time.monotonic() - t0))
        if not h.check(len(socks) == CONNS, "opened %d of %d connections" % (len(socks), CONNS)):
            return

        # with all of them hanging: normal requests still work, promptly
        for i in range(3):
            el = echo_roundtrip(socks_port, echo_port, h.det_bytes(20 + i, 256 * 1024),
                                "with %d hanging connections (#%d)" % (CONNS, i + 1))
            if el is not None:
                h.check(el < h.dl(3), "normal request took %.2f s beside the flood" % el)

        # now wait for braid to close them: EOF on each
        ep = select.epoll()
        by_fd = {}
        for s, ts in socks:
            s.setblocking(False)
            ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
            by_fd[s.fileno()] = (s, ts)
        closed_after = {}   # fd -> seconds after its byte was sent
        how = {"eof": 0, "reset": 0, "data": 0}
        last_sent = max(ts for _, ts in socks)
        end = last_sent + 15.0 * h.SCALE
        mid_check_done = False
        while len(closed_after) < CONNS:
            now = time.monotonic()
            if now >= end:
                break
            if not mid_check_done and now - last_sent > 5:
                # halfway to the deadline the listener still serves normal requests
                echo_roundtrip(socks_port, echo_port, b"midway" * 1000, "5 s into the hang")
                mid_check_done = True
                continue
            for fd, ev in ep.poll(min(0.5, end - now)):
                if fd in closed_after:
                    continue
                s, ts = by_fd[fd]
                try:
                    b = s.recv(64)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    b = None
                t = time.monotonic() - ts
                if b == b"":
                    how["eof"] += 1
                elif b is None:
                    how["reset"] += 1
                else:
                    how["data"] += 1  # a reply to half a greeting: unexpected, counted
                    continue
                closed_after[fd] = t
                ep.unregister(fd)
        ep.close()
        ts = sorted(closed_after.values())
        n = len(ts)
        if n:
            h.log("closed by braid: %d of %d (eof %d, reset %d); after %.2f s min, %.2f s median, "
                  "%.2f s max" % (n, CONNS, how["eof"], how["reset"], ts[0], ts[n // 2], ts[-1]))
        h.check_eq(how["data"], 0, "hanging connections that received bytes (reply to b'\\x05')")
        h.check(n >= CONNS * 99 // 100, "only %d of %d hanging connections were closed within 15 s"
                % (n, CONNS))
        h.check(how["eof"] >= CONNS * 99 // 100, "%d of %d hanging connections saw EOF (reset: %d)"
                % (how["eof"], CONNS, how["reset"]))
        if n:
            h.check(ts[0] >= DEADLINE_S - 0.5, "a hanging connection was closed after %.2f s, "
                    "before the %d s SOCKS head deadline" % (ts[0], DEADLINE_S))
        # The log lines may still be in the pipe from the client: wait for them, briefly.
        try:
            client.wait_count(r"no complete request within 10 s", CONNS * 99 // 100, h.dl(5))
        except TimeoutError:
            pass
        lines = [l for l in client.lines if "no complete request within 10 s" in l]
        h.check(len(lines) >= CONNS * 99 // 100, "client logged %d deadline closes, want >= %d"
                % (len(lines), CONNS * 99 // 100))
        h.check(client.find(r"accept: ") is None, "client hit an accept error: %s"
                % (client.find(r"accept: .*") and client.find(r"accept: .*").group(0)))

        echo_roundtrip(socks_port, echo_port, h.det_bytes(30, MiB), "after the flood")
        h.check(client.alive() and server.alive(), "client and server still running")


MiB = h.MiB

if __name__ == "__main__":
    h.main(test)
