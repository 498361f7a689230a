#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pathemu: a userspace TCP path emulator for braid's tests (the kernel here has no netem).

    python3 tests/tools/pathemu.py --listen 127.0.0.1:0 --target 127.0.0.1:PORT \
        [--rate BYTES_PER_SEC] [--delay-ms MS] [--kill-after BYTES] [--control 127.0.0.1:0]
    python3 tests/tools/pathemu.py --self-test     # short functional check, exit 0/1
    python3 tests/tools/pathemu.py --bench         # throughput figures, exit 0/1

Every connection accepted on --listen is forwarded to --target. Each direction of each
connection is a queue: a chunk read from one socket becomes deliverable delay ms later, and a
token bucket (burst max(16 KiB, 4 ms of rate); rate 0 = unlimited; credit lost to the emulator's
own late wake-ups is kept, up to 10 ms of rate) paces what is written to the other socket.
Reading from a socket stops while its direction holds more than rate * delay + 64 KiB (with
rate 0: 64 KiB + min(delay * 256 MB/s, 16 MiB)), so the sender's TCP send buffer fills up as
behind a real bottleneck. Reads are 64 KiB at most.

On startup exactly one line goes to stdout:
    pathemu listening on 127.0.0.1:PORT control 127.0.0.1:CPORT

Connections are numbered 1, 2, 3... in accept order (connections refused while "down" are not
numbered). Up = client -> target. "Forwarded" bytes are bytes written to the other socket.

--kill-after N: connection 1 (only that one) is killed once it has forwarded N bytes in total
(both directions; the write that reaches N is cut to end exactly at N). Killing = both sockets
closed with RST (SO_LINGER {1,0}): data still queued is dropped, as on a dead link, and so is
data still in the emulator's kernel send buffer, so the receiver may see fewer than N bytes.

Control port (one command per line, one answer line each, connection stays open):
    stats                 {"connections": [{"id", "alive", "up_bytes", "down_bytes",
                           "up_queued", "down_queued", "end"}...], "down", "refused",
                           "rate", "delay_ms"}   ("end": null while alive, else one of
                           "eof", "killed", "kill-after", "reset", "connect-failed", "down",
                           "shutdown")
    kill ID               ok | no such connection
    kill-after ID BYTES   kill ID after BYTES more forwarded bytes: ok | no such connection
    killall               ok
    down                  kill all, then accept-and-RST new connections until "up": ok
    up                    ok
    rate BYTES_PER_SEC    ok (all connections, from now on; 0 = unlimited)
    delay MS              ok (all connections, for data read from now on)
Unknown or malformed commands get a line starting with "error". Blank lines are ignored.

SIGTERM/SIGINT: close everything, exit 0. Python 3.11 standard library only.
"""
import argparse
import asyncio
import collections
import json
import os
import re
import signal
import socket
import struct
import sys

READ_SIZE = 64 * 1024          # largest read from a socket
BASE_QUEUE = 64 * 1024         # queue limit on top of rate * delay
MIN_BURST = 16 * 1024          # token bucket depth (at least)
BURST_TIME = 0.004             # ... or this many seconds of rate, whichever is larger
UNLIMITED_RATE_FOR_BDP = 256e6  # with rate 0, the queue limit assumes this rate ...
UNLIMITED_QUEUE_CAP = 16 << 20  # ... but never more than this
LATE_CREDIT = 0.010            # see Direction.run
MAX_TOKEN_NAP = 0.05
CONNECT_TIMEOUT = 10.0
MAX_DEAD_RECORDS = 10000       # dead connections kept for "stats"
CONTROL_LINE_LIMIT = 64 * 1024


def rst_close(transport):
    """Close a transport's socket with RST (SO_LINGER {1, 0}), dropping anything unsent."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class Settings:
    def __init__(self, rate, delay_ms):
        self.rate = float(rate)
        self.delay = float(delay_ms) / 1000.0

    def burst(self):
        return max(MIN_BURST, self.rate * BURST_TIME)

    def queue_limit(self):
        if self.rate > 0:
            bdp = self.rate * self.delay
        else:
            bdp = min(self.delay * UNLIMITED_RATE_FOR_BDP, UNLIMITED_QUEUE_CAP)
        return BASE_QUEUE + int(bdp)


