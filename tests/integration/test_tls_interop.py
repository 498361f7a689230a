# SPDX-License-Identifier: MIT
# TLS interop between the two backends: the build under test ($BRAID) against a build with the
# other TLS library ($BRAID_OTHER, else ../build-openssl/braid or ../build/braid beside $BRAID),
# each way round (mbedTLS client -> OpenSSL server, OpenSSL client -> mbedTLS server): keys made
# by the client's build load in the server's, pins agree with an SPKI hash computed here, a
# session with links = 3 comes up with links 2 and 3 resuming link 1's TLS session, a 16 MiB
# download through SOCKS5 arrives intact, and a wrong pin is refused; an mbedTLS client listing
# ChaCha20 first gets it from an OpenSSL server. Skips (exit 0) without a build of the other
# backend.
import hashlib
import os
import re
import ssl
import subprocess
import sys

import harness as h
import multilink as ml

SIZE = 16 * h.MiB
LINKS = 3
# As both backends name them: TLS 1.2 in mbedTLS's form; TLS 1.3 (mbedTLS 3.6 <-> OpenSSL) too.
SUITES = (r"^TLS(1\.3)?-ECDHE-ECDSA-WITH-"
          r"(AES-128-GCM-SHA256|CHACHA20-POLY1305-SHA256|AES-256-GCM-SHA384)$")


def backend(binary):
    """"mbedTLS" or "OpenSSL" from `binary version` ("braid 0.1.0 (OpenSSL 3.0.19, ...)")."""
    try:
        r = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=h.dl(10),
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\((mbedTLS|OpenSSL) ", r.stdout + r.stderr)
    return m.group(1) if m else None


def find_other(mine):
    """The first candidate build whose TLS backend is not `mine`, or None."""
    here = os.path.dirname(os.path.abspath(h.BRAID))
    cands = [os.environ.get("BRAID_OTHER", "")]
    cands += [os.path.normpath(os.path.join(here, "..", d, "braid"))
              for d in ("build-openssl", "build")]
    for c in cands:
        if c and os.access(c, os.X_OK) and backend(c) not in (None, mine):
            return c
    return None


def keygen(binary, d, name):
    """`binary keygen --out d/name`; returns the printed pin and checks it against the SPKI."""
    prefix = os.path.join(d, name)
    r = subprocess.run([binary, "keygen", "--out", prefix], capture_output=True, text=True,
                       timeout=h.dl(20), stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError("%s keygen failed rc=%d: %s" % (binary, r.returncode, r.stderr))
    m = re.search(r"pin (sha256:[0-9a-f]{64})\b", r.stdout)
    if not m:
        raise RuntimeError("%s keygen printed no pin: %r" % (binary, r.stdout))
    with open(prefix + ".crt") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    h.check_eq(m.group(1), "sha256:" + hashlib.sha256(h.der_spki(der)).hexdigest(),
               "%s keygen: printed pin vs sha256 of the certificate's SubjectPublicKeyInfo"
               % binary)
    return m.group(1)


def start_server(binary, d, clients, label):
    conf = h.server_config(d, clients, name="server-" + label)
    p = h.Proc([binary, "server", "-c", conf], "server-" + label, d)
    m = p.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10))
    return p, int(m.group(1))


def start_client(binary, d, port, pin, secret, tag, extra=()):
    """Starts client "alice" of binary; returns (proc, socks_port) once SOCKS5 listens."""
    conf = h.client_config(d, port, pin, "alice", secret, extra=extra, tag=tag)
    p = h.Proc([binary, "client", "-c", conf], "client-" + tag, d)
    m = p.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", h.dl(10))
    return p, int(m.group(1))


