# SPDX-License-Identifier: MIT
# The HTTP proxy front door (`http = ...`), driven by curl and by raw sockets:
#  - GET of 32 MiB and POST of 3 MiB (Content-Length and chunked) with SHA-256 compare;
#  - keep-alive: two URLs in one curl command reuse the connection, also across targets; raw
#    requests on one connection (chunked response, HEAD, 204, close-delimited) reach the target
#    over one connection, with the head rewritten (origin form, hop-by-hop headers removed);
#  - CONNECT through curl --proxytunnel;
#  - real statuses: refused target 502, ACL-denied 403, proxy auth 407 then success, bad
#    requests 400 / 501 / 431, a silent client 408;
#  - an IPv6 loopback target [::1] when the machine has one.
import hashlib
import os
import re
import socket
import threading
import time

import harness as h

MiB = h.MiB


# ---------------------------------------------------------------------------------------------
# helpers

def curl_http(proxy_port, urls, extra=(), timeout=None, out_hasher=None, fail=True):
    """Runs curl through the HTTP proxy at 127.0.0.1:proxy_port; returns (rc, body_or_count,
    stderr). Without fail, HTTP error statuses are not curl errors (-w prints the code)."""
    timeout = h.limit(timeout or h.dl(60))
    urls = [urls] if isinstance(urls, str) else list(urls)
    args = ["curl", "-sS", "--max-time", str(int(timeout)), "--noproxy", "",
            "-x", "http://127.0.0.1:%d" % proxy_port, "-H", "Expect:"]
    if fail:
        args.append("--fail")
    args += list(extra) + urls
    return h.run_curl(args, timeout, out_hasher)


