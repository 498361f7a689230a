# SPDX-License-Identifier: MIT
# Shared scaffolding for braid's integration tests: temp dirs, key material, braid processes with
# readiness waits on their stderr, SOCKS5 and wire-level helpers, local target servers (echo,
# HTTP), checks that print both sides, and cleanup that kills every started process by PID.
# Standard library only, plus the `curl` command line tool.
import base64
import hashlib
import hmac
import os
import random
import re
import resource
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BRAID = os.environ.get("BRAID") or os.path.join(HERE, "..", "..", "build", "braid")
SANITIZE = os.environ.get("BRAID_SANITIZE", "").upper() == "ON"
SCALE = 3.0 if SANITIZE else 1.0
MiB = 1024 * 1024
_T0 = time.monotonic()


def dl(seconds):
    """A deadline length, stretched under sanitizers."""
    return seconds * SCALE


# Each test file must end well inside CTest's 300 s TIMEOUT (and under ~120 s normally): waits are
# cut to what is left of this budget, and cases that start after it is spent fail at once.
BUDGET_S = min(dl(100), 280)


def remaining():
    """Seconds left of the test file's time budget."""
    return _T0 + BUDGET_S - time.monotonic()


def limit(seconds):
    """seconds, cut to the remaining budget (at least 1 s so a check can still fail cleanly)."""
    return max(1.0, min(seconds, remaining()))


# ---------------------------------------------------------------------------------------------
# checks

_failures = []
_lock = threading.Lock()


def _fmt(v, limit=300):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def check(cond, what):
    """Records a failure (and prints it) unless cond is true. Returns cond."""
    if not cond:
        with _lock:
            _failures.append(what)
        print("FAIL: %s" % what, flush=True)
    return bool(cond)


def check_eq(a, b, what=""):
    """Records "FAIL: what: a vs b" unless a == b. Returns a == b."""
    if a != b:
        msg = "%s: %s vs %s" % (what, _fmt(a), _fmt(b)) if what else "%s vs %s" % (_fmt(a), _fmt(b))
        with _lock:
            _failures.append(msg)
        print("FAIL: " + msg, flush=True)
        return False
    return True


def check_in(needle, haystack, what=""):
    ok = needle in haystack
    if not ok:
        check(False, "%s: %s not in %s" % (what, _fmt(needle), _fmt(haystack, 2000)))
    return ok


def failures():
    return list(_failures)


def log(msg):
    print("[%7.2f] %s" % (time.monotonic() - _T0, msg), flush=True)


# ---------------------------------------------------------------------------------------------
# processes

_procs = []
_cleanups = []


