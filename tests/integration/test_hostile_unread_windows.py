# SPDX-License-Identifier: MIT
# Streams nobody reads must not starve the one being read. The first 12 of 50 streams open
# 0.4 s apart, so their receive windows grow while few streams exist (their SOCKS sockets'
# kernel buffers drain them at first); then 38 more open; none is read. Reading the last one
# alone must still deliver its first 4 MiB intact: the grown windows shrink to make room for
# the later streams, and the session lends credit when unread bytes hold most of its window.
# (Before the fix this stalled with the session window full of unread bytes: server credit
# tx == peer_max, client rx - consumed == 16 MiB.)
import os
import signal
import socket
import time

import harness as h
import test_hostile_memory as hm

MiB = h.MiB
STREAMS = 50
EARLY = 12
READ_BACK = 4 * MiB


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        http_port = h.start_http_server()
        server, sport = h.start_server(d, {"alice": secret}, extra=["send-buffer = 8"])
        client, socks_port = h.start_client(d, sport, pin, "alice", secret)
        socks = []
        h.at_cleanup(lambda: [s.close() for s in socks])
        for i in range(STREAMS):
            s, rep = h.socks5_connect(socks_port, "127.0.0.1", http_port, timeout=h.dl(10))
            if not h.check_eq(rep, 0, "stream %d: SOCKS5 reply" % i):
                return
            s.sendall(b"GET /data/%d/%d HTTP/1.1\r\nHost: target\r\n\r\n" % (2000 + i, 1024 * MiB))
            socks.append(s)
            if i < EARLY:
                time.sleep(0.4)
        grown = client.find(r"receive window now (\d+) KiB")
        h.log("%d streams open, none read; a window grew: %s" % (STREAMS, grown and grown.group(0)))
        time.sleep(h.dl(3))  # the unread streams fill whatever credit they hold
        s = socks[-1]
        head, body = hm.read_http_head(s, h.dl(10))
        if not h.check(b" 200 " in head.split(b"\r\n")[0], "last stream: response head %r" % head[:80]):
            return
        want = h.det_bytes(2000 + STREAMS - 1, READ_BACK)
        buf = bytearray(body)
        end = time.monotonic() + h.limit(h.dl(20))
        while len(buf) < READ_BACK and time.monotonic() < end:
            s.settimeout(max(0.1, end - time.monotonic()))
            try:
                b = s.recv(1 << 20)
            except (socket.timeout, OSError) as e:
                h.check(False, "last stream: read stalled after %d bytes: %r" % (len(buf), e))
                os.kill(server.pid, signal.SIGUSR1)  # flow-control state into the logs ("flow:" lines)
                os.kill(client.pid, signal.SIGUSR1)
                time.sleep(0.5)
                break
            if not b:
                break
            buf += b
        got = bytes(buf[:READ_BACK])
        h.check_eq(len(got), READ_BACK, "last stream: bytes read while 49 others stay unread")
        h.check(got == want[:len(got)], "last stream: data intact")


if __name__ == "__main__":
    h.main(test)