def pair(client_bin, server_bin, label):
    """One direction: client_bin's build dials server_bin's build."""
    with h.TempDir() as d:
        # The client's build makes the key pair, so the server loads the other library's files.
        pin = keygen(client_bin, d, "server")
        secret = h.make_secret()
        server, port = start_server(server_bin, d, {"alice": secret}, label)
        client, socks = start_client(client_bin, d, port, pin, secret, label,
                                     extra=("links = %d" % LINKS,))
        m = client.wait_for(r"session established with .*\((?:session \w+, )?(TLS[^)]*)\)",
                            h.dl(10))
        h.log("%s: session established, %s" % (label, m.group(1)))
        h.check(re.match(SUITES, m.group(1)), "%s: one of braid's suites: %r" % (label, m.group(1)))
        ml.wait_links(client, LINKS, h.dl(20))
        joined = [l for l in client.lines if re.search(r"link \d+: joined session", l)]
        h.check_eq(len(joined), LINKS - 1, "%s: links that joined the session" % label)
        for line in joined:
            h.check_in(", TLS resumed)", line,
                       "%s: a joining link resumed link 1's TLS session" % label)

        http_port = h.start_http_server()
        seed = 4242
        hasher = hashlib.sha256()
        rc, n, err = h.curl(socks, "http://127.0.0.1:%d/data/%d/%d" % (http_port, seed, SIZE),
                            out_hasher=hasher, timeout=h.dl(60))
        h.check_eq(rc, 0, "%s: curl exit code (stderr %r)" % (label, err.strip()))
        h.check_eq(n, SIZE, "%s: bytes received" % label)
        h.check_eq(hasher.hexdigest(), h.det_sha256(seed, SIZE), "%s: sha256 of 16 MiB" % label)

        wrong = "sha256:" + hashlib.sha256(os.urandom(16)).hexdigest()
        bad, _ = start_client(client_bin, d, port, wrong, secret, label + "-wrongpin")
        m = bad.wait_for(r"certificate pin mismatch: expected (sha256:\w+) got (sha256:\w+)",
                         h.dl(10))
        h.check_eq(m.group(1), wrong, "%s: the pin the refusing client expected" % label)
        h.check_eq(m.group(2), pin, "%s: the pin the server presented" % label)
        h.check(bad.find(r"session established") is None,
                "%s: no session over a wrong pin\n%s" % (label, bad.tail()))
        h.check(server.alive() and client.alive(), "%s: server and client still running" % label)


def chacha_first(client_bin, server_bin, label):
    """A client that lists ChaCha20 first (BRAID_CIPHERS=chacha20, what an mbedTLS router
    without AES instructions does by itself) gets ChaCha20 from a server whose own order puts
    AES-GCM first: OpenSSL servers prioritise ChaCha20 for such clients."""
    with h.TempDir() as d:
        pin = keygen(client_bin, d, "server")
        secret = h.make_secret()
        os.environ["BRAID_CIPHERS"] = "aes-gcm"
        try:
            server, port = start_server(server_bin, d, {"alice": secret}, label)
        finally:
            del os.environ["BRAID_CIPHERS"]
        os.environ["BRAID_CIPHERS"] = "chacha20"
        try:
            client, socks = start_client(client_bin, d, port, pin, secret, label)
        finally:
            del os.environ["BRAID_CIPHERS"]
        m = client.wait_for(r"session established with .*\((?:session \w+, )?(TLS[^)]*)\)", h.dl(10))
        h.check_in("CHACHA20-POLY1305", m.group(1), "%s: negotiated suite" % label)
        http_port = h.start_http_server()
        hasher = hashlib.sha256()
        rc, n, err = h.curl(socks, "http://127.0.0.1:%d/data/7/%d" % (http_port, h.MiB),
                            out_hasher=hasher, timeout=h.dl(30))
        h.check_eq(hasher.hexdigest(), h.det_sha256(7, h.MiB), "%s: 1 MiB over ChaCha20" % label)


def test(mine, other):
    mbed, ossl = (h.BRAID, other) if mine == "mbedTLS" else (other, h.BRAID)
    h.log("mbedTLS build: %s; OpenSSL build: %s" % (mbed, ossl))
    h.run_cases([
        ("mbedTLS client -> OpenSSL server", lambda: pair(mbed, ossl, "mbedtls-to-openssl")),
        ("OpenSSL client -> mbedTLS server", lambda: pair(ossl, mbed, "openssl-to-mbedtls")),
        ("mbedTLS client with ChaCha20 first -> OpenSSL server", lambda: chacha_first(
            mbed, ossl, "chacha-first")),
    ])


if __name__ == "__main__":
    MINE = backend(h.BRAID)
    OTHER = find_other(MINE)
    if not MINE or not OTHER:
        print("SKIP: no build of the other TLS backend than %s's (%s); set BRAID_OTHER or build "
              "both (make build check-openssl)" % (h.BRAID, MINE))
        sys.exit(0)
    h.main(lambda: test(MINE, OTHER))