class Direction:
    """One direction of one connection: src socket -> delay/rate queue -> dst socket."""

    def __init__(self, conn):
        self.conn = conn
        self.settings = conn.emu.settings
        self.src = None            # Side we read from
        self.dst = None            # Side we write to
        self.q = collections.deque()   # (deliverable_at, memoryview | None for EOF)
        self.queued = 0
        self.bytes = 0             # forwarded (written to dst)
        self.read_paused = False
        self.eof_in = False
        self.done = False          # EOF forwarded
        self.wake = asyncio.Event()
        self.tokens = 0.0
        self.last = None
        self.token_wait = False

    def push(self, data):
        if not self.conn.alive or self.eof_in:
            return
        st = self.settings
        self.q.append((self.conn.loop.time() + st.delay, memoryview(data)))
        self.queued += len(data)
        self.wake.set()
        if not self.read_paused and self.queued >= st.queue_limit():
            self.read_paused = True
            self.src.transport.pause_reading()

    def push_eof(self):
        if not self.conn.alive or self.eof_in:
            return
        self.eof_in = True
        self.q.append((self.conn.loop.time() + self.settings.delay, None))
        self.wake.set()

    def clear(self):
        self.q.clear()
        self.queued = 0

    async def _wait(self):
        self.wake.clear()
        await self.wake.wait()

    async def run(self):
        conn = self.conn
        loop = conn.loop
        st = self.settings
        await conn.connected.wait()
        dst = self.dst
        while conn.alive:
            if not self.q:
                await self._wait()
                continue
            when, item = self.q[0]
            now = loop.time()
            if when > now:
                await asyncio.sleep(when - now)
                continue
            if item is None:
                self.q.popleft()
                self.done = True
                conn.eof_forwarded(self)
                return
            if dst.write_paused or dst.transport.is_closing():
                await self._wait()     # drained, or connection_lost() kills the connection
                continue
            n = len(item)
            rate = st.rate
            if rate > 0:
                burst = st.burst()
                if self.last is None:
                    self.tokens = burst
                else:
                    # Backlogged and waiting for tokens, the link was busy the whole time, so
                    # credit from waking up late (timer rounding, CPU contention) is kept, up to
                    # LATE_CREDIT seconds; otherwise the bucket holds at most one burst.
                    cap = burst + rate * LATE_CREDIT if self.token_wait else burst
                    self.tokens = min(cap, self.tokens + (now - self.last) * rate)
                self.last = now
                self.token_wait = False
                need = min(n, burst / 2)
                if self.tokens < need:
                    self.token_wait = True
                    # short naps, so that a "rate" command takes effect promptly
                    await asyncio.sleep(min((need - self.tokens) / rate, MAX_TOKEN_NAP))
                    continue
                n = max(1, min(n, int(self.tokens)))
                self.tokens -= n
            else:
                self.last = None
            if conn.kill_at is not None:
                n = min(n, conn.kill_at - conn.total())
                if n <= 0:
                    conn.kill("kill-after")
                    return
            if n < len(item):
                self.q[0] = (when, item[n:])
                item = item[:n]
            else:
                self.q.popleft()
            self.queued -= n
            dst.transport.write(item)
            self.bytes += n
            if self.read_paused and self.queued < st.queue_limit():
                self.read_paused = False
                if conn.alive:
                    self.src.transport.resume_reading()
            if conn.kill_at is not None and conn.total() >= conn.kill_at:
                conn.kill("kill-after")
                return


class Side(asyncio.Protocol):
    """One socket of a connection (client or target)."""

    def __init__(self, conn=None):
        self.conn = conn
        self.transport = None
        self.write_paused = False
        self.inbound = None        # Direction fed by this socket
        self.outbound = None       # Direction writing to this socket

    def connection_made(self, transport):
        self.transport = transport
        try:
            transport.max_size = READ_SIZE
        except AttributeError:
            pass
        transport.set_write_buffer_limits(high=READ_SIZE)

    def data_received(self, data):
        if self.inbound is not None:
            self.inbound.push(data)

    def eof_received(self):
        if self.inbound is not None:
            self.inbound.push_eof()
        return True                # keep the half-closed socket open

    def pause_writing(self):
        self.write_paused = True

    def resume_writing(self):
        self.write_paused = False
        if self.outbound is not None:
            self.outbound.wake.set()

    def connection_lost(self, exc):
        if self.conn is not None:
            self.conn.side_lost(self, exc)