class Proc:
    """A started process; stderr is read line by line in the background into `lines` and a log
    file, so tests can wait for readiness lines with a deadline."""

    def __init__(self, args, name, logdir, cwd=None):
        self.args = list(args)
        self.name = name
        self.logpath = os.path.join(logdir, "%s.%d.log" % (name, len(_procs)))
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.logfile = open(self.logpath, "w")
        self.p = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, cwd=cwd, start_new_session=True)
        self.pid = self.p.pid
        _procs.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        f = self.p.stderr
        for raw in iter(f.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                self.logfile.write(line + "\n")
                self.logfile.flush()
            except ValueError:
                pass
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        """Index of the next log line: pass as `since` to wait only for lines logged later."""
        with self.cond:
            return len(self.lines)

    def find(self, regex, since=0):
        """First match of regex among the lines logged so far (from `since`), or None."""
        r = re.compile(regex)
        with self.cond:
            for line in self.lines[since:]:
                m = r.search(line)
                if m:
                    return m
        return None

    def wait_for(self, regex, timeout, since=0):
        """Waits up to timeout s for a line matching regex; returns the match. Raises
        TimeoutError (with the log tail) on timeout or if the process exits first."""
        r = re.compile(regex)
        deadline = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = r.search(self.lines[i])
                    i += 1
                    if m:
                        return m
                if self.eof:
                    raise TimeoutError("%s exited (rc %s) before logging /%s/\n%s" % (
                        self.name, self.p.poll(), regex, self.tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s: no line /%s/ within %.1f s\n%s" % (
                        self.name, regex, timeout, self.tail()))
                self.cond.wait(min(left, 0.5))

    def wait_count(self, regex, n, timeout, since=0):
        """Waits until n lines (from `since`) match regex; raises TimeoutError like wait_for."""
        for _ in range(n):
            m = self.wait_for(regex, timeout, since)
            with self.cond:
                # continue after the line that matched
                for j in range(since, len(self.lines)):
                    if m.string is self.lines[j]:
                        since = j + 1
                        break
        return since

    def tail(self, n=40):
        with self.cond:
            body = "\n".join("    " + l for l in self.lines[-n:])
        return "  --- last lines of %s (%s) ---\n%s" % (self.name, self.logpath, body)

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGKILL, wait=5.0):
        """Sends sig to this process (by PID) and waits up to `wait` s for it to exit."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
        return self.p.poll()

    def stop(self):
        """SIGTERM, then SIGKILL after 3 s."""
        if self.p.poll() is None:
            self.kill(signal.SIGTERM, wait=dl(3.0))
        if self.p.poll() is None:
            self.kill(signal.SIGKILL, wait=5.0)
        self.reader.join(2.0)
        try:
            self.logfile.close()
        except Exception:
            pass


def cleanup(since_procs=0, since_cleanups=0):
    """Runs cleanups registered after index since_cleanups (target servers, sockets), then
    stops processes started after index since_procs, newest first."""
    while len(_cleanups) > since_cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:
            traceback.print_exc()
    for p in reversed(_procs[since_procs:]):
        try:
            p.stop()
        except Exception:
            traceback.print_exc()


def at_cleanup(fn):
    _cleanups.append(fn)


def run_braid(args, timeout=None, cwd=None):
    """Runs a short braid command; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([BRAID] + list(args), capture_output=True, text=True,
                          timeout=timeout or dl(20), cwd=cwd, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# temp dirs, keys, secrets, config files

class TempDir:
    """Context: a fresh temporary directory, removed on exit (kept if BRAID_KEEP_TMP is set)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="braid-it-")
        self._marks = (len(_procs), len(_cleanups))
        return self.path

    def __exit__(self, *exc):
        # processes may still write logs into it: stop the ones started inside first
        cleanup(*self._marks)
        if os.environ.get("BRAID_KEEP_TMP"):
            print("kept", self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def keygen(d, name="server"):
    """Runs `braid keygen --out d/name`; returns the printed pin "sha256:<hex>"."""
    prefix = os.path.join(d, name)
    r = run_braid(["keygen", "--out", prefix])
    if r.returncode != 0:
        raise RuntimeError("keygen failed rc=%d: %s" % (r.returncode, r.stderr))
    m = re.search(r"pin (sha256:[0-9a-f]{64})\b", r.stdout)
    if not m:
        raise RuntimeError("keygen printed no pin: stdout=%r stderr=%r" % (r.stdout, r.stderr))
    for ext in (".key", ".crt"):
        if not os.path.exists(prefix + ext):
            raise RuntimeError("keygen did not write %s" % (prefix + ext))
    return m.group(1)


def make_secret():
    """Runs `braid secret`; returns the base64 line (check that it decodes to 32 bytes)."""
    r = run_braid(["secret"])
    if r.returncode != 0:
        raise RuntimeError("secret failed rc=%d: %s" % (r.returncode, r.stderr))
    line = r.stdout.strip()
    raw = base64.b64decode(line, validate=True)
    if len(raw) != 32:
        raise RuntimeError("braid secret printed %d bytes, not 32: %r" % (len(raw), line))
    return line


def random_secret():
    """A valid-looking secret braid did not make (for wrong-secret tests)."""
    return base64.b64encode(os.urandom(32)).decode()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago (bind to 0, read, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused_port(host="127.0.0.1"):
    """(socket, port): a socket bound but not listening, so connecting is refused and nobody else
    can take the port while the socket lives. Close the socket when done."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    at_cleanup(s.close)
    return s, s.getsockname()[1]


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.listen(1)
        c = socket.create_connection(("::1", s.getsockname()[1]), timeout=2)
        c.close()
        s.close()
        return True
    except OSError:
        return False


def server_config(d, clients, listen="127.0.0.1:0", allow=("127.0.0.0/8",), extra=(),
                  verbose=2, name="server"):
    """Writes d/<name>.conf (+ d/<name>.clients); clients maps NAME -> base64 secret."""
    cpath = os.path.join(d, name + ".clients")
    write(cpath, "".join("%s %s\n" % (n, s) for n, s in clients.items()))
    lines = ["[server]", "listen = %s" % listen,
             "cert = %s" % os.path.join(d, "server.crt"),
             "key = %s" % os.path.join(d, "server.key"),
             "clients = %s" % cpath]
    lines += ["allow = %s" % a for a in allow]
    lines += list(extra)
    lines.append("verbose = %d" % verbose)
    return write(os.path.join(d, name + ".conf"), "\n".join(lines) + "\n")


def start_server(d, clients, listen="127.0.0.1:0", allow=("127.0.0.0/8",), extra=(), name="server",
                 timeout=None):
    """Starts `braid server`; returns (proc, port) once it logs its listening port."""
    conf = server_config(d, clients, listen=listen, allow=allow, extra=extra, name=name)
    p = Proc([BRAID, "server", "-c", conf], name, d)
    m = p.wait_for(r"listening on 127\.0\.0\.1:(\d+)", timeout or dl(10))
    return p, int(m.group(1))


def client_config(d, server_port, pin, name, secret, connect_reply="confirmed", socks_auth=None,
                  extra=(), verbose=2, tag=None):
    tag = tag or name
    spath = write(os.path.join(d, tag + ".secret"), secret + "\n")
    lines = ["[client]", "server = 127.0.0.1:%d" % server_port, "server-pin = %s" % pin,
             "name = %s" % name, "secret-file = %s" % spath, "socks = 127.0.0.1:0"]
    if connect_reply:
        lines.append("connect-reply = %s" % connect_reply)
    if socks_auth is not None:
        apath = write(os.path.join(d, tag + ".socksauth"),
                      "".join("%s:%s\n" % up for up in socks_auth))
        lines.append("socks-auth-file = %s" % apath)
    lines += list(extra)
    lines.append("verbose = %d" % verbose)
    return write(os.path.join(d, tag + ".conf"), "\n".join(lines) + "\n")


def start_client(d, server_port, pin, name, secret, connect_reply="confirmed", socks_auth=None,
                 extra=(), wait_session=True, tag=None, timeout=None):
    """Starts `braid client`; returns (proc, socks_port) once its SOCKS5 listener is up and (with
    wait_session) its session is established."""
    tag = tag or name
    conf = client_config(d, server_port, pin, name, secret, connect_reply=connect_reply,
                         socks_auth=socks_auth, extra=extra, tag=tag)
    p = Proc([BRAID, "client", "-c", conf], "client-" + tag, d)
    m = p.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", timeout or dl(10))
    if wait_session:
        p.wait_for(r"session established", timeout or dl(10))
    return p, int(m.group(1))


class Tunnel:
    """Context: temp dir, keys, secrets for "alice" and "carol", a server allowing 127.0.0.0/8 and
    a client "alice" with the given connect-reply mode. Attributes: dir, pin, secret,
    carol_secret, server, server_port, client, socks_port. Start a second client as carol
    (second_client) so the two never share a name."""

    def __init__(self, connect_reply="confirmed", allow=("127.0.0.0/8",), server_extra=(),
                 client_extra=()):
        self.connect_reply = connect_reply
        self.allow = allow
        self.server_extra = server_extra
        self.client_extra = client_extra

    def __enter__(self):
        self._td = TempDir()
        self.dir = self._td.__enter__()
        try:
            self.pin = keygen(self.dir)
            self.secret = make_secret()
            self.carol_secret = make_secret()
            self.server, self.server_port = start_server(
                self.dir, {"alice": self.secret, "carol": self.carol_secret}, allow=self.allow,
                extra=self.server_extra)
            self.client, self.socks_port = start_client(
                self.dir, self.server_port, self.pin, "alice", self.secret,
                connect_reply=self.connect_reply, extra=self.client_extra)
        except BaseException:
            self._td.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        return self._td.__exit__(*exc)

    def second_client(self, connect_reply=None, tag="carol", **kw):
        """Starts client "carol" of the same server; returns (proc, socks_port)."""
        return start_client(self.dir, self.server_port, self.pin, "carol", self.carol_secret,
                            connect_reply=connect_reply, tag=tag, **kw)


# ---------------------------------------------------------------------------------------------
# SOCKS5

class Socks5Error(Exception):
    """The SOCKS5 exchange failed before the reply: stage is "method" (value: the selected
    method, 0xFF = none acceptable), "auth" (value: the RFC 1929 status) or "closed"."""

    def __init__(self, stage, value, msg=""):
        super().__init__("socks5 %s failed: %r %s" % (stage, value, msg))
        self.stage = stage
        self.value = value


def recv_exact(s, n):
    """Reads exactly n bytes; returns fewer only at EOF."""
    out = bytearray()
    while len(out) < n:
        try:
            b = s.recv(n - len(out))
        except ConnectionResetError:
            break
        if not b:
            break
        out += b
    return bytes(out)


def socks5_addr(host, port):
    """SOCKS5 address form (atyp, addr, port) of host: IPv4, IPv6 or domain name."""
    for fam, atyp in ((socket.AF_INET, 1), (socket.AF_INET6, 4)):
        try:
            return bytes([atyp]) + socket.inet_pton(fam, host) + struct.pack(">H", port)
        except OSError:
            pass
    h = host.encode()
    return bytes([3, len(h)]) + h + struct.pack(">H", port)


def socks5_connect(socks_port, host, port, user=None, password=None, cmd=1, timeout=None,
                   raw_addr=None):
    """Opens a SOCKS5 connection through the client at 127.0.0.1:socks_port to host:port.
    Returns (sock, reply_code): sock is the connected socket when reply_code is 0 (else None,
    already closed); reply_code is -1 if the proxy closed the connection before a full reply.
    Raises Socks5Error when method selection or RFC 1929 auth fails."""
    timeout = limit(timeout if timeout is not None else dl(20))
    s = socket.create_connection(("127.0.0.1", socks_port), timeout=timeout)
    try:
        methods = b"\x02" if user is not None else b"\x00"
        s.sendall(b"\x05" + bytes([len(methods)]) + methods)
        r = recv_exact(s, 2)
        if len(r) < 2:
            raise Socks5Error("closed", r, "during method selection")
        if r[0] != 5 or r[1] == 0xFF or r[1] != methods[0]:
            raise Socks5Error("method", r[1], "reply %r" % r)
        if user is not None:
            u, pw = user.encode(), password.encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(pw)]) + pw)
            r = recv_exact(s, 2)
            if len(r) < 2:
                raise Socks5Error("auth", -1, "closed during auth")
            if r[1] != 0:
                raise Socks5Error("auth", r[1])
        addr = raw_addr if raw_addr is not None else socks5_addr(host, port)
        s.sendall(b"\x05" + bytes([cmd, 0]) + addr)
        head = recv_exact(s, 4)
        if len(head) < 4:
            s.close()
            return None, -1
        rep, atyp = head[1], head[3]
        if atyp == 1:
            rest = 4 + 2
        elif atyp == 4:
            rest = 16 + 2
        elif atyp == 3:
            ln = recv_exact(s, 1)
            rest = (ln[0] if ln else 0) + 2
        else:
            rest = 0
        tail = recv_exact(s, rest)
        if len(tail) < rest:
            s.close()
            return None, (rep if rep != 0 else -1)
        if rep != 0:
            s.close()
            return None, rep
        return s, 0
    except Socks5Error:
        s.close()
        raise
    except BaseException:
        s.close()
        raise


