# SPDX-License-Identifier: MIT
# Configuration errors and the small commands: `braid check-config` exits 0 on a valid file and 2
# on an error, naming FILE:LINE (the path as given), the key and the value; missing required keys
# are named; `server`/`client` refuse a bad file at startup the same way; --version and --help
# exit 0; usage errors exit 2.
# TODO: a malformed `forward` spec (e.g. "forward = 1080:example.org") once `forward` exists.
import os
import re
import time

import harness as h


def run(args, cwd):
    return h.run_braid(args, cwd=cwd, timeout=h.dl(10))


def expect_error(cwd, path, lineno, needles, what, cmd=("check-config",)):
    """Runs braid CMD -c path; checks exit 2 and "path:lineno:" plus each needle on stderr."""
    r = run(list(cmd) + ["-c", path], cwd)
    h.check_eq(r.returncode, 2, "%s: exit code (stderr %r)" % (what, r.stderr.strip()))
    if lineno is not None:
        h.check_in("%s:%d:" % (path, lineno), r.stderr, what + ": FILE:LINE on stderr")
    for n in needles:
        if isinstance(n, re.Pattern):
            h.check(n.search(r.stderr) is not None, "%s: /%s/ not on stderr %r"
                    % (what, n.pattern, r.stderr))
        else:
            h.check_in(n, r.stderr, what + ": stderr")
    return r


