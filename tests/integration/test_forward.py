# SPDX-License-Identifier: MIT
# ssh -L style forwards: a 64 MiB transfer intact in each direction through one forward, two
# forwards at once to different targets, and a malformed forward spec refused with file:line.
import hashlib
import os
import socket
import threading

import harness as h

MiB = h.MiB
SIZE = 64 * MiB


def source(seed, n):
    def handle(sock):
        for c in h.det_chunks(seed, n):
            sock.sendall(c)
        sock.shutdown(socket.SHUT_WR)
    return h.start_tcp_server(handle)


def sink():
    """Reads to EOF and answers with the SHA-256 of what it got."""
    def handle(sock):
        hasher = hashlib.sha256()
        h.read_to_eof(sock, hasher=hasher)
        sock.sendall(hasher.hexdigest().encode())
    return h.start_tcp_server(handle)


def forward_port(client, target_port):
    m = client.wait_for(r"forward to 127\.0\.0\.1:%d listening on 127\.0\.0\.1:(\d+)" % target_port,
                        h.dl(10))
    return int(m.group(1))


def download(port, n):
    hasher = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(60))) as s:
        got = h.read_to_eof(s, hasher=hasher, timeout=h.dl(60))
    return got, hasher.hexdigest()


def upload(port, seed, n):
    with socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(60))) as s:
        for c in h.det_chunks(seed, n):
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        return h.read_to_eof(s, max_bytes=100, timeout=h.dl(60)).decode()


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret})
        src, snk = source(11, SIZE), sink()
        client, _ = h.start_client(d, sport, pin, "alice", secret, extra=(
            "forward = 0:127.0.0.1:%d" % src, "forward = 127.0.0.1:0:localhost:%d" % snk))
        fsrc, fsnk = forward_port(client, src), None
        m = client.wait_for(r"forward to localhost:%d listening on 127\.0\.0\.1:(\d+)" % snk, h.dl(10))
        fsnk = int(m.group(1))

        def both():
            res = {}
            t = threading.Thread(target=lambda: res.update(up=upload(fsnk, 12, SIZE)))
            t.start()
            res["down"] = download(fsrc, SIZE)
            t.join(h.limit(h.dl(90)))
            h.check_eq(res["down"][1], h.det_sha256(11, SIZE), "64 MiB through forward 1 (download)")
            h.check_eq(res.get("up"), h.det_sha256(12, SIZE), "64 MiB through forward 2 (upload)")

        def malformed():
            conf = h.write(os.path.join(d, "bad.conf"), "\n".join([
                "[client]", "server = 127.0.0.1:1", "server-pin = %s" % pin, "name = alice",
                "secret-file = %s" % os.path.join(d, "alice.secret"), "forward = 8080:nohostport",
                ""]))
            r = h.run_braid(["check-config", "-c", conf])
            h.check_eq(r.returncode, 2, "malformed forward: exit status")
            h.check_in("bad.conf:6:", r.stderr, "malformed forward: file:line")
            h.check_in("HOSTPORT", r.stderr, "malformed forward: says what is expected")

        h.run_cases([("two forwards at once, 64 MiB each way", both),
                     ("malformed forward spec", malformed)])


if __name__ == "__main__":
    h.main(run)