def read_to_eof(s, max_bytes=None, hasher=None, timeout=None):
    """Reads until EOF; returns the bytes (or, with hasher, feeds it and returns the count).
    A reset counts as EOF. With timeout, raises TimeoutError when EOF has not come within
    timeout s in all (cut to the budget); else the socket's own timeout applies per read."""
    out = bytearray()
    n = 0
    end = time.monotonic() + limit(timeout) if timeout is not None else None
    while True:
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no EOF within %.1f s (%d bytes read)" % (timeout, n))
            s.settimeout(left)
        try:
            b = s.recv(256 * 1024)
        except ConnectionResetError:
            break
        if not b:
            break
        n += len(b)
        if hasher is not None:
            hasher.update(b)
        else:
            out += b
        if max_bytes is not None and n > max_bytes:
            break
    return n if hasher is not None else bytes(out)


# ---------------------------------------------------------------------------------------------
# deterministic data

def det_chunks(seed, n, chunk=MiB):
    """n pseudo-random bytes from seed, in chunks; the same seed and n give the same bytes."""
    rng = random.Random(seed)
    left = n
    while left > 0:
        k = min(chunk, left)
        yield rng.randbytes(k)
        left -= k


def det_bytes(seed, n):
    return b"".join(det_chunks(seed, n))


