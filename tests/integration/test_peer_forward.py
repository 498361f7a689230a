# SPDX-License-Identifier: MIT
# Peer forwards: client alice reaches HOST:HOSTPORT as seen from client bob, relayed by the
# server; both clients only dial out. 64 MiB intact each way at once; bob exposes only what his
# line in the clients file lists (expose=); an unknown or absent peer is refused with a reason
# in the server's log, and alice's connection is closed, never hung.
import socket
import threading

import harness as h

MiB = h.MiB
SIZE = 64 * MiB










def closed_without_data(port):
    """Connects, sends a little, and expects the far side to end the connection unanswered. The
    reset may come so soon that connect() itself reports it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(10))) as s:
            s.sendall(b"hello?")
            return h.read_to_eof(s, max_bytes=100, timeout=h.dl(10)) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def listening_port(client, what, peer):
    m = client.wait_for(r"peer-forward to %s via %s listening on 127\.0\.0\.1:(\d+)" % (what, peer), h.dl(10))
    return int(m.group(1))


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        alice, bob = h.make_secret(), h.make_secret()
        src, snk, echo = h.start_source_server(31, SIZE), h.start_sink_server(), h.start_echo_server()
        _, hidden = h.refused_port()
        server, sport = h.start_server(d, {
            "alice": alice,
            "bob": bob + " expose=127.0.0.1:%d,localhost:%d,127.0.0.1:%d" % (src, snk, echo)})
        b, _ = h.start_client(d, sport, pin, "bob", bob)
        a, _ = h.start_client(d, sport, pin, "alice", alice, extra=(
            "peer-forward = 0:bob:127.0.0.1:%d" % src,
            "peer-forward = 127.0.0.1:0:bob:localhost:%d" % snk,
            "peer-forward = 0:bob:127.0.0.1:%d" % echo,
            "peer-forward = 0:bob:127.0.0.1:%d" % hidden,
            "peer-forward = 0:nobody:127.0.0.1:%d" % echo))
        f_src = listening_port(a, r"127\.0\.0\.1:%d" % src, "bob")
        f_snk = listening_port(a, r"localhost:%d" % snk, "bob")
        f_echo = listening_port(a, r"127\.0\.0\.1:%d" % echo, "bob")
        f_hidden = listening_port(a, r"127\.0\.0\.1:%d" % hidden, "bob")
        f_nobody = listening_port(a, r"127\.0\.0\.1:%d" % echo, "nobody")

        def both():
            res = {}
            t = threading.Thread(target=lambda: res.update(up=h.upload_det(f_snk, 32, SIZE)))
            t.start()
            res["down"] = h.download_sha256(f_src)
            t.join(h.limit(h.dl(90)))
            h.check_eq(res["down"], h.det_sha256(31, SIZE), "64 MiB from bob's side to alice")
            h.check_eq(res.get("up"), h.det_sha256(32, SIZE), "64 MiB from alice to bob's side")
            with socket.create_connection(("127.0.0.1", f_echo), timeout=h.limit(10)) as s:
                s.sendall(b"round trip")
                h.check_eq(h.recv_exact(s, 10), b"round trip", "echo through the peer forward")

        def not_exposed():
            mark = server.mark()
            h.check(closed_without_data(f_hidden), "a target bob does not expose: connection closed")
            server.wait_for(r'"bob" does not expose it; add expose=127\.0\.0\.1:%d' % hidden, h.dl(10), since=mark)
            h.check(closed_without_data(f_nobody), "an unknown peer: connection closed")
            server.wait_for(r'via "nobody" refused: no client of that name', h.dl(10), since=mark)

        def peer_gone():
            mark = server.mark()
            b.stop()
            h.check(closed_without_data(f_echo), "peer not connected: connection closed")
            server.wait_for(r'"bob" is not connected', h.dl(10), since=mark)
            # bob comes back: the same forward works again.
            h.start_client(d, sport, pin, "bob", bob, tag="bob2")
            with socket.create_connection(("127.0.0.1", f_echo), timeout=h.limit(10)) as s:
                s.sendall(b"bob is back")
                h.check_eq(h.recv_exact(s, 11), b"bob is back", "echo once bob reconnected")

        h.run_cases([("64 MiB each way between two clients through the server", both),
                     ("only what the clients file exposes", not_exposed),
                     ("the peer leaves and comes back", peer_gone)])


if __name__ == "__main__":
    h.main(run)
