# SPDX-License-Identifier: MIT
# SIGTERM during transfers (DRAIN_S = 5 s, limits.h):
#  - client: 4 downloads of 4 MiB, each paced to take ~2 s, are running; on SIGTERM the SOCKS5
#    listener closes at once (new connects refused), the running downloads complete intact
#    within the drain time, and the client exits 0;
#  - server: the same with SIGTERM to the server: its TLS listener closes at once, the running
#    downloads complete intact, and the server exits 0 (and removes its pidfile).
import hashlib
import os
import signal
import socket
import threading
import time

import harness as h

MiB = h.MiB
SIZE = 4 * MiB
RATE = 2 * MiB          # bytes per second per download: ~2 s each
PIECE = 64 * 1024
TRANSFERS = 4
DRAIN_S = 5


def paced_source(sock):
    """Reads "SEED\\n", then sends det_chunks(SEED, SIZE) at RATE bytes/s and closes."""
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(64)
        if not b:
            return
        line += b
    seed = int(line.strip())
    t0 = time.monotonic()
    sent = 0
    for c in h.det_chunks(seed, SIZE, chunk=PIECE):
        due = t0 + sent / RATE
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        sock.sendall(c)
        sent += len(c)
    sock.shutdown(socket.SHUT_WR)
    # wait for the peer's close so the last bytes are not reset away
    sock.settimeout(h.dl(20))
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


class Download:
    def __init__(self, socks_port, port, seed):
        self.seed = seed
        self.got = 0
        self.digest = None
        self.err = None
        self.done_at = None
        self.s, rep = h.socks5_connect(socks_port, "127.0.0.1", port, timeout=h.dl(10))
        if rep != 0:
            raise RuntimeError("SOCKS5 reply %d" % rep)
        self.s.sendall(b"%d\n" % seed)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        hasher = hashlib.sha256()
        try:
            self.s.settimeout(h.dl(20))
            while True:
                b = self.s.recv(256 * 1024)
                if not b:
                    break
                hasher.update(b)
                self.got += len(b)
            self.digest = hasher.hexdigest()
        except Exception as e:
            self.err = "%s: %s" % (type(e).__name__, e)
        finally:
            self.done_at = time.monotonic()
            self.s.close()


def refused_within(connect, seconds):
    """Seconds until a connect attempt is refused (tries every 20 ms), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            s = connect()
            s.close()
        except ConnectionRefusedError:
            return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.02)
    return None


def run_case(who, proc, socks_port, src_port, seeds, refused_connect):
    downloads = [Download(socks_port, src_port, s) for s in seeds]
    # all of them are under way
    end = time.monotonic() + h.dl(5)
    while time.monotonic() < end and not all(d.got > 256 * 1024 for d in downloads):
        time.sleep(0.05)
    h.log("%s: before SIGTERM: %s bytes received" % (who, [d.got for d in downloads]))
    h.check(all(0 < d.got < SIZE for d in downloads),
            "%s: every download under way and unfinished at SIGTERM: %s"
            % (who, [d.got for d in downloads]))
    try:
        refused_connect().close()  # control: the listener accepts before SIGTERM
    except OSError as e:
        h.check(False, "%s: connect before SIGTERM failed: %r" % (who, e))
    mark = proc.mark()
    t_term = time.monotonic()
    proc.kill(signal.SIGTERM, wait=0)
    el = refused_within(refused_connect, 1.0)
    h.check(el is not None, "%s: new connections still accepted 1 s after SIGTERM" % who)
    if el is not None:
        h.log("%s: listener refuses connections %.3f s after SIGTERM" % (who, el))
    for d in downloads:
        d.t.join(h.limit(DRAIN_S + 5))
    for d in downloads:
        what = "%s: download seed %d" % (who, d.seed)
        h.check(d.err is None, "%s failed: %s" % (what, d.err))
        h.check_eq(d.got, SIZE, what + ": bytes")
        h.check_eq(d.digest, h.det_sha256(d.seed, SIZE), what + ": sha256")
        if d.done_at:
            h.check(d.done_at - t_term <= DRAIN_S, "%s completed %.2f s after SIGTERM, beyond the "
                    "%d s drain" % (what, d.done_at - t_term, DRAIN_S))
    h.log("%s: downloads completed %s s after SIGTERM" % (
        who, ["%.2f" % (d.done_at - t_term) for d in downloads if d.done_at]))
    try:
        proc.p.wait(timeout=h.limit(DRAIN_S + 3))
    except Exception:
        pass
    rc = proc.p.poll()
    h.check_eq(rc, 0, "%s: exit status after SIGTERM" % who)
    if rc is not None:
        h.log("%s: exited %.2f s after SIGTERM" % (who, time.monotonic() - t_term))
    h.check(proc.find(r"stopping: listeners closed, draining", since=mark) is not None,
            "%s: logged the drain" % who)
    h.check(proc.find(r"resetting \d+ open streams", since=mark) is None,
            "%s: streams were reset at the end of the drain: %s" % (
                who, proc.find(r"resetting.*", since=mark) and
                proc.find(r"resetting.*", since=mark).group(0)))


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        src_port = h.start_tcp_server(paced_source)
        pidfile = os.path.join(d, "server.pid")
        server, sport = h.start_server(d, {"alice": secret}, extra=("pidfile = %s" % pidfile,))
        server.wait_for(r"\) started", h.dl(10))  # logged once the pidfile is written
        with open(pidfile) as f:
            h.check_eq(f.read(), "%d\n" % server.pid, "pidfile holds the server's pid")

        def client_sigterm():
            client, socks_port = h.start_client(d, sport, pin, "alice", secret, tag="alice1")
            run_case("client", client, socks_port, src_port, range(1, 1 + TRANSFERS),
                     lambda: socket.create_connection(("127.0.0.1", socks_port), timeout=1))
            h.check(server.alive(), "server still running after the client stopped")

        def server_sigterm():
            client, socks_port = h.start_client(d, sport, pin, "alice", secret, tag="alice2")
            run_case("server", server, socks_port, src_port, range(11, 11 + TRANSFERS),
                     lambda: socket.create_connection(("127.0.0.1", sport), timeout=1))
            h.check(client.alive(), "client still running after the server stopped")
            h.check(not os.path.exists(pidfile), "pidfile removed when the server exits")

        h.run_cases([
            ("SIGTERM to the client during transfers", client_sigterm),
            ("SIGTERM to the server during transfers", server_sigterm),
        ])


if __name__ == "__main__":
    h.main(test)
