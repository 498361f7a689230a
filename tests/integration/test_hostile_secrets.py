# SPDX-License-Identifier: MIT
# Secrets stay secret:
#  - client and server at verbose = 3 through a whole session (SOCKS transfers, a refused
#    target, SIGUSR1 stats, SIGTERM): neither log holds the client's secret, in base64, hex or
#    raw bytes;
#  - `braid client --secret X` (and --secret=X) exits 2 with a message naming --secret-file,
#    without echoing X;
#  - a key file, clients file, secret file or SOCKS auth file readable by others (0644) gets a
#    log warning with "chmod 600" and the path; with mode 0600 there is none.
import base64
import os
import re
import signal
import socket
import threading
import time

import harness as h


class RawProc(h.Proc):
    """h.Proc that also keeps the raw stderr bytes (no UTF-8 decoding) in self.raw."""

    def __init__(self, *a, **kw):
        self.raw = bytearray()
        super().__init__(*a, **kw)

    def _read(self):
        f = self.p.stderr
        for raw in iter(f.readline, b""):
            self.raw += raw
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


def forms(secret_b64):
    raw = base64.b64decode(secret_b64)
    return {"base64": secret_b64.encode(), "base64 without padding": secret_b64.rstrip("=").encode(),
            "raw bytes": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode(),
            "first 16 raw bytes": raw[:16], "urlsafe base64": base64.urlsafe_b64encode(raw)}


def warnings_for(proc, path):
    return [l for l in proc.lines if path in l and "chmod 600" in l]


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        other = h.make_secret()
        echo_port = h.start_echo_server()
        http_port = h.start_http_server()

        def no_secret_in_logs():
            sconf = h.server_config(d, {"alice": secret, "bob": other}, verbose=3, name="srv3")
            server = RawProc([h.BRAID, "server", "-c", sconf], "server-v3", d)
            sport = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
            cconf = h.client_config(d, sport, pin, "alice", secret, verbose=3, tag="alice-v3",
                                    socks_auth=[("user", "pass-" + other[:8])])
            client = RawProc([h.BRAID, "client", "-c", cconf], "client-v3", d)
            sp = int(client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
            client.wait_for(r"session established", h.dl(10))
            # a session's worth of traffic
            for i in range(3):
                s, rep = h.socks5_connect(sp, "127.0.0.1", echo_port, user="user",
                                          password="pass-" + other[:8])
                h.check_eq(rep, 0, "echo %d: SOCKS5 reply" % i)
                if s:
                    data = h.det_bytes(i, 200000)
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    h.check(h.read_to_eof(s, timeout=h.dl(10)) == data, "echo %d intact" % i)
                    s.close()
            try:
                h.socks5_connect(sp, "127.0.0.1", echo_port, user="user", password="wrong")
            except h.Socks5Error:
                pass
            s, rep = h.socks5_connect(sp, "10.1.2.3", 80, user="user",
                                      password="pass-" + other[:8])  # refused by the ACL
            if s:
                s.close()
            # a wrong-secret client: the server logs an auth failure
            bad = RawProc([h.BRAID, "client", "-c", h.client_config(
                d, sport, pin, "alice", other, verbose=3, tag="alice-bad")], "client-bad", d)
            server.wait_for(r"auth failed", h.dl(10))
            bad.stop()
            os.kill(server.pid, signal.SIGUSR1)
            os.kill(client.pid, signal.SIGUSR1)
            server.wait_for(r"stats: server", h.dl(5))
            client.wait_for(r"stats: ", h.dl(5))
            client.stop()
            server.stop()
            h.log("log sizes: server %d bytes, client %d bytes, bad client %d bytes"
                  % (len(server.raw), len(client.raw), len(bad.raw)))
            h.check(len(server.raw) > 2000 and len(client.raw) > 2000,
                    "verbose = 3 logs are non-trivial")
            for name, body in (("server", server.raw), ("client", client.raw),
                               ("wrong-secret client", bad.raw)):
                for s_name, s_b64 in (("alice's secret", secret), ("bob's secret", other)):
                    for form, needle in forms(s_b64).items():
                        i = bytes(body).find(needle)
                        h.check(i < 0, "%s log holds %s (%s) at byte %d: %r" % (
                            name, s_name, form, i, bytes(body[max(0, i - 80):i + 80])))

        def secret_on_command_line():
            cconf = h.client_config(d, 1, pin, "alice", secret, tag="alice-cli")
            for args in (["client", "--secret", secret],
                         ["client", "-c", cconf, "--secret", secret],
                         ["client", "-c", cconf, "--secret=" + secret],
                         ["server", "--secret", secret]):
                r = h.run_braid(args, timeout=h.dl(10))
                what = "braid %s" % " ".join(a if secret not in a else a.replace(secret, "X")
                                             for a in args)
                h.check_eq(r.returncode, 2, what + ": exit status")
                h.check_in("--secret-file", r.stderr, what + ": stderr names --secret-file")
                h.check(secret not in r.stderr and secret not in r.stdout,
                        what + ": the secret is echoed back: %r" % r.stderr)

        def permission_warnings():
            sd = os.path.join(d, "perm")
            os.mkdir(sd)
            spin = h.keygen(sd)
            key = os.path.join(sd, "server.key")
            for mode, expect in ((0o644, True), (0o600, False), (0o640, True)):
                sconf = h.server_config(sd, {"alice": secret}, name="server-%o" % mode)
                clients = os.path.join(sd, "server-%o.clients" % mode)
                os.chmod(key, mode)
                os.chmod(clients, mode)
                server = h.Proc([h.BRAID, "server", "-c", sconf], "server-%o" % mode, sd)
                sport = int(server.wait_for(r"listening on 127\.0\.0\.1:(\d+)", h.dl(10)).group(1))
                cconf = h.client_config(sd, sport, spin, "alice", secret, tag="alice-%o" % mode,
                                        socks_auth=[("u", "p")])
                spath = os.path.join(sd, "alice-%o.secret" % mode)
                apath = os.path.join(sd, "alice-%o.socksauth" % mode)
                os.chmod(spath, mode)
                os.chmod(apath, mode)
                client = h.Proc([h.BRAID, "client", "-c", cconf], "client-%o" % mode, sd)
                client.wait_for(r"session established", h.dl(10))
                server.wait_for(r"session .* established", h.dl(5))
                for proc, path, what in ((server, key, "key file"),
                                         (server, clients, "clients file"),
                                         (client, spath, "secret file"),
                                         (client, apath, "socks-auth-file")):
                    w = warnings_for(proc, path)
                    if expect:
                        h.check(len(w) >= 1, "mode %04o %s: no warning with \"chmod 600\" and %s "
                                "in the %s log" % (mode, what, path, proc.name))
                        if w:
                            h.check_in("%04o" % mode, w[0], "mode %04o %s: warning names the mode"
                                       % (mode, what))
                    else:
                        h.check_eq(w, [], "mode %04o %s: warnings" % (mode, what))
                if not expect:
                    for proc in (server, client):
                        extra = [l for l in proc.lines if "chmod" in l or "readable by" in l]
                        h.check_eq(extra, [], "mode 0600: permission warnings of %s" % proc.name)
                client.stop()
                server.stop()
            os.chmod(key, 0o600)

        h.run_cases([
            ("no secret in verbose = 3 logs", no_secret_in_logs),
            ("--secret on the command line is refused", secret_on_command_line),
            ("permission warnings", permission_warnings),
        ])


if __name__ == "__main__":
    h.main(test)