def http_port(client):
    return int(client.wait_for(r"http listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))


def status_of(proxy_port, url, extra=()):
    """(HTTP status as curl saw it, body, stderr) of one request through the proxy."""
    rc, body, err = curl_http(proxy_port, url, extra=list(extra) + ["-w", "\n%{http_code}"],
                              fail=False)
    text = body.decode("utf-8", "replace")
    code = text.rsplit("\n", 1)[-1]
    return code, text.rsplit("\n", 1)[0], err


class Resp:
    def __init__(self, status, headers, body, head):
        self.status, self.headers, self.body, self.head = status, headers, body, head


_REST = {}  # socket -> bytes read past a response, for pipelined reads (keep_rest=True)


def read_response(s, head_request=False, keep_rest=False):
    """Reads one HTTP/1.1 response from s (Content-Length, chunked, no body, or close). Bytes
    after it are an error, unless keep_rest: then they start the next read_response(s)
    (pipelined responses may share a segment)."""
    buf = _REST.pop(s, b"")
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("EOF before a response head (%r)" % buf[:200])
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    buf = rest

    def need(n):
        nonlocal buf
        while len(buf) < n:
            b = s.recv(65536)
            if not b:
                raise ConnectionError("EOF inside a response body")
            buf += b

    if head_request or status in (204, 304) or status < 200:
        body = b""
    elif hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            line, buf = buf.split(b"\r\n", 1)
            n = int(line.split(b";")[0], 16)
            if n == 0:
                while not buf.startswith(b"\r\n"):
                    while b"\r\n" not in buf:
                        need(len(buf) + 1)
                    buf = buf.split(b"\r\n", 1)[1]
                buf = buf[2:]
                break
            need(n + 2)
            body += buf[:n]
            buf = buf[n + 2:]
    elif "content-length" in hdrs:
        n = int(hdrs["content-length"])
        need(n)
        body, buf = buf[:n], buf[n:]
    else:
        body = buf + h.read_to_eof(s)
        buf = b""
    if buf and keep_rest:
        _REST[s] = buf
    elif buf:
        raise ConnectionError("extra bytes after the response: %r" % buf[:100])
    return Resp(status, hdrs, body, head.decode("latin-1"))


def raw_request(proxy_port, data, timeout=None):
    """Sends raw bytes to the proxy, returns everything it answers until it closes."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=h.limit(timeout or h.dl(15)))
    try:
        s.sendall(data)
        return h.read_to_eof(s, timeout=h.limit(timeout or h.dl(15)))
    finally:
        s.close()


# A target that keeps connections alive and counts them: GET /echo returns the request head it
# received; /chunked a chunked body; /head a Content-Length without a body for HEAD; /204 no
# content; /close a body delimited by closing the connection.
class Target:
    def __init__(self):
        self.connections = 0
        self.lock = threading.Lock()
        self.port = h.start_tcp_server(self.handle)

    def handle(self, s):
        with self.lock:
            self.connections += 1
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                b = s.recv(65536)
                if not b:
                    return
                buf += b
            head, buf = buf.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n")[0].decode()
            method, path = line.split(" ")[:2]
            if path == "/chunked":
                s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"5;x=y\r\nhello\r\n7\r\n chunks\r\n0\r\nX-Trailer: 1\r\n\r\n")
            elif path == "/head":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            elif path == "/204":
                s.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif path == "/close":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
                s.shutdown(socket.SHUT_WR)
                return
            else:
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(head) + head)


class _HTTPServer6(h._HTTPServer):
    address_family = socket.AF_INET6


def start_http_server6():
    """The harness HTTP target on [::1] (harness.start_http_server binds IPv4 only)."""
    srv = _HTTPServer6(("::1", 0), h._HTTPHandler)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    th.start()
    h.at_cleanup(lambda: (srv.shutdown(), srv.server_close()))
    return srv.server_address[1]


# ---------------------------------------------------------------------------------------------

def test():
    v6 = h.have_ipv6_loopback()
    allow = ("127.0.0.1/32", "::1/128") if v6 else ("127.0.0.1/32",)
    with h.Tunnel(connect_reply="confirmed", allow=allow,
                  client_extra=("http = 127.0.0.1:0",)) as t:
        port = http_port(t.client)
        web = h.start_http_server()
        _, closed = h.refused_port()
        d = t.dir

        def get_large():
            n = 32 * MiB
            hasher = hashlib.sha256()
            rc, count, err = curl_http(port, "http://127.0.0.1:%d/data/7/%d" % (web, n),
                                       out_hasher=hasher)
            h.check_eq(rc, 0, "GET 32 MiB: curl rc (%s)" % err.strip())
            h.check_eq(count, n, "GET 32 MiB: bytes")
            h.check_eq(hasher.hexdigest(), h.det_sha256(7, n), "GET 32 MiB: sha256")

        def post_bodies():
            n = 3 * MiB + 17
            path = h.write_det_file(os.path.join(d, "upload"), 11, n)
            want = "%s %d" % (h.sha256_file(path), n)
            rc, body, err = curl_http(port, "http://127.0.0.1:%d/up" % web,
                                      extra=["--data-binary", "@" + path])
            h.check_eq(rc, 0, "POST: curl rc (%s)" % err.strip())
            h.check_eq(body.decode().strip(), want, "POST Content-Length body")
            rc, body, err = curl_http(port, "http://127.0.0.1:%d/up" % web,
                                      extra=["-H", "Transfer-Encoding: chunked",
                                             "--data-binary", "@" + path])
            h.check_eq(rc, 0, "chunked POST: curl rc (%s)" % err.strip())
            h.check_eq(body.decode().strip(), want, "POST chunked body")
            rc, body, err = curl_http(port, "http://127.0.0.1:%d/up" % web,
                                      extra=["-X", "PUT", "--data-binary", ""])
            h.check_eq(body.decode().strip(), "%s 0" % hashlib.sha256(b"").hexdigest(),
                       "PUT with an empty body")

        def keep_alive_curl():
            u = "http://127.0.0.1:%d/data/3/1000" % web
            rc, body, err = curl_http(port, [u, u], extra=["-v"])
            h.check_eq(rc, 0, "two URLs: curl rc")
            h.check_eq(body, h.det_bytes(3, 1000) * 2, "two URLs: bodies")
            h.check_in("Re-using existing connection", err, "two URLs: connection reused")
            # Across targets: the proxy connection stays, the stream changes.
            tg = Target()
            u2 = "http://127.0.0.1:%d/echo" % tg.port
            rc, body, err = curl_http(port, [u, u2, u], extra=["-v"])
            h.check_eq(rc, 0, "three URLs, two targets: curl rc (%s)" % err[-300:])
            h.check(body.startswith(h.det_bytes(3, 1000)) and body.endswith(h.det_bytes(3, 1000)),
                    "three URLs, two targets: bodies")
            h.check_in(b"GET /echo HTTP/1.1", body, "origin-form request line at the target")
            h.check_eq(err.count("Re-using existing connection"), 2, "three URLs: reuses")

        def keep_alive_raw():
            tg = Target()
            s = socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(15)))
            try:
                base = "http://127.0.0.1:%d" % tg.port
                s.sendall(("GET %s/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Connection: keep-alive"
                           "\r\nConnection: X-Drop\r\nX-Drop: 1\r\nX-Keep: 2\r\nProxy-Authorization: "
                           "Basic eDp5\r\nTE: trailers\r\n\r\n" % base).encode())
                r = read_response(s)
                h.check_eq(r.status, 200, "echo status")
                head = r.body.decode()
                h.check(head.startswith("GET /echo HTTP/1.1\r\n"), "echo: request line %r" % head[:60])
                h.check_in("Host: 127.0.0.1:%d" % tg.port, head, "echo: Host from the URI")
                h.check_in("X-Keep: 2", head, "echo: end-to-end header kept")
                for gone in ("X-Drop", "Proxy-Connection", "Proxy-Authorization", "TE:",
                             "Connection"):
                    h.check(gone not in head, "echo: %s removed: %r" % (gone, head))
                s.sendall(("GET %s/chunked HTTP/1.1\r\n\r\n" % base).encode())
                r = read_response(s)
                h.check_eq(r.body, b"hello chunks", "chunked response")
                s.sendall(("HEAD %s/head HTTP/1.1\r\n\r\n" % base).encode())
                r = read_response(s, head_request=True)
                h.check_eq((r.status, r.headers.get("content-length")), (200, "1000"), "HEAD")
                s.sendall(("GET %s/204 HTTP/1.1\r\n\r\n" % base).encode())
                h.check_eq(read_response(s).status, 204, "204")
                h.check_eq(tg.connections, 1, "one target connection for four requests")
                # Another target on the same client connection, then back.
                s.sendall(("GET http://127.0.0.1:%d/ HTTP/1.1\r\n\r\n" % web).encode())
                h.check_eq(read_response(s).body, b"hello from the target\n", "second target")
                s.sendall(("GET %s/close HTTP/1.1\r\n\r\n" % base).encode())
                r = read_response(s)  # close-delimited: the proxy closes after it
                h.check_eq(r.body, b"until close", "close-delimited response")
                h.check_eq(tg.connections, 2, "target connections after switching back")
            finally:
                s.close()

        def pipelined_half_close():
            tg = Target()
            s = socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(15)))
            try:
                base = "http://127.0.0.1:%d" % tg.port
                s.sendall(("GET %s/chunked HTTP/1.1\r\n\r\nGET %s/204 HTTP/1.1\r\n\r\n"
                           "GET http://127.0.0.1:%d/ HTTP/1.1\r\n\r\n" % (base, base, web)).encode())
                s.shutdown(socket.SHUT_WR)
                h.check_eq(read_response(s, keep_rest=True).body, b"hello chunks", "pipelined 1")
                h.check_eq(read_response(s, keep_rest=True).status, 204, "pipelined 2")
                h.check_eq(read_response(s).body, b"hello from the target\n", "pipelined 3")
                h.check_eq(h.read_to_eof(s, timeout=h.dl(10)), b"", "EOF after the last response")
            finally:
                s.close()

        def slow_reader():
            n = 4 * MiB
            hasher = hashlib.sha256()
            rc, count, err = curl_http(port, "http://127.0.0.1:%d/data/4/%d" % (web, n),
                                       extra=["--limit-rate", "8M"], out_hasher=hasher)
            h.check_eq((rc, count), (0, n), "rate-limited GET (%s)" % err.strip())
            h.check_eq(hasher.hexdigest(), h.det_sha256(4, n), "rate-limited GET: sha256")

        def connect_tunnel():
            n = 5 * MiB
            hasher = hashlib.sha256()
            rc, count, err = curl_http(port, "http://127.0.0.1:%d/data/5/%d" % (web, n),
                                       extra=["-p", "-v"], out_hasher=hasher)
            h.check_eq(rc, 0, "CONNECT: curl rc (%s)" % err[-300:])
            h.check_in("CONNECT 127.0.0.1:%d" % web, err, "curl used CONNECT")
            h.check_eq(hasher.hexdigest(), h.det_sha256(5, n), "CONNECT: sha256")
            rc, _, err = curl_http(port, "http://127.0.0.1:%d/" % closed, extra=["-p"])
            h.check(rc != 0, "CONNECT to a refused port fails")
            h.check_in("502", err, "CONNECT to a refused port: status")

        def refused():
            m = t.client.mark()
            code, body, _ = status_of(port, "http://127.0.0.1:%d/" % closed)
            h.check_eq(code, "502", "refused target: status")
            h.check_in("connection refused", body, "refused target: body")
            t.client.wait_for(r"http 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:%d: 502 connection refused"
                              % closed, h.dl(5), since=m)

        def denied():
            code, body, _ = status_of(port, "http://127.0.0.2:%d/" % web)
            h.check_eq(code, "403", "ACL-denied target: status")
            h.check_in("denied by the server's ACL", body, "ACL-denied target: body")

        def bad_requests():
            r = raw_request(port, b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n")
            h.check(r.startswith(b"HTTP/1.1 501 "), "https:// absolute URI: %r" % r[:60])
            h.check_in(b"CONNECT", r, "https:// absolute URI: says to use CONNECT")
            r = raw_request(port, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
            h.check(r.startswith(b"HTTP/1.1 400 "), "origin-form request: %r" % r[:60])
            r = raw_request(port, b"GARBAGE\r\n\r\n")
            h.check(r.startswith(b"HTTP/1.1 400 "), "garbage: %r" % r[:60])
            r = raw_request(port, b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 20000)
            h.check(r.startswith(b"HTTP/1.1 431 "), "oversized head: %r" % r[:60])
            r = raw_request(port, ("CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nearly" % web).encode())
            h.check(r.startswith(b"HTTP/1.1 400 "), "data before the CONNECT reply: %r" % r[:60])

        def ipv6_target():
            if not v6:
                h.log("no IPv6 loopback: skipped")
                return
            web6 = start_http_server6()
            rc, body, err = curl_http(port, "http://[::1]:%d/" % web6)
            h.check_eq((rc, body), (0, b"hello from the target\n"), "GET [::1] (%s)" % err.strip())
            rc, count, err = curl_http(port, "http://[::1]:%d/data/9/100000" % web6, extra=["-p"])
            h.check_eq((rc, count), (0, h.det_bytes(9, 100000)), "CONNECT [::1]")

        def auth():
            apath = h.write(os.path.join(d, "http.auth"), "alice:open sesame\n")
            c, _ = t.second_client(extra=("http = 127.0.0.1:0", "http-auth-file = " + apath),
                                   connect_reply="confirmed")
            aport = http_port(c)
            u = "http://127.0.0.1:%d/" % web
            code, body, _ = status_of(aport, u)
            h.check_eq(code, "407", "no credentials: status")
            r = raw_request(aport, ("GET %s HTTP/1.1\r\n\r\n" % u).encode())
            h.check_in(b'Proxy-Authenticate: Basic realm="braid"', r, "407 challenge")
            code, _, _ = status_of(aport, u, extra=["-U", "alice:wrong"])
            h.check_eq(code, "407", "wrong password: status")
            code, body, _ = status_of(aport, u, extra=["-U", "alice:open sesame"])
            h.check_eq((code, body), ("200", "hello from the target\n"), "right credentials")
            rc, body, err = curl_http(aport, u, extra=["-p", "-U", "alice:open sesame"])
            h.check_eq((rc, body), (0, b"hello from the target\n"),
                       "CONNECT with credentials (%s)" % err.strip())
            rc, _, err = curl_http(aport, u, extra=["-p"])
            h.check_in("407", err, "CONNECT without credentials")

        def head_timeout():
            s = socket.create_connection(("127.0.0.1", port), timeout=h.limit(h.dl(25)))
            try:
                t0 = time.monotonic()
                s.sendall(b"GET http://127.0.0.1/ HT")
                r = h.read_to_eof(s, timeout=h.dl(25))
                el = time.monotonic() - t0
                h.check(r.startswith(b"HTTP/1.1 408 "), "slow head: %r" % r[:60])
                h.check(8 <= el <= h.dl(15), "408 after %.1f s, expected ~10" % el)
            finally:
                s.close()

        h.run_cases([("GET 32 MiB", get_large), ("POST bodies", post_bodies),
                     ("keep-alive (curl)", keep_alive_curl), ("keep-alive (raw)", keep_alive_raw),
                     ("pipelined, half-closed", pipelined_half_close), ("slow reader", slow_reader),
                     ("CONNECT", connect_tunnel), ("refused -> 502", refused),
                     ("denied -> 403", denied), ("bad requests", bad_requests),
                     ("IPv6 target", ipv6_target), ("proxy auth", auth),
                     ("head deadline -> 408", head_timeout)])


if __name__ == "__main__":
    h.main(test)
