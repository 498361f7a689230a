# SPDX-License-Identifier: MIT
# LZ4 per DATA frame: compressible and incompressible data arrive intact with compress = auto
# and on, and `auto` gives up on the incompressible stream (from the server's statistics).
import hashlib
import random
import re
import signal
import socket

import harness as h

MiB = h.MiB
SIZE = 8 * MiB


def text_bytes(n):
    line = b"GET /index.html HTTP/1.1 200 OK content-type: text/html; the quick brown fox\n"
    return (line * (n // len(line) + 1))[:n]


def random_bytes(n):
    return random.Random(9).randbytes(n)


def source(data):
    def handle(sock):
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        h.read_to_eof(sock, max_bytes=SIZE)
    return h.start_tcp_server(handle)


def sink():
    def handle(sock):
        hasher = hashlib.sha256()
        h.read_to_eof(sock, hasher=hasher)
        sock.sendall(hasher.hexdigest().encode())
    return h.start_tcp_server(handle)


def fetch(socks, port):
    s, rep = h.socks5_connect(socks, "127.0.0.1", port)
    h.check_eq(rep, 0, "socks reply")
    s.shutdown(socket.SHUT_WR)
    return h.read_to_eof(s, timeout=h.dl(30))


def send(socks, port, data):
    s, rep = h.socks5_connect(socks, "127.0.0.1", port)
    h.check_eq(rep, 0, "socks reply")
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    return h.read_to_eof(s, max_bytes=100, timeout=h.dl(30)).decode()


def stats(proc):
    mark = proc.mark()
    proc.p.send_signal(signal.SIGUSR1)
    m = proc.wait_for(r"stats: session .* compressed_frames (\d+) incompressible_frames (\d+) "
                      r"compress_saved (\d+) compress_gave_up (\d+)", h.dl(5), since=mark)
    return [int(x) for x in m.groups()]


def run():
    text, rnd = text_bytes(SIZE), random_bytes(SIZE)
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret})
        src_text, src_rnd, snk = source(text), source(rnd), sink()

        def mode(m, tag):
            client, socks = h.start_client(d, sport, pin, "alice", secret, tag=tag,
                                           extra=("compress = %s" % m,))
            before = stats(server)
            h.check_eq(h.sha256(fetch(socks, src_text)), h.sha256(text), m + ": text download")
            h.check_eq(h.sha256(fetch(socks, src_rnd)), h.sha256(rnd), m + ": random download")
            h.check_eq(send(socks, snk, text), h.sha256(text), m + ": text upload")
            h.check_eq(send(socks, snk, rnd), h.sha256(rnd), m + ": random upload")
            after = stats(server)
            client.stop()
            return [a - b for a, b in zip(after, before)]

        def auto():
            comp, incomp, saved, gave_up = mode("auto", "auto")
            h.check(comp > 100, "auto: the text stream was compressed (%d frames)" % comp)
            h.check(saved > SIZE // 2, "auto: compression saved %d bytes" % saved)
            h.check(gave_up >= 1, "auto: gave up on the random stream (%d times)" % gave_up)
            # Giving up means few attempts: 4 misses per re-probe interval of 1 MiB, not one
            # per frame (8 MiB = 513 frames).
            h.check(incomp < 100, "auto: incompressible attempts bounded (%d)" % incomp)

        def on():
            comp, incomp, saved, gave_up = mode("on", "on")
            h.check(comp > 100, "on: compressed frames %d" % comp)
            h.check_eq(gave_up, 0, "on: never gives up")
            h.check(incomp > 400, "on: tries every random frame (%d)" % incomp)

        h.run_cases([("compress = auto", auto), ("compress = on", on)])


if __name__ == "__main__":
    h.main(run)
