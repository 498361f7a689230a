# SPDX-License-Identifier: MIT
# 2,000 concurrent streams through one session: every stream is opened (SOCKS5, connect-reply
# confirmed) before any data flows, then each carries its own 16 KiB to an echo server and back
# and must return exactly its own bytes; none may fail. The server's stats (SIGUSR1) must show
# all 2,000 open at once. Client and server run under `ulimit -n 8192`.
import asyncio
import os
import signal
import struct
import time

import harness as h

STREAMS = int(os.environ.get("HOSTILE_STREAMS", "2000"))
SIZE = 16 * 1024
OPENING_AT_ONCE = 200   # SOCKS handshakes in flight at a time (the listen backlog is 1024)


raise_nofile, ulimit_argv, proc_nofile = h.raise_nofile, h.ulimit_argv, h.proc_nofile


async def echo_handler(reader, writer):
    try:
        while True:
            b = await reader.read(65536)
            if not b:
                break
            writer.write(b)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def run(socks_port, server):
    srv = await asyncio.start_server(echo_handler, "127.0.0.1", 0, backlog=4096,
                                     limit=1 << 20)
    echo_port = srv.sockets[0].getsockname()[1]
    results = [None] * STREAMS
    opened = [0]
    all_open = asyncio.Event()
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    deadline = time.monotonic() + h.limit(h.dl(40))
    t_open = [None]

    def left():
        return max(0.5, deadline - time.monotonic())

    async def one(i):
        data = h.det_bytes(70000 + i, SIZE)
        writer = None
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", socks_port), left())
                writer.write(b"\x05\x01\x00")
                r = await asyncio.wait_for(reader.readexactly(2), left())
                if r != b"\x05\x00":
                    raise RuntimeError("method selection reply %r" % r)
                writer.write(b"\x05\x01\x00\x01" + bytes([127, 0, 0, 1])
                             + struct.pack(">H", echo_port))
                rep = await asyncio.wait_for(reader.readexactly(10), left())
                if rep[1] != 0:
                    raise RuntimeError("SOCKS5 reply %d" % rep[1])
            opened[0] += 1
            if opened[0] == STREAMS:
                t_open[0] = time.monotonic()
                all_open.set()
            await asyncio.wait_for(all_open.wait(), left())
            writer.write(data)
            writer.write_eof()
            got = await asyncio.wait_for(reader.read(), left())  # to EOF
            if got != data:
                results[i] = "echo mismatch: got %d bytes sha %s, sent %d sha %s" % (
                    len(got), h.sha256(got)[:16], len(data), h.sha256(data)[:16])
            else:
                results[i] = True
        except asyncio.TimeoutError:
            results[i] = "timed out (%d of %d streams open)" % (opened[0], STREAMS)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, RuntimeError) as e:
            results[i] = "%s: %s" % (type(e).__name__, e)
            all_open.set()  # do not keep the others waiting for a stream that failed
        finally:
            if writer is not None:
                writer.close()

    t0 = time.monotonic()

    async def stats_when_open():
        await asyncio.wait_for(all_open.wait(), left())
        if opened[0] != STREAMS:
            return None
        mark = server.mark()
        os.kill(server.pid, signal.SIGUSR1)
        loop = asyncio.get_running_loop()
        try:
            m = await loop.run_in_executor(None, lambda: server.wait_for(
                r"stats: session \S+ peer alice\S* .*streams_open (\d+)", h.dl(5), since=mark))
            return int(m.group(1))
        except TimeoutError:
            return None

    stats_task = asyncio.ensure_future(stats_when_open())
    await asyncio.gather(*(one(i) for i in range(STREAMS)))
    t_end = time.monotonic()
    try:
        streams_open = await asyncio.wait_for(stats_task, 5)
    except (asyncio.TimeoutError, Exception):
        streams_open = None
    srv.close()
    await srv.wait_closed()
    return results, streams_open, t0, t_open[0], t_end


def test():
    nofile = raise_nofile(16384)
    h.log("open file limit of the test process: %d" % nofile)
    h.check(nofile >= 2 * STREAMS + 200, "the test needs %d open files, the hard limit allows %d"
            % (2 * STREAMS + 200, nofile))
    braid_nofile = min(8192, nofile)
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        sconf = h.server_config(d, {"alice": secret})
        server = h.Proc(ulimit_argv(braid_nofile, [h.BRAID, "server", "-c", sconf]), "server", d)
        sport = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
        cconf = h.client_config(d, sport, pin, "alice", secret, connect_reply="confirmed")
        client = h.Proc(ulimit_argv(braid_nofile, [h.BRAID, "client", "-c", cconf]),
                        "client-alice", d)
        socks_port = int(client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)",
                                         h.dl(10)).group(1))
        client.wait_for(r"session established", h.dl(10))
        h.log("braid open file limits: server %d, client %d"
              % (proc_nofile(server.pid), proc_nofile(client.pid)))

        results, streams_open, t0, t_open, t_end = asyncio.run(run(socks_port, server))
        bad = [(i, r) for i, r in enumerate(results) if r is not True]
        if t_open:
            h.log("%d streams opened in %.2f s, data exchanged in %.2f s"
                  % (STREAMS, t_open - t0, t_end - t_open))
        h.log("server stats while all were open: streams_open %s" % streams_open)
        h.check_eq(len(bad), 0, "streams that failed (first: %s)" % bad[:5])
        if bad:
            # what each side still holds, for the report
            for proc in (server, client):
                mark = proc.mark()
                os.kill(proc.pid, signal.SIGUSR1)
                try:
                    proc.wait_for(r"stats: link", h.dl(5), since=mark)
                except TimeoutError:
                    pass
                for line in proc.lines[mark:]:
                    if "stats:" in line:
                        h.log("%s after the failure: %s" % (proc.name, line))
        h.check_eq(streams_open, STREAMS, "server's streams_open with every stream open")
        h.check(client.find(r"too many streams|accept: |SessionLimit") is None,
                "client logged a limit: %s" % (client.find(r"(too many streams|accept: ).*")
                                               and client.find(r"(too many streams|accept: ).*")
                                               .group(0)))
        h.check(server.find(r"refused|accept: ") is None, "server logged a refusal")
        h.check(client.alive() and server.alive(), "client and server still running")


if __name__ == "__main__":
    h.main(test)
