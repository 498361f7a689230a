# SPDX-License-Identifier: MIT
# Byte integrity through the tunnel: curl downloads and uploads of swept sizes (0 to 64 MiB)
# through `braid client`'s SOCKS5 listener to a local HTTP server, SHA-256 compared, with both
# connect-reply modes; plus a domain-name target resolved at the server.
import hashlib
import os

import harness as h

MiB = h.MiB
# 0..2 and 100: tiny frames; 16368/16369: one DATA payload and one byte more; 16385: a TLS record
# + 1; 262145: the initial stream window + 1; then MBs.
SIZES = [0, 1, 2, 100, 16368, 16369, 16385, 262145, MiB, 64 * MiB]


def transfer_timeout(size):
    return h.dl(min(60, 10 + size // MiB))


def download(socks_port, http_port, size, host="127.0.0.1"):
    seed = 1000 + size
    hasher = hashlib.sha256()
    rc, n, err = h.curl(socks_port, "http://%s:%d/data/%d/%d" % (host, http_port, seed, size),
                        out_hasher=hasher, timeout=transfer_timeout(size))
    what = "GET %d bytes via %s" % (size, host)
    h.check_eq(rc, 0, what + ": curl exit code (stderr %r)" % err.strip())
    h.check_eq(n, size, what + ": bytes received")
    h.check_eq(hasher.hexdigest(), h.det_sha256(seed, size), what + ": sha256")


def upload(socks_port, http_port, path, size, expect_sha, method):
    url = "http://127.0.0.1:%d/upload" % http_port
    if method == "POST":
        extra = ["--data-binary", "@" + path, "-H", "Content-Type: application/octet-stream"]
    else:
        extra = ["-T", path]
    rc, body, err = h.curl(socks_port, url, extra=extra, timeout=transfer_timeout(size))
    what = "%s %d bytes" % (method, size)
    h.check_eq(rc, 0, what + ": curl exit code (stderr %r)" % err.strip())
    h.check_eq(body.decode(errors="replace").strip(), "%s %d" % (expect_sha, size),
               what + ": server saw sha256 and size")


def sweep(label, socks_port, http_port, files):
    for size in SIZES:
        h.log("%s: download %d" % (label, size))
        download(socks_port, http_port, size)
    for size in SIZES:
        path, sha = files[size]
        h.log("%s: POST %d" % (label, size))
        upload(socks_port, http_port, path, size, sha, "POST")
    for size in (1, 16385, MiB, 64 * MiB):
        path, sha = files[size]
        h.log("%s: PUT %d" % (label, size))
        upload(socks_port, http_port, path, size, sha, "PUT")


def test():
    with h.Tunnel(connect_reply="confirmed") as t:
        http_port = h.start_http_server()
        files = {}
        for size in SIZES:
            path = os.path.join(t.dir, "up.%d" % size)
            h.write_det_file(path, 2000 + size, size)
            files[size] = (path, h.det_sha256(2000 + size, size))
        # a second client of the same server in the default mode (early SOCKS reply, 0-RTT OPEN)
        early, early_port = t.second_client(connect_reply=None, tag="carol-early")

        def domain_target():
            rc, body, err = h.curl(t.socks_port, "http://localhost:%d/" % http_port)
            h.check_eq(rc, 0, "GET http://localhost/ through --socks5-hostname: curl exit code "
                       "(stderr %r)" % err.strip())
            h.check_eq(body, b"hello from the target\n", "GET http://localhost/: body")
            download(t.socks_port, http_port, MiB, host="localhost")
            download(early_port, http_port, 100, host="localhost")

        h.run_cases([
            ("sweep connect-reply=confirmed", lambda: sweep("confirmed", t.socks_port,
                                                            http_port, files)),
            ("sweep connect-reply=early", lambda: sweep("early", early_port, http_port, files)),
            ("domain name target resolved at the server", domain_target),
        ])
        h.check(t.server.alive(), "server still running")
        h.check(t.client.alive() and early.alive(), "clients still running")


if __name__ == "__main__":
    h.main(test)