class ClientSide(Side):
    def __init__(self, emu):
        super().__init__()
        self.emu = emu

    def connection_made(self, transport):
        super().connection_made(transport)
        if self.emu.is_down or self.emu.stopping:
            self.emu.refused += 1
            rst_close(transport)
            return
        self.emu.new_conn(self)


class Conn:
    def __init__(self, emu, cid, client):
        self.emu = emu
        self.loop = emu.loop
        self.id = cid
        self.alive = True
        self.end = None
        self.kill_at = None
        self.finishing = False
        self.connected = asyncio.Event()
        self.up = Direction(self)
        self.down = Direction(self)
        self.client = client
        self.target = None
        client.conn = self
        client.inbound = self.up
        client.outbound = self.down
        self.up.src = client
        self.down.dst = client
        self.tasks = [self.loop.create_task(self._connect()),
                      self.loop.create_task(self.up.run()),
                      self.loop.create_task(self.down.run())]

    def total(self):
        return self.up.bytes + self.down.bytes

    async def _connect(self):
        side = Side(self)
        side.inbound = self.down
        side.outbound = self.up
        self.down.src = side
        self.up.dst = side
        try:
            host, port = self.emu.target
            await asyncio.wait_for(self.loop.create_connection(lambda: side, host, port),
                                   CONNECT_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except (OSError, asyncio.TimeoutError):
            self.kill("connect-failed")
            return
        if not self.alive:         # killed in the meantime
            rst_close(side.transport)
            return
        self.target = side
        self.connected.set()
        if self.kill_at is not None and self.total() >= self.kill_at:
            self.kill("kill-after")

    def eof_forwarded(self, direction):
        t = direction.dst.transport
        if t is not None and not t.is_closing() and t.can_write_eof():
            try:
                t.write_eof()
            except OSError:
                pass
        if self.up.done and self.down.done:
            self.finishing = True
            self.alive = False
            self.end = "eof"
            for side in (self.client, self.target):
                if side is not None and side.transport is not None:
                    side.transport.close()
            self.emu.retire(self)

    def side_lost(self, side, exc):
        if not self.alive:
            return
        self.kill("reset" if exc is not None else "closed")

    def kill(self, reason="killed"):
        if not self.alive:
            return
        self.alive = False
        self.end = reason
        current = asyncio.current_task(self.loop) if self.loop.is_running() else None
        for t in self.tasks:
            if t is not current:
                t.cancel()
        rst_close(self.client.transport)
        if self.target is not None:
            rst_close(self.target.transport)
        self.up.clear()
        self.down.clear()
        self.emu.retire(self)

    def record(self):
        return {"id": self.id, "alive": self.alive, "up_bytes": self.up.bytes,
                "down_bytes": self.down.bytes, "up_queued": self.up.queued,
                "down_queued": self.down.queued, "end": self.end}


class Emu:
    def __init__(self, loop, target, settings, kill_after):
        self.loop = loop
        self.target = target
        self.settings = settings
        self.kill_after = kill_after
        self.conns = {}            # id -> Conn, in accept order
        self.dead = collections.deque()
        self.next_id = 1
        self.is_down = False
        self.stopping = False
        self.refused = 0

    def new_conn(self, client):
        cid = self.next_id
        self.next_id += 1
        conn = Conn(self, cid, client)
        if cid == 1 and self.kill_after is not None:
            conn.kill_at = self.kill_after
        self.conns[cid] = conn

    def retire(self, conn):
        self.dead.append(conn.id)
        while len(self.dead) > MAX_DEAD_RECORDS:
            self.conns.pop(self.dead.popleft(), None)

    def live(self):
        return [c for c in self.conns.values() if c.alive]

    def kill_all(self, reason):
        for c in self.live():
            c.kill(reason)

    def command(self, line):
        parts = line.split()
        cmd, args = parts[0].lower(), parts[1:]
        try:
            if cmd == "stats" and not args:
                return json.dumps({"connections": [c.record() for c in self.conns.values()],
                                   "down": self.is_down, "refused": self.refused,
                                   "rate": self.settings.rate,
                                   "delay_ms": self.settings.delay * 1000.0},
                                  separators=(",", ":"))
            if cmd == "kill" and len(args) == 1:
                c = self.conns.get(int(args[0]))
                if c is None or not c.alive:
                    return "no such connection"
                c.kill("killed")
                return "ok"
            if cmd == "kill-after" and len(args) == 2:
                cid, n = int(args[0]), int(args[1])
                if n < 0:
                    return "error: negative byte count"
                c = self.conns.get(cid)
                if c is None or not c.alive:
                    return "no such connection"
                c.kill_at = c.total() + n
                if n == 0:
                    c.kill("kill-after")
                return "ok"
            if cmd == "killall" and not args:
                self.kill_all("killed")
                return "ok"
            if cmd == "down" and not args:
                self.is_down = True
                self.kill_all("down")
                return "ok"
            if cmd == "up" and not args:
                self.is_down = False
                return "ok"
            if cmd == "rate" and len(args) == 1:
                r = float(args[0])
                if r < 0:
                    return "error: negative rate"
                self.settings.rate = r
                return "ok"
            if cmd == "delay" and len(args) == 1:
                d = float(args[0])
                if d < 0:
                    return "error: negative delay"
                self.settings.delay = d / 1000.0
                return "ok"
        except ValueError:
            return "error: bad number"
        return "error: unknown command (stats, kill ID, kill-after ID BYTES, killall, down, up, " \
               "rate BYTES_PER_SEC, delay MS)"

    async def handle_control(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode("utf-8", "replace").strip()
                if not text:
                    continue
                writer.write((self.command(text) + "\n").encode())
                await writer.drain()
        except (OSError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % s)
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad port in %r" % s) from None


def fmt_addr(sockname):
    host, port = sockname[0], sockname[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


async def amain(args):
    loop = asyncio.get_running_loop()
    emu = Emu(loop, args.target, Settings(args.rate, args.delay_ms), args.kill_after)
    server = await loop.create_server(lambda: ClientSide(emu), args.listen[0], args.listen[1],
                                      backlog=512, reuse_address=True)
    control = await asyncio.start_server(emu.handle_control, args.control[0], args.control[1],
                                         limit=CONTROL_LINE_LIMIT, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("pathemu listening on %s control %s" % (fmt_addr(server.sockets[0].getsockname()),
                                                     fmt_addr(control.sockets[0].getsockname())),
              flush=True)
    except OSError:
        pass
    await stop.wait()
    emu.stopping = True
    server.close()
    control.close()
    for c in emu.live():
        c.kill("shutdown")
    await asyncio.sleep(0)      # let the transports run their close callbacks
    return 0


# =============================================================================================
# self-test and benchmark (blocking sockets + threads; the emulator runs as a subprocess)

def _self_path():
    return os.path.abspath(__file__)


class TargetServer:
    """Local target. The first byte a client sends picks the mode:
    E = echo; S = sink (at EOF replies !QQd: bytes, bytes in the first read, seconds from first
    to last byte); G = source (sends until the peer goes away)."""

    def __init__(self):
        import threading
        self.threading = threading
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        import time
        c.settimeout(30)
        try:
            mode = c.recv(1)
            if mode == b"E":
                while not self.stop.is_set():
                    d = c.recv(READ_SIZE)
                    if not d:
                        break
                    c.sendall(d)
                c.shutdown(socket.SHUT_WR)
            elif mode == b"S":
                buf = bytearray(256 * 1024)
                count = first_n = 0
                first = last = None
                while not self.stop.is_set():
                    n = c.recv_into(buf)
                    if n == 0:
                        break
                    now = time.monotonic()
                    if first is None:
                        first, first_n = now, n
                    last = now
                    count += n
                c.sendall(struct.pack("!QQd", count, first_n, (last - first) if first else 0.0))
            elif mode == b"G":
                chunk = b"g" * (256 * 1024)
                while not self.stop.is_set():
                    c.sendall(chunk)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.sock.close()


class EmuProc:
    def __init__(self, target_port, *extra):
        import select
        import subprocess
        import time
        self.p = subprocess.Popen([sys.executable, _self_path(), "--listen", "127.0.0.1:0",
                                   "--target", "127.0.0.1:%d" % target_port] + list(extra),
                                  stdout=subprocess.PIPE)
        self.line = b""
        deadline = time.monotonic() + 10
        while not self.line.endswith(b"\n") and time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 0.2)
            if r:
                b = os.read(self.p.stdout.fileno(), 4096)
                if not b:
                    break
                self.line += b
        m = re.fullmatch(rb"pathemu listening on 127\.0\.0\.1:(\d+) control 127\.0\.0\.1:(\d+)\n",
                         self.line)
        if not m:
            self.p.kill()
            self.p.wait()
            raise RuntimeError("bad startup line %r" % self.line)
        self.port, self.cport = int(m.group(1)), int(m.group(2))
        self.ctl = socket.create_connection(("127.0.0.1", self.cport), timeout=5)
        self.ctlf = self.ctl.makefile("rb")

    def cmd(self, line):
        self.ctl.sendall(line.encode() + b"\n")
        return self.ctlf.readline().decode().rstrip("\n")

    def stats(self):
        return json.loads(self.cmd("stats"))

    def conn(self, cid):
        for c in self.stats()["connections"]:
            if c["id"] == cid:
                return c
        return None

    def last_id(self):
        cs = self.stats()["connections"]
        return cs[-1]["id"] if cs else 0

    def connect(self, mode=None, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if mode:
            s.sendall(mode)
        return s

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        import subprocess
        try:
            self.ctlf.close()
            self.ctl.close()
        except OSError:
            pass
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None


def _recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def _ping(s, payload=b"p"):
    s.sendall(payload)
    return _recv_exact(s, len(payload)) == payload


def _expect_reset(s, timeout=5.0):
    """True if s gets ECONNRESET (possibly after some data) within timeout."""
    import time
    deadline = time.monotonic() + timeout
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not s.recv(READ_SIZE):
                return False       # orderly EOF, not RST
        except ConnectionResetError:
            return True
        except socket.timeout:
            continue
    return False


def _sink_transfer(emu, nbytes=None, seconds=None):
    """Send to a sink through emu: nbytes, or for `seconds`. Returns (bytes/s at sink, count)."""
    import time
    s = emu.connect(b"S", timeout=30)
    chunk = b"s" * (256 * 1024)
    sent = 0
    t_end = time.monotonic() + seconds if seconds else None
    try:
        while True:
            if nbytes is not None and sent >= nbytes:
                break
            if t_end is not None and time.monotonic() >= t_end:
                break
            n = len(chunk) if nbytes is None else min(len(chunk), nbytes - sent)
            s.sendall(chunk[:n])
            sent += n
        s.shutdown(socket.SHUT_WR)
        count, first_n, elapsed = struct.unpack("!QQd", _recv_exact(s, 24))
    finally:
        s.close()
    rate = (count - first_n) / elapsed if elapsed > 0 else 0.0
    return rate, count


def _source_transfer(emu, seconds, warmup):
    """Read from a source through emu for `seconds`; bytes/s after `warmup` seconds."""
    import time
    s = emu.connect(b"G", timeout=10)
    buf = bytearray(256 * 1024)
    t0 = time.monotonic()
    tw = t0 + warmup
    t_end = t0 + seconds
    counted = 0
    try:
        while True:
            now = time.monotonic()
            if now >= t_end:
                break
            n = s.recv_into(buf)
            if n == 0:
                break
            if now >= tw:
                counted += n
    finally:
        s.close()
    return counted / (seconds - warmup)


def _run_parallel(fns):
    import threading
    results = [None] * len(fns)

    def run(i, f):
        try:
            results[i] = f()
        except Exception as e:  # reported by the caller
            results[i] = e
    ts = [threading.Thread(target=run, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return results


def self_test():
    import statistics
    import threading
    import time
    results = []

    def check(name, ok, detail=""):
        results.append((name, bool(ok)))
        print("%s %-44s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)

    target = TargetServer()
    procs = []
    t_start = time.monotonic()
    try:
        emu = EmuProc(target.port)
        procs.append(emu)
        check("startup line", True, emu.line.decode().strip())

        # integrity, unlimited
        s = emu.connect(b"E")
        data = os.urandom(2 << 20)
        th = threading.Thread(target=lambda: s.sendall(data), daemon=True)
        th.start()
        got = _recv_exact(s, len(data))
        th.join(10)
        check("echo 2 MiB intact (rate 0, delay 0)", got == data)
        s.close()

        # rate caps, both directions
        emu.cmd("rate 2000000")
        r, _ = _sink_transfer(emu, nbytes=4000000)
        check("rate cap up 2 MB/s (+-10%)", abs(r / 2e6 - 1) <= 0.10, "%.3f MB/s" % (r / 1e6))
        r = _source_transfer(emu, 2.5, 0.5)
        check("rate cap down 2 MB/s (+-10%)", abs(r / 2e6 - 1) <= 0.10, "%.3f MB/s" % (r / 1e6))

        # backpressure: rate 200 kB/s, delay 100 ms -> limit 20000 + 65536
        emu.cmd("rate 200000")
        emu.cmd("delay 100")
        s = emu.connect(b"S")
        cid = emu.last_id()
        s.setblocking(False)
        chunk = b"b" * READ_SIZE
        sent = 0
        t_end = time.monotonic() + 1.5
        while time.monotonic() < t_end:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        rec = emu.conn(cid)
        limit = 200000 * 0.1 + BASE_QUEUE
        check("backpressure bounds the queue", rec["up_queued"] <= limit + READ_SIZE,
              "queued %d (limit %d), client pushed %d into the kernel, %d forwarded"
              % (rec["up_queued"], limit, sent, rec["up_bytes"]))
        s.close()
        emu.cmd("kill %d" % cid)

        # delay: RTT ~ 2 x 50 ms
        emu.cmd("rate 0")
        emu.cmd("delay 50")
        s = emu.connect(b"E")
        rtts = []
        for _ in range(10):
            t0 = time.monotonic()
            _ping(s)
            rtts.append(time.monotonic() - t0)
        med = statistics.median(rtts) * 1000
        check("delay 50 ms -> RTT ~100 ms", 98 <= med <= 130,
              "median %.1f ms, min %.1f, max %.1f" % (med, min(rtts) * 1000, max(rtts) * 1000))
        s.close()
        emu.cmd("delay 0")

        # kill via control, neighbour unaffected
        a = emu.connect(b"E")
        _ping(a)
        ida = emu.last_id()
        b = emu.connect(b"E")
        _ping(b)
        ans = emu.cmd("kill %d" % ida)
        check("kill ID resets that connection", ans == "ok" and _expect_reset(a), ans)
        b.settimeout(5)
        check("other connection unaffected", _ping(b, b"still here"))
        check("kill unknown ID", emu.cmd("kill 99999") == "no such connection")
        check("bad command answers error", emu.cmd("frobnicate").startswith("error"))
        a.close()

        # kill-after via control
        c = emu.connect(b"E")
        _ping(c)
        idc = emu.last_id()
        before = emu.conn(idc)
        t0 = before["up_bytes"] + before["down_bytes"]
        ans = emu.cmd("kill-after %d 100000" % idc)
        payload = b"k" * 200000
        threading.Thread(target=lambda: _swallow(c.sendall, payload), daemon=True).start()
        reset = _expect_reset(c)
        after = emu.conn(idc)
        fw = after["up_bytes"] + after["down_bytes"] - t0
        check("kill-after ID BYTES", ans == "ok" and reset and not after["alive"] and fw == 100000,
              "forwarded %d more bytes, end=%s" % (fw, after["end"]))
        c.close()

        # killall
        d, e = emu.connect(b"E"), emu.connect(b"E")
        _ping(d)
        _ping(e)
        ans = emu.cmd("killall")
        check("killall", ans == "ok" and _expect_reset(d) and _expect_reset(e))
        d.close()
        e.close()
        b.settimeout(5)
        _swallow(_ping, b)         # b was killed by killall too
        b.close()

        # down / up
        f = emu.connect(b"E")
        _ping(f)
        ans = emu.cmd("down")
        ok = ans == "ok" and _expect_reset(f)
        g = socket.create_connection(("127.0.0.1", emu.port), timeout=5)
        ok_g = _expect_reset(g)
        st = emu.stats()
        check("down: live killed, new ones reset",
              ok and ok_g and st["down"] and st["refused"] >= 1)
        f.close()
        g.close()
        ans = emu.cmd("up")
        h = emu.connect(b"E")
        h.settimeout(5)
        check("up: connections work again", ans == "ok" and _ping(h) and not emu.stats()["down"])
        h.close()
        check("SIGTERM exits 0", emu.stop() == 0)

        # --kill-after on the command line: connection 1 only
        emu2 = EmuProc(target.port, "--kill-after", "300000")
        procs.append(emu2)
        s1 = emu2.connect(b"G")
        got = 0
        s1.settimeout(5)
        reset = False
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end:
            try:
                n = len(s1.recv(READ_SIZE))
            except ConnectionResetError:
                reset = True
                break
            if n == 0:
                break
            got += n
        s1.close()
        r1 = emu2.conn(1)
        tot = r1["up_bytes"] + r1["down_bytes"]
        check("--kill-after 300000 kills connection 1",
              reset and not r1["alive"] and tot == 300000 and got <= 299999,
              "forwarded %d, client received %d, end=%s" % (tot, got, r1["end"]))
        s2 = emu2.connect(b"G")
        s2.settimeout(5)
        try:
            _recv_exact(s2, 2 << 20)
            ok2 = emu2.conn(2)["alive"]
        except OSError:
            ok2 = False
        check("--kill-after spares connection 2", ok2)
        s2.close()
        check("SIGTERM exits 0 (second instance)", emu2.stop() == 0)

        # unreachable target
        tmp = socket.socket()
        tmp.bind(("127.0.0.1", 0))
        dead_port = tmp.getsockname()[1]
        tmp.close()
        emu3 = EmuProc(dead_port)
        procs.append(emu3)
        s3 = emu3.connect(b"E")
        r3 = _expect_reset(s3)
        s3.close()
        rec = emu3.conn(1)
        check("unreachable target -> client reset", r3 and rec and rec["end"] == "connect-failed")
        check("SIGTERM exits 0 (third instance)", emu3.stop() == 0)
    except Exception as exc:
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(exc))
    finally:
        for p in procs:
            if p.p.poll() is None:
                p.stop()
        target.close()
    failed = [n for n, ok in results if not ok]
    print("self-test: %d checks, %d failed%s (%.1f s)"
          % (len(results), len(failed), (": " + ", ".join(failed)) if failed else "",
             time.monotonic() - t_start), flush=True)
    return 1 if failed else 0


def _swallow(fn, *args):
    try:
        fn(*args)
    except OSError:
        pass


def bench():
    import time
    target = TargetServer()
    ok = True
    try:
        for delay in ("0", "20"):
            emu = EmuProc(target.port, "--delay-ms", delay)
            c0 = emu.cpu_seconds()
            r, count = _sink_transfer(emu, seconds=3)
            print("1 connection, rate 0, delay %s ms, up:   %7.1f MB/s (%d MB, emulator CPU %.2f s)"
                  % (delay, r / 1e6, count // 1000000, emu.cpu_seconds() - c0), flush=True)
            r = _source_transfer(emu, 3, 0.5)
            print("1 connection, rate 0, delay %s ms, down: %7.1f MB/s" % (delay, r / 1e6),
                  flush=True)
            emu.stop()
        emu = EmuProc(target.port, "--delay-ms", "20", "--rate", "4000000")
        for name, fn in (("up", lambda: _sink_transfer(emu, nbytes=20000000)[0]),
                         ("down", lambda: _source_transfer(emu, 5, 1))):
            c0, w0 = emu.cpu_seconds(), time.monotonic()
            rs = _run_parallel([fn] * 8)
            cpu = (emu.cpu_seconds() - c0) / (time.monotonic() - w0)
            errs = [r for r in rs if not isinstance(r, float)]
            if errs:
                print("8 connections %s: errors %r" % (name, errs))
                ok = False
                continue
            good = all(r >= 3.8e6 for r in rs)
            ok = ok and good
            print("8 connections x 4 MB/s, delay 20 ms, %-4s: min %.3f max %.3f MB/s, "
                  "all >= 3.8: %s, emulator CPU %.0f%% of one core"
                  % (name, min(rs) / 1e6, max(rs) / 1e6, good, cpu * 100), flush=True)
        emu.stop()
    finally:
        target.close()
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description="userspace TCP path emulator for braid's tests")
    ap.add_argument("--listen", type=hostport, default=("127.0.0.1", 0))
    ap.add_argument("--target", type=hostport)
    ap.add_argument("--rate", type=float, default=0.0, help="bytes/s per direction, 0 = unlimited")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay per direction")
    ap.add_argument("--kill-after", type=int, default=None,
                    help="RST connection 1 once it has forwarded this many bytes")
    ap.add_argument("--control", type=hostport, default=("127.0.0.1", 0))
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--bench", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if args.bench:
        return bench()
    if args.target is None:
        ap.error("--target is required")
    if args.rate < 0 or args.delay_ms < 0 or (args.kill_after is not None and args.kill_after < 0):
        ap.error("--rate, --delay-ms and --kill-after must not be negative")
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
