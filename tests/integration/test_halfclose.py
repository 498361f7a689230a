# SPDX-License-Identifier: MIT
# Half-close through the tunnel, both directions: a FIN crosses without closing the other
# direction, and every byte before it arrives (delayed close).
#  - client -> target: the client writes a request and shuts down its write side; the target reads
#    to EOF, answers with the SHA-256 of the request plus 1 MiB, closes; the client reads it all.
#  - target -> client: the target sends 1 MiB and shuts down its write side while still reading;
#    the client reads to EOF, then keeps sending; the target receives all of it.
import hashlib
import queue
import socket

import harness as h

MiB = h.MiB
RESPONSE = MiB


def request_then_eof_server(sock):
    """Reads to EOF, then sends sha256(request) + RESPONSE deterministic bytes and closes."""
    hasher = hashlib.sha256()
    n = h.read_to_eof(sock, hasher=hasher)
    sock.sendall(hasher.digest() + n.to_bytes(8, "big"))
    for c in h.det_chunks(7, RESPONSE):
        sock.sendall(c)
    sock.shutdown(socket.SHUT_WR)


def client_shuts_first(socks_port, port, req_size, label):
    what = "%s: client half-close after %d bytes" % (label, req_size)
    s, rep = h.socks5_connect(socks_port, "127.0.0.1", port)
    if not h.check_eq(rep, 0, what + ": socks5 reply"):
        return
    try:
        s.settimeout(h.limit(h.dl(15)))
        req = h.det_bytes(100 + req_size, req_size)
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        got = h.read_to_eof(s, max_bytes=RESPONSE + 100, timeout=h.dl(15))
        h.check_eq(len(got), 32 + 8 + RESPONSE, what + ": response length")
        h.check_eq(got[:32].hex(), h.sha256(req), what + ": target's sha256 of the request")
        h.check_eq(int.from_bytes(got[32:40], "big"), req_size, what + ": target's byte count")
        h.check_eq(h.sha256(got[40:]), h.det_sha256(7, RESPONSE), what + ": response sha256")
    finally:
        s.close()


def make_target_shuts_first(results):
    def target_shuts_first(sock):
        """Sends RESPONSE bytes, shuts down writing, keeps reading to EOF; reports what it got."""
        for c in h.det_chunks(9, RESPONSE):
            sock.sendall(c)
        sock.shutdown(socket.SHUT_WR)
        hasher = hashlib.sha256()
        try:
            n = h.read_to_eof(sock, hasher=hasher)
            results.put((n, hasher.hexdigest()))
        except Exception as e:
            results.put((-1, "%s: %s" % (type(e).__name__, e)))
    return target_shuts_first


def target_shuts_first(socks_port, port, results, send_size, label):
    what = "%s: target half-close, client then sends %d bytes" % (label, send_size)
    while not results.empty():
        results.get_nowait()
    s, rep = h.socks5_connect(socks_port, "127.0.0.1", port)
    if not h.check_eq(rep, 0, what + ": socks5 reply"):
        return
    try:
        got = h.read_to_eof(s, max_bytes=RESPONSE + 100, timeout=h.dl(15))
        h.check_eq(len(got), RESPONSE, what + ": bytes before EOF")
        h.check_eq(h.sha256(got), h.det_sha256(9, RESPONSE), what + ": sha256 before EOF")
        # the stream stays writable after the EOF from the target
        payload = h.det_bytes(300 + send_size, send_size)
        s.settimeout(h.limit(h.dl(15)))
        try:
            # send in pieces so a reset shows up as an error here rather than silently
            for i in range(0, len(payload), 64 * 1024):
                s.sendall(payload[i:i + 64 * 1024])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            h.check(False, what + ": sending after EOF failed: %r" % e)
            return
        try:
            n, digest = results.get(timeout=h.limit(h.dl(15)))
        except queue.Empty:
            h.check(False, what + ": target did not see EOF within %.0f s" % h.dl(15))
            return
        h.check_eq(n, send_size, what + ": bytes the target received")
        h.check_eq(digest, h.sha256(payload), what + ": sha256 the target received")
        # after both FINs the connection ends: the client sees EOF (already) and no reset trouble
        rest = h.read_to_eof(s, timeout=h.dl(10))
        h.check_eq(rest, b"", what + ": nothing after EOF")
    finally:
        s.close()


def test():
    with h.Tunnel(connect_reply="confirmed") as t:
        early, early_port = t.second_client(connect_reply=None, tag="carol-early")
        p1 = h.start_tcp_server(request_then_eof_server)
        results = queue.Queue()
        p2 = h.start_tcp_server(make_target_shuts_first(results))
        cases = []
        for label, sp in (("confirmed", t.socks_port), ("early", early_port)):
            for size in (0, 1, 100 * 1024, 3 * MiB):
                cases.append(("%s: client shuts down first, %d byte request" % (label, size),
                              lambda sp=sp, size=size, label=label:
                              client_shuts_first(sp, p1, size, label)))
            for size in (1, 3 * MiB):
                cases.append(("%s: target shuts down first, client sends %d after EOF"
                              % (label, size),
                              lambda sp=sp, size=size, label=label:
                              target_shuts_first(sp, p2, results, size, label)))
        h.run_cases(cases)
        h.check(t.server.alive(), "server still running")
        h.check(t.client.alive() and early.alive(), "clients still running")


if __name__ == "__main__":
    h.main(test)
