# SPDX-License-Identifier: MIT
# Server loss: the server is killed (SIGKILL) under a running client and a new one started on
# the same port; the client redials, establishes a session again and serves new SOCKS5
# connections. While no server runs, a request with connect-reply = confirmed fails within the
# 10 s session wait instead of hanging.
import socket
import time

import harness as h

REESTABLISH_S = 20   # restart -> "session established" again and a working request
DOWN_FAIL_S = 12     # request while down -> failure (the client waits at most 10 s)


def echo_ok(socks_port, echo_port, what, timeout=None):
    s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port, timeout=timeout)
    if not h.check_eq(rep, 0, what + ": socks5 reply"):
        return False
    try:
        s.settimeout(h.limit(h.dl(10)))
        data = h.det_bytes(11, 200 * 1024)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = h.read_to_eof(s, timeout=h.dl(10))
        return h.check(got == data, "%s: echo of 200 KiB differs: got %d bytes sha %s"
                       % (what, len(got), h.sha256(got)[:16]))
    finally:
        s.close()


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        clients = {"alice": secret}
        port = h.free_port()
        listen = "127.0.0.1:%d" % port
        echo_port = h.start_echo_server()
        state = {}

        def start_server(label):
            srv, p = h.start_server(d, clients, listen=listen, name="server-" + label)
            h.check_eq(p, port, "server %s: listening port" % label)
            state["server"] = srv
            return srv

        start_server("1")
        client, socks_port = h.start_client(d, port, pin, "alice", secret,
                                            connect_reply="confirmed")

        def baseline():
            echo_ok(socks_port, echo_port, "before the kill")

        def kill_and_restart():
            mark = client.mark()
            state["server"].kill()
            t0 = time.monotonic()
            start_server("2")
            client.wait_for(r"session established", h.dl(REESTABLISH_S), since=mark)
            h.log("session established again %.1f s after the restart"
                  % (time.monotonic() - t0))
            echo_ok(socks_port, echo_port, "after the restart")
            h.check(time.monotonic() - t0 <= h.dl(REESTABLISH_S),
                    "restart -> working request took %.1f s" % (time.monotonic() - t0))

        def request_while_down():
            mark = client.mark()
            state["server"].kill()
            t0 = time.monotonic()
            try:
                s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port,
                                          timeout=h.dl(DOWN_FAIL_S + 10))
            except h.Socks5Error as e:
                s, rep = None, "%s %r" % (e.stage, e.value)
            except (socket.timeout, TimeoutError):
                s, rep = None, "timeout"
            el = time.monotonic() - t0
            h.log("request while down: reply %r after %.1f s" % (rep, el))
            h.check(rep != 0 and rep != "timeout",
                    "request while the server is down must fail, got %r" % rep)
            h.check(el <= h.dl(DOWN_FAIL_S),
                    "request while down took %.1f s to fail (limit %d s)" % (el, DOWN_FAIL_S))
            if s:
                s.close()
            # and the client comes back once a server is there again
            t1 = time.monotonic()
            start_server("3")
            client.wait_for(r"session established", h.dl(REESTABLISH_S), since=mark)
            echo_ok(socks_port, echo_port, "after the second restart")
            h.check(time.monotonic() - t1 <= h.dl(REESTABLISH_S),
                    "second restart -> working request took %.1f s" % (time.monotonic() - t1))

        def open_stream_at_kill():
            # a stream open when the server dies cannot survive a server that forgot the
            # session: once the client has a new session the old stream must end (close or
            # reset), and new streams work
            s, rep = h.socks5_connect(socks_port, "127.0.0.1", echo_port)
            if not h.check_eq(rep, 0, "stream before the third kill: socks5 reply"):
                return
            try:
                s.sendall(b"ping")
                s.settimeout(h.dl(10))
                h.check_eq(h.recv_exact(s, 4), b"ping", "stream before the third kill: echo")
                mark = client.mark()
                state["server"].kill()
                start_server("4")
                client.wait_for(r"session established", h.dl(REESTABLISH_S), since=mark)
                echo_ok(socks_port, echo_port, "new stream after the third restart")
                try:
                    rest = h.read_to_eof(s, timeout=h.dl(10))
                    h.check_eq(rest, b"", "old stream after the new session: bytes before end")
                except (socket.timeout, TimeoutError):
                    h.check(False, "old stream still open %.0f s after the client started a "
                            "new session" % h.dl(10))
            finally:
                s.close()

        h.run_cases([
            ("baseline", baseline),
            ("kill -9 the server, restart on the same port", kill_and_restart),
            ("request while the server is down fails in time", request_while_down),
            ("kill with a stream open", open_stream_at_kill),
        ])
        h.check(client.alive(), "client still running")


if __name__ == "__main__":
    h.main(test)