def test():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        os.makedirs(os.path.join(d, "conf"))
        clients = h.write(os.path.join(d, "clients"), "alice %s\n" % secret)
        secret_file = h.write(os.path.join(d, "alice.secret"), secret + "\n")

        server_lines = ["# braid server test config", "[server]", "listen = 127.0.0.1:0",
                        "cert = %s/server.crt" % d, "key = %s/server.key" % d,
                        "clients = %s" % clients, "allow = 127.0.0.0/8", "verbose = 2"]
        client_lines = ["; braid client test config", "[client]", "server = 127.0.0.1:9",
                        "server-pin = %s" % pin, "name = alice",
                        "secret-file = %s" % secret_file, "socks = 127.0.0.1:0",
                        "connect-reply = confirmed", "verbose = 2"]

        def conf(name, lines):
            h.write(os.path.join(d, "conf", name), "\n".join(lines) + "\n")
            return "conf/" + name  # relative: errors must quote the path as given

        def with_line(lines, line, at=None):
            """lines with `line` inserted at index `at` (end if None); returns (lines, 1-based no)."""
            out = list(lines)
            at = len(out) if at is None else at
            out.insert(at, line)
            return out, at + 1

        def without(lines, key):
            return [l for l in lines if not l.startswith(key + " ")]

        def valid():
            for name, lines in (("server.conf", server_lines), ("client.conf", client_lines)):
                p = conf(name, lines)
                r = run(["check-config", "-c", p], d)
                h.check_eq(r.returncode, 0, "check-config %s: exit code (stderr %r)"
                           % (name, r.stderr.strip()))

        def unknown_key():
            lines, n = with_line(server_lines, "sever = 127.0.0.1:1", at=4)
            expect_error(d, conf("unknown-server.conf", lines), n, ["sever"],
                         "unknown key in [server]")
            lines, n = with_line(client_lines, "sockz = 1080", at=6)
            expect_error(d, conf("unknown-client.conf", lines), n, ["sockz"],
                         "unknown key in [client]")
            # the path as given, absolute this time
            p = os.path.join(d, "conf", "unknown-client.conf")
            expect_error(d, p, n, ["sockz"], "unknown key, absolute path")

        def bad_values():
            cases = [
                (client_lines, "links = 99", ["links", "99"]),
                (client_lines, "links = 0", ["links"]),
                (client_lines, "links = many", ["links", "many"]),
                (client_lines, "connect-reply = sometimes", ["connect-reply", "sometimes"]),
                (client_lines, "server-pin = sha256:1234", ["server-pin"]),
                (client_lines, "verbose = 9", ["verbose", "9"]),
                (server_lines, "allow = 10.0.0.0/33", ["allow", "10.0.0.0/33"]),
                (server_lines, "listen = 127.0.0.1:99999", ["listen", "99999"]),
            ]
            for i, (base, line, needles) in enumerate(cases):
                key = line.split()[0]
                # replace an existing line of the same key, else append
                lines = [l for l in base if not l.startswith(key + " ")]
                lines, n = with_line(lines, line, at=3)
                expect_error(d, conf("bad%d.conf" % i, lines), n, needles,
                             "bad value %r" % line)

        def not_key_value():
            lines, n = with_line(client_lines, "this line has no equals sign", at=5)
            expect_error(d, conf("noeq.conf", lines), n, [], "line without '='")

        def missing_required():
            for key, lines in (("name", without(client_lines, "name")),
                               ("server", without(client_lines, "server")),
                               ("server-pin", without(client_lines, "server-pin")),
                               ("cert", without(server_lines, "cert")),
                               ("clients", without(server_lines, "clients"))):
                expect_error(d, conf("missing-%s.conf" % key, lines), None,
                             [re.compile(r"(?<![\w-])%s(?![\w-])" % re.escape(key))],
                             "missing required key %r" % key)

        def bad_referenced_files():
            lines = [l if not l.startswith("secret-file ") else "secret-file = %s/nope.secret" % d
                     for l in client_lines]
            expect_error(d, conf("nosecret.conf", lines), None, ["nope.secret"],
                         "secret-file that does not exist")
            short = h.write(os.path.join(d, "short.secret"), "c2hvcnQ=\n")  # "short", 5 bytes
            lines = [l if not l.startswith("secret-file ") else "secret-file = %s" % short
                     for l in client_lines]
            expect_error(d, conf("shortsecret.conf", lines), None, ["short.secret"],
                         "secret-file with 5 bytes")
            bad_clients = h.write(os.path.join(d, "bad.clients"),
                                  "alice %s\nbob not*base64\n" % secret)
            lines = [l if not l.startswith("clients ") else "clients = %s" % bad_clients
                     for l in server_lines]
            expect_error(d, conf("badclients.conf", lines), None, ["bad.clients"],
                         "clients file with a bad secret")
            expect_error(d, "conf/does-not-exist.conf", None, ["conf/does-not-exist.conf"],
                         "config file that does not exist")

        def startup_refuses_bad_file():
            for role, base in (("server", server_lines), ("client", client_lines)):
                lines, n = with_line(base, "bogus-key = 1", at=3)
                p = conf("startup-%s.conf" % role, lines)
                t0 = time.monotonic()
                expect_error(d, p, n, ["bogus-key"], "braid %s with a bad file" % role,
                             cmd=(role,))
                h.check(time.monotonic() - t0 < h.dl(5), "braid %s took %.1f s to refuse"
                        % (role, time.monotonic() - t0))

        def version_and_help():
            for args in (["--version"], ["version"]):
                r = run(args, d)
                h.check_eq(r.returncode, 0, "braid %s: exit code (stderr %r)"
                           % (" ".join(args), r.stderr.strip()))
                h.check(re.search(r"\d+\.\d+\.\d+", r.stdout) is not None,
                        "braid %s: no version number on stdout %r" % (" ".join(args), r.stdout))
            for sub in ("client", "server", "keygen", "secret", "check-config"):
                r = run([sub, "--help"], d)
                h.check_eq(r.returncode, 0, "braid %s --help: exit code (stderr %r)"
                           % (sub, r.stderr.strip()))
                out = r.stdout + r.stderr
                h.check(sub in out, "braid %s --help does not mention %r: %r" % (sub, sub, out))
            r = run(["client", "--help"], d)
            h.check("-c" in r.stdout + r.stderr, "braid client --help does not show -c: %r"
                    % (r.stdout + r.stderr))

        def usage_errors():
            for args in (["frobnicate"], [], ["client", "--no-such-flag"],
                         ["check-config"]):
                r = run(args, d)
                h.check_eq(r.returncode, 2, "braid %s: exit code (stderr %r)"
                           % (" ".join(args), r.stderr.strip()))

        h.run_cases([
            ("valid files pass", valid),
            ("unknown key", unknown_key),
            ("bad values", bad_values),
            ("line without '='", not_key_value),
            ("missing required keys", missing_required),
            ("bad referenced files", bad_referenced_files),
            ("server/client refuse a bad file at startup", startup_refuses_bad_file),
            ("--version and --help", version_and_help),
            ("usage errors exit 2", usage_errors),
        ])


if __name__ == "__main__":
    h.main(test)
