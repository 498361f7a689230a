# SPDX-License-Identifier: MIT
# Memory of idle streams, and memory coming back after they close (issue 5, "faster and
# lighter"). 2,000 streams each carry a 64-byte request and its echo, then stay open and idle:
# an idle stream must hold no buffers (before, each end kept two 4 KiB buffers and a 576-byte
# deque per stream, ~10 KiB in all), so RSS of each end may grow by at most 3 KiB per stream plus
# a constant. Then every stream closes: within a few seconds each end must have given back at
# least half of what the streams added (before, glibc kept every freed page). RSS comes from
# /proc/PID/status; the bounds are generous, and not asserted under ASan (its allocator
# quarantines freed memory and shadows all of it).
import asyncio
import struct
import time

import harness as h

MiB = h.MiB
STREAMS = 2000
PAYLOAD = 64
PER_STREAM = 3 * 1024        # bytes of RSS an idle stream may cost one end
CONSTANT = 6 * MiB           # library code the relay touches, TLS, allocator slack
OPENING_AT_ONCE = 200


def rss(pid):
    """VmRSS of pid in bytes, or None if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def mib(n):
    return "%.1f MiB" % (n / MiB)


ACTIVE = [0]   # echo connections still open


async def echo_handler(reader, writer):
    ACTIVE[0] += 1
    try:
        while True:
            b = await reader.read(65536)
            if not b:
                break
            writer.write(b)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        ACTIVE[0] -= 1
        writer.close()


async def open_streams(socks_port, echo_port, writers):
    """Opens STREAMS streams, each echoes PAYLOAD bytes; the open writers go to `writers`.
    Returns the list of failures."""
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    deadline = time.monotonic() + h.limit(h.dl(40))
    bad = []

    def left():
        return max(0.5, deadline - time.monotonic())

    async def one(i):
        data = h.det_bytes(90000 + i, PAYLOAD)
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", socks_port), left())
                writers.append(writer)
                writer.write(b"\x05\x01\x00")
                if await asyncio.wait_for(reader.readexactly(2), left()) != b"\x05\x00":
                    raise RuntimeError("method selection refused")
                writer.write(b"\x05\x01\x00\x01" + bytes([127, 0, 0, 1])
                             + struct.pack(">H", echo_port))
                rep = await asyncio.wait_for(reader.readexactly(10), left())
                if rep[1] != 0:
                    raise RuntimeError("SOCKS5 reply %d" % rep[1])
                writer.write(data)
                got = await asyncio.wait_for(reader.readexactly(PAYLOAD), left())
                if got != data:
                    raise RuntimeError("echo mismatch")
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError,
                RuntimeError) as e:
            bad.append((i, "%s: %s" % (type(e).__name__, e)))

    await asyncio.gather(*(one(i) for i in range(STREAMS)))
    return bad


async def run(socks_port, procs, base):
    srv = await asyncio.start_server(echo_handler, "127.0.0.1", 0, backlog=4096)
    echo_port = srv.sockets[0].getsockname()[1]
    writers = []
    bad = await open_streams(socks_port, echo_port, writers)
    h.check_eq(len(bad), 0, "streams that failed (first: %s)" % bad[:5])

    # every stream open and idle: their sent bytes are acknowledged within ACK_DELAY_S, then
    # no stream holds a buffer; poll (bounded) until each end is within its bound
    bound = STREAMS * PER_STREAM + CONSTANT
    open_rss = {}
    end = time.monotonic() + h.limit(5)
    while True:
        open_rss = {n: rss(p.pid) or 0 for n, p in procs.items()}
        if all(open_rss[n] - base[n] <= bound for n in procs) or time.monotonic() > end:
            break
        await asyncio.sleep(0.2)
    for n in procs:
        h.log("%s RSS: idle %s, with %d idle streams %s (+%s, bound +%s)" % (
            n, mib(base[n]), STREAMS, mib(open_rss[n]), mib(open_rss[n] - base[n]), mib(bound)))
        if not h.SANITIZE:
            h.check(open_rss[n] - base[n] <= bound, "%s: %d idle streams added %s of RSS, more "
                    "than %d KiB each + %s" % (n, STREAMS, mib(open_rss[n] - base[n]),
                                               PER_STREAM // 1024, mib(CONSTANT)))

    for w in writers:
        w.close()

    # all closed: at least half of what the streams added goes back, within a bounded wait
    def back(n, r):
        return r - base[n] <= max(2 * MiB, (open_rss[n] - base[n]) // 2)
    after = {}
    end = time.monotonic() + h.limit(h.dl(10))
    while True:
        after = {n: rss(p.pid) or 0 for n, p in procs.items()}
        if all(back(n, after[n]) for n in procs) or time.monotonic() > end:
            break
        await asyncio.sleep(0.2)
    for n in procs:
        h.log("%s RSS after the streams closed: %s" % (n, mib(after[n])))
        if not h.SANITIZE:
            h.check(back(n, after[n]), "%s: RSS %s after every stream closed, %s with them open, "
                    "%s idle: less than half came back" % (n, mib(after[n]), mib(open_rss[n]),
                                                           mib(base[n])))
    if h.SANITIZE:
        h.log("sanitizer build: RSS bounds not asserted")
    end = time.monotonic() + h.limit(h.dl(5))
    while ACTIVE[0] > 0 and time.monotonic() < end:   # the echo side sees every close too
        await asyncio.sleep(0.1)
    srv.close()
    await srv.wait_closed()


def test():
    nofile = h.raise_nofile(16384)
    h.check(nofile >= 2 * STREAMS + 200, "the test needs %d open files, the hard limit allows %d"
            % (2 * STREAMS + 200, nofile))
    braid_nofile = min(8192, nofile)
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        sconf = h.server_config(d, {"alice": secret})
        server = h.Proc(h.ulimit_argv(braid_nofile, [h.BRAID, "server", "-c", sconf]), "server", d)
        sport = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
        cconf = h.client_config(d, sport, pin, "alice", secret, connect_reply="confirmed")
        client = h.Proc(h.ulimit_argv(braid_nofile, [h.BRAID, "client", "-c", cconf]),
                        "client-alice", d)
        socks_port = int(client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)",
                                         h.dl(10)).group(1))
        client.wait_for(r"session established", h.dl(10))
        procs = {"client": client, "server": server}
        base = {n: rss(p.pid) or 0 for n, p in procs.items()}
        asyncio.run(run(socks_port, procs, base))
        h.check(client.alive() and server.alive(), "client and server still running")


if __name__ == "__main__":
    h.main(test)
