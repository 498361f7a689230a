# SPDX-License-Identifier: MIT
# Links dialled through an upstream proxy: HTTP CONNECT through tinyproxy (Debian's, a real
# upstream proxy), and SOCKS5 through another braid client's SOCKS5 listener. The session is
# established through the proxy and a download through the tunnel is intact; a proxy that
# refuses gives a clear error.
import os
import shutil
import socket
import time

import harness as h

MiB = h.MiB


def start_tinyproxy(d):
    exe = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    port = h.free_port()
    conf = h.write(os.path.join(d, "tinyproxy.conf"), "\n".join([
        "User nobody", "Group nogroup", "Port %d" % port, "Listen 127.0.0.1", "Timeout 600",
        "Allow 127.0.0.1", "LogLevel Info", "MaxClients 100", ""]))
    p = h.Proc([exe, "-d", "-c", conf], "tinyproxy", d)
    deadline = time.monotonic() + h.dl(10)
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("tinyproxy did not start:\n" + p.tail())




def download(socks, port, n):
    s, rep = h.socks5_connect(socks, "127.0.0.1", port)
    h.check_eq(rep, 0, "socks reply")
    import hashlib
    hasher = hashlib.sha256()
    h.read_to_eof(s, hasher=hasher, timeout=h.dl(30))
    return hasher.hexdigest()


def run():
    if not (shutil.which("tinyproxy") or os.path.exists("/usr/bin/tinyproxy")):
        h.check(False, "tinyproxy is not installed (contrib/install-deps.sh installs it)")
        return
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret, "carol": secret})
        src = h.start_source_server(3, 8 * MiB)

        def http_proxy():
            tp, tport = start_tinyproxy(d)
            client, socks = h.start_client(d, sport, pin, "alice", secret, tag="viahttp", extra=(
                "upstream-proxy = http://127.0.0.1:%d" % tport, "links = 2"))
            client.wait_for(r"joined session", h.dl(10))
            h.check_eq(download(socks, src, 8 * MiB), h.det_sha256(3, 8 * MiB),
                       "download through tinyproxy")
            client.stop()

        def socks_proxy():
            # carol's client is an ordinary braid client whose SOCKS5 port serves as alice's
            # upstream proxy (its server allows loopback, so it reaches the main server).
            up, up_socks = h.start_client(d, sport, pin, "carol", secret, tag="upstream")
            client, socks = h.start_client(d, sport, pin, "alice", secret, tag="viasocks", extra=(
                "upstream-proxy = socks5://127.0.0.1:%d" % up_socks,))
            h.check_eq(download(socks, src, 8 * MiB), h.det_sha256(3, 8 * MiB),
                       "download through a SOCKS5 upstream")
            client.stop()
            up.stop()

        def refused():
            dead_sock, dead = h.refused_port()
            h.at_cleanup(dead_sock.close)
            tp, tport = start_tinyproxy(d)
            conf = h.client_config(d, dead, pin, "alice", secret, tag="refused",
                                   extra=("upstream-proxy = http://127.0.0.1:%d" % tport,))
            c = h.Proc([h.BRAID, "client", "-c", conf], "client-refused", d)
            c.wait_for(r"upstream proxy refused CONNECT 127\.0\.0\.1:%d" % dead, h.dl(10))

        h.run_cases([("HTTP CONNECT through tinyproxy", http_proxy),
                     ("SOCKS5 upstream", socks_proxy), ("a refusing proxy is named", refused)])


if __name__ == "__main__":
    h.main(run)