def det_sha256(seed, n):
    h = hashlib.sha256()
    for c in det_chunks(seed, n):
        h.update(c)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for c in iter(lambda: f.read(MiB), b""):
            h.update(c)
    return h.hexdigest()


def write_det_file(path, seed, n):
    with open(path, "wb") as f:
        for c in det_chunks(seed, n):
            f.write(c)
    return path


# ---------------------------------------------------------------------------------------------
# local target servers

class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass  # peers that reset are part of the tests; checks report what matters


class _TCPServer6(_TCPServer):
    address_family = socket.AF_INET6


def start_tcp_server(handler_fn, host="127.0.0.1"):
    """Starts a threaded TCP server calling handler_fn(sock) per connection; returns the port.
    Stopped at cleanup."""

    class H(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(dl(60))
            try:
                handler_fn(self.request)
            except (OSError, socket.timeout):
                pass

    cls = _TCPServer6 if ":" in host else _TCPServer
    srv = cls((host, 0), H)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    at_cleanup(lambda: (srv.shutdown(), srv.server_close()))
    return srv.server_address[1]


def _echo(sock):
    while True:
        try:
            b = sock.recv(256 * 1024)
        except ConnectionResetError:
            return
        if not b:
            break
        sock.sendall(b)
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def start_source_server(seed, n):
    """A TCP server that sends det_bytes(seed, n) to each connection, then ends its side."""
    def handle(sock):
        for c in det_chunks(seed, n):
            sock.sendall(c)
        sock.shutdown(socket.SHUT_WR)
    return start_tcp_server(handle)


def start_sink_server():
    """A TCP server that reads each connection to EOF and answers with the SHA-256 hex of it."""
    def handle(sock):
        hasher = hashlib.sha256()
        read_to_eof(sock, hasher=hasher)
        sock.sendall(hasher.hexdigest().encode())
    return start_tcp_server(handle)


def download_sha256(port, host="127.0.0.1", timeout=60):
    """Connects and reads to EOF; returns the SHA-256 hex of what arrived."""
    hasher = hashlib.sha256()
    with socket.create_connection((host, port), timeout=limit(dl(timeout))) as s:
        read_to_eof(s, hasher=hasher, timeout=dl(timeout))
    return hasher.hexdigest()


def upload_det(port, seed, n, host="127.0.0.1", timeout=60):
    """Sends det_bytes(seed, n), ends the direction, and returns the (sink's) answer."""
    with socket.create_connection((host, port), timeout=limit(dl(timeout))) as s:
        for c in det_chunks(seed, n):
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        return read_to_eof(s, max_bytes=100, timeout=dl(timeout)).decode()


def start_echo_server(host="127.0.0.1"):
    """Echo server: echoes until EOF, then shuts down its write side. Returns the port."""
    return start_tcp_server(_echo, host)


class _HTTPHandler(BaseHTTPRequestHandler):
    """GET /data/SEED/SIZE: SIZE deterministic bytes of det_chunks(SEED, SIZE).
    POST or PUT anything: replies with the hex SHA-256 and byte count of the body."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        m = re.match(r"^/data/(\d+)/(\d+)$", self.path)
        if self.path == "/":
            body = b"hello from the target\n"
            self._reply(200, body)
            return
        if not m:
            self._reply(404, b"not found\n")
            return
        seed, size = int(m.group(1)), int(m.group(2))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        for c in det_chunks(seed, size):
            self.wfile.write(c)

    def _body_sha(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                ln = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if ln == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                left = ln
                while left:
                    c = self.rfile.read(min(left, MiB))
                    if not c:
                        raise ConnectionError("short chunk")
                    h.update(c)
                    left -= len(c)
                    n += len(c)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                c = self.rfile.read(min(left, MiB))
                if not c:
                    raise ConnectionError("short body")
                h.update(c)
                left -= len(c)
                n += len(c)
        return h.hexdigest(), n

    def do_POST(self):
        digest, n = self._body_sha()
        self._reply(200, ("%s %d\n" % (digest, n)).encode())

    do_PUT = do_POST

    def _reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass


def start_http_server(host="127.0.0.1"):
    """Starts the HTTP test target (see _HTTPHandler); returns the port."""
    srv = _HTTPServer((host, 0), _HTTPHandler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    at_cleanup(lambda: (srv.shutdown(), srv.server_close()))
    return srv.server_address[1]


# ---------------------------------------------------------------------------------------------
# curl

def _curl_env():
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
            del env[k]
    return env


def curl(socks_port, url, extra=(), timeout=None, out_hasher=None):
    """Runs curl through the SOCKS5 proxy (remote name resolution). Returns (rc, body_or_count,
    stderr): with out_hasher the body is hashed while streaming and the byte count returned."""
    timeout = limit(timeout or dl(60))
    args = ["curl", "-sS", "--fail", "--noproxy", "", "--max-time", str(int(timeout)),
            "--socks5-hostname", "127.0.0.1:%d" % socks_port, "-H", "Expect:"] + list(extra) + [url]
    return run_curl(args, timeout, out_hasher)


def run_curl(args, timeout, out_hasher=None):
    """Runs a curl argv with no proxy variables in its environment, streaming stdout. Returns
    (rc, body_or_count, stderr): with out_hasher the body is hashed and the byte count returned."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_curl_env(),
                         stdin=subprocess.DEVNULL)
    try:
        errbuf = []
        et = threading.Thread(target=lambda: errbuf.append(p.stderr.read()), daemon=True)
        et.start()
        n = 0
        body = bytearray()
        for c in iter(lambda: p.stdout.read(MiB), b""):
            n += len(c)
            if out_hasher is not None:
                out_hasher.update(c)
            else:
                body += c
        rc = p.wait(timeout=timeout + 10)
        et.join(5)
        err = errbuf[0].decode("utf-8", "replace") if errbuf else ""
        return rc, (n if out_hasher is not None else bytes(body)), err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


