# SPDX-License-Identifier: MIT
# Probe fallback: with `fallback = HOST:PORT` on the server, a connection that does not
# authenticate is relayed (TLS terminated, with the bytes it already sent) to a real web
# server, so `curl -k https://server:port/` gets that server's page; real clients still work.
import socket
import subprocess

import harness as h

PAGE = b"<html>an ordinary web site</html>\n"


def web_server():
    def handle(sock):
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 65536:
            b = sock.recv(4096)
            if not b:
                return
            req += b
        first = req.split(b"\r\n", 1)[0]
        body = PAGE + b"you asked: " + first + b"\n"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % len(body) + body)
    return h.start_tcp_server(handle)


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        web = web_server()
        server, sport = h.start_server(d, {"alice": secret},
                                       extra=("fallback = 127.0.0.1:%d" % web,))
        client, socks = h.start_client(d, sport, pin, "alice", secret)

        def curl_probe():
            r = subprocess.run(["curl", "-sk", "--noproxy", "*", "--max-time", str(h.dl(10)),
                                "https://127.0.0.1:%d/probe/path" % sport],
                               capture_output=True, timeout=h.dl(20))
            h.check_eq(r.returncode, 0, "curl exit status (stderr %r)" % r.stderr[-200:])
            h.check_in(PAGE.decode(), r.stdout.decode(errors="replace"), "the fallback's page")
            h.check_in("GET /probe/path HTTP/1.1", r.stdout.decode(errors="replace"),
                       "the probe's own request reached the fallback")
            server.wait_for(r"auth failed from .*not a HELLO", h.dl(5))

        def client_still_works():
            echo = h.start_echo_server()
            s, rep = h.socks5_connect(socks, "127.0.0.1", echo)
            h.check_eq(rep, 0, "socks reply through the real session")
            if s:
                s.sendall(b"hello")
                h.check_eq(h.recv_exact(s, 5), b"hello", "echo through the tunnel")
                s.close()

        h.run_cases([("curl -k https://server/ gets the fallback's page", curl_probe),
                     ("authenticated clients are unaffected", client_still_works)])


if __name__ == "__main__":
    h.main(run)
