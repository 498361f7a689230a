#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Target servers for peers_bench.py, in a process of their own so they do not share the
bench's interpreter (and its GIL) with the load generator.

    python3 peers_target.py

Three listeners on 127.0.0.1, announced on stderr as one line:
    peers_target echo PORT source PORT sink PORT
echo:   echoes everything until EOF (one epoll loop, fit for 10,000+ idle connections).
source: reads an 8-byte big-endian size N, sends N random bytes, closes.
sink:   reads an 8-byte big-endian size N, reads N bytes, answers one byte b"K", closes.
source and sink run a thread per connection with blocking sockets, reading into and sending
from preallocated buffers. Standard library only. SIGTERM ends it.
"""
import errno
import os
import select
import signal
import socket
import struct
import sys
import threading

CHUNK = 1 << 20
# Incompressible payload (braid compresses stream data with LZ4 when it pays): 1 MiB of random
# bytes, sent again and again; LZ4's 64 KiB window finds no match across repetitions.
RANDOM = memoryview(os.urandom(CHUNK))


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4096)
    return s


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("eof")
        b += c
    return bytes(b)


def serve_source(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    (n,) = struct.unpack(">Q", recv_exact(c, 8))
    buf = RANDOM
    while n > 0:
        k = min(n, CHUNK)
        c.sendall(buf[:k])
        n -= k


def serve_sink(c):
    (n,) = struct.unpack(">Q", recv_exact(c, 8))
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    while n > 0:
        k = c.recv_into(mv, min(n, CHUNK))
        if k == 0:
            raise ConnectionError("eof")
        n -= k
    c.sendall(b"K")


def thread_server(ls, fn):
    def one(c):
        try:
            fn(c)
        except OSError:
            pass
        finally:
            c.close()

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=one, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def echo_loop(ls):
    ls.setblocking(False)
    ep = select.epoll()
    ep.register(ls.fileno(), select.EPOLLIN)
    conns = {}    # fd -> [socket, pending bytearray]
    buf = bytearray(256 * 1024)
    mv = memoryview(buf)

    def close(fd):
        s, _ = conns.pop(fd)
        try:
            ep.unregister(fd)
        except OSError:
            pass
        s.close()

    while True:
        for fd, ev in ep.poll(1.0, 1024):
            if fd == ls.fileno():
                for _ in range(256):
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            print("peers_target: accept: %s" % e, file=sys.stderr, flush=True)
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conns[c.fileno()] = [c, bytearray()]
                    ep.register(c.fileno(), select.EPOLLIN)
                continue
            ent = conns.get(fd)
            if ent is None:
                continue
            s, pend = ent
            try:
                if ev & select.EPOLLOUT and pend:
                    k = s.send(pend)
                    del pend[:k]
                    if not pend:
                        ep.modify(fd, select.EPOLLIN)
                if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and not pend:
                    k = s.recv_into(mv)
                    if k == 0:
                        close(fd)
                        continue
                    try:
                        sent = s.send(mv[:k])
                    except BlockingIOError:
                        sent = 0
                    if sent < k:
                        pend += mv[sent:k]
                        ep.modify(fd, select.EPOLLOUT)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close(fd)


def main():
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    e, so, si = listener(), listener(), listener()
    thread_server(so, serve_source)
    thread_server(si, serve_sink)
    print("peers_target echo %d source %d sink %d" % (
        e.getsockname()[1], so.getsockname()[1], si.getsockname()[1]), file=sys.stderr, flush=True)
    echo_loop(e)


if __name__ == "__main__":
    main()