# ---------------------------------------------------------------------------------------------
# file descriptor limits (tests that hold thousands of sockets)

def raise_nofile(want):
    """Raises this process's open file limit toward want (up to the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < cap:
        resource.setrlimit(resource.RLIMIT_NOFILE, (cap, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ulimit_argv(nofile, args):
    """argv running args under `sh -c 'ulimit -n N; exec ...'` (exec: the PID is braid's)."""
    return ["sh", "-c", 'ulimit -n %d || exit 3; exec "$0" "$@"' % nofile] + list(args)


def proc_nofile(pid):
    """The open file limit of process pid, from /proc (-1 if not found)."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return -1


def listens_on(pid, port):
    """True if process pid has a listening TCP socket (IPv4 or IPv6) on port, from /proc: not
    fooled by another process that binds the same port number later."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    col = line.split()
                    if col[3] == "0A" and int(col[1].rsplit(":", 1)[1], 16) == port and col[9] in inodes:
                        return True
        except OSError:
            continue
    return False


# ---------------------------------------------------------------------------------------------
# wire protocol (for auth tests that speak to the server directly)

T_HELLO = 0x08
T_HELLO_ACK = 0x09


def frame(ftype, body, stream=0, flags=0):
    return struct.pack(">BBHI", ftype, flags, len(body), stream) + body


def hello_body(name, secret_raw, nonce=None, timestamp=None, kind=0, session=0,
               join_token=b"\0" * 16):
    nonce = nonce if nonce is not None else os.urandom(16)
    ts = int(time.time()) if timestamp is None else timestamp
    n = name.encode()
    b = (b"BRD" + bytes([1, kind, len(n)]) + n + nonce + struct.pack(">QQ", ts, session)
         + join_token)
    return b + hmac.new(secret_raw, b, hashlib.sha256).digest()


def tls_connect(port, timeout=None):
    """A TLS 1.2 connection to the braid server at 127.0.0.1:port, without verification."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout or dl(10))
    return ctx.wrap_socket(raw, server_hostname="braid")


def read_frames_until_eof(s, timeout):
    """Reads frames until the peer closes or timeout s pass. Returns (frames, closed, elapsed):
    frames is a list of (type, flags, stream, body); closed is False on timeout."""
    t0 = time.monotonic()
    buf = b""
    frames = []
    closed = False
    while True:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            closed = True
            break
        if not b:
            closed = True
            break
        buf += b
        while len(buf) >= 8:
            t, fl, ln, st = struct.unpack(">BBHI", buf[:8])
            if len(buf) < 8 + ln:
                break
            frames.append((t, fl, st, buf[8:8 + ln]))
            buf = buf[8 + ln:]
    return frames, closed, time.monotonic() - t0


def read_one_frame(s, timeout):
    """Reads one frame (type, flags, stream, body), or None on EOF/timeout."""
    s.settimeout(timeout)
    try:
        h = recv_exact(s, 8)
        if len(h) < 8:
            return None
        t, fl, ln, st = struct.unpack(">BBHI", h)
        body = recv_exact(s, ln)
        return (t, fl, st, body) if len(body) == ln else None
    except (socket.timeout, ssl.SSLError, OSError):
        return None


def der_spki(cert_der):
    """The DER SubjectPublicKeyInfo of an X.509 certificate (minimal DER walk)."""
    def tlv(b, i):
        tag = b[i]
        ln = b[i + 1]
        j = i + 2
        if ln & 0x80:
            k = ln & 0x7F
            ln = int.from_bytes(b[j:j + k], "big")
            j += k
        return tag, j, j + ln  # tag, content start, end

    _, cs, _ = tlv(cert_der, 0)          # Certificate
    _, ts, te = tlv(cert_der, cs)        # tbsCertificate
    i = ts
    tag, _, end = tlv(cert_der, i)
    if tag == 0xA0:                      # [0] version
        i = end
    for _ in range(5):                   # serial, signature, issuer, validity, subject
        _, _, i = tlv(cert_der, i)
    _, _, end = tlv(cert_der, i)
    return cert_der[i:end]


# ---------------------------------------------------------------------------------------------
# running a test file

def run_cases(cases):
    """Runs (name, fn) cases in order; an exception fails that case and the next one runs."""
    for name, fn in cases:
        log("== %s" % name)
        before = len(_failures)
        if remaining() <= 1:
            check(False, "%s: not run, the test's time budget of %.0f s is spent" % (name, BUDGET_S))
            continue
        try:
            fn()
        except Exception as e:
            check(False, "%s raised %s: %s" % (name, type(e).__name__, e))
            traceback.print_exc()
        log("-- %s: %s" % (name, "ok" if len(_failures) == before else "FAILED"))


def main(fn):
    """Runs fn() with cleanup; exits 0 when no check failed, 1 otherwise."""
    if not os.access(BRAID, os.X_OK):
        print("FAIL: braid binary not found at %s (set BRAID)" % BRAID)
        sys.exit(1)

    def on_term(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_term)
    try:
        fn()
    except BaseException as e:
        check(False, "test raised %s: %s" % (type(e).__name__, e))
        traceback.print_exc()
    finally:
        cleanup()
    if _failures:
        print("%d check(s) failed:" % len(_failures))
        for f in _failures:
            print("  - " + f.splitlines()[0][:300])
        sys.exit(1)
    print("all checks passed (%.1f s)" % (time.monotonic() - _T0))
    sys.exit(0)
