# SPDX-License-Identifier: MIT
# `make install` is `cmake --install BUILD --prefix PREFIX`: run on the build directory of the
# binary under test (the directory holding $BRAID), with DESTDIR set, it installs the binary
# (bin/braid, which prints the project version), the man pages (share/man/man8/braid.8,
# share/man/man5/braid.conf.5) and the example configs (share/doc/braid/examples/client.conf
# and server.conf, as in contrib/examples/), and nothing outside DESTDIR. The examples pass
# `braid check-config` once the files they name exist.
import os
import re
import subprocess

import harness as h

TOP = os.path.abspath(os.path.join(h.HERE, "..", ".."))
PREFIX = "/opt/braid-test"
EXPECTED = {
    "bin/braid": None,
    "share/man/man8/braid.8": "man/braid.8",
    "share/man/man5/braid.conf.5": "man/braid.conf.5",
    "share/doc/braid/examples/client.conf": "contrib/examples/client.conf",
    "share/doc/braid/examples/server.conf": "contrib/examples/server.conf",
}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def project_version():
    with open(os.path.join(TOP, "CMakeLists.txt")) as f:
        m = re.search(r"project\(braid VERSION ([0-9.]+)", f.read())
    return m.group(1) if m else None


def test():
    build = os.path.dirname(os.path.abspath(h.BRAID))

    def install():
        with h.TempDir() as d:
            destdir = os.path.join(d, "dest")
            env = dict(os.environ, DESTDIR=destdir)
            r = subprocess.run(["cmake", "--install", build, "--prefix", PREFIX], env=env,
                               capture_output=True, text=True, timeout=h.dl(60))
            h.check_eq(r.returncode, 0, "cmake --install exit code (stderr %r)" % r.stderr)
            root = destdir + PREFIX
            for rel, src in sorted(EXPECTED.items()):
                path = os.path.join(root, rel)
                if not h.check(os.path.isfile(path), "not installed: %s" % rel):
                    continue
                if src:
                    h.check(read(path) == read(os.path.join(TOP, src)),
                            "%s differs from %s" % (rel, src))
            binary = os.path.join(root, "bin", "braid")
            if os.path.isfile(binary):
                h.check(os.access(binary, os.X_OK), "bin/braid is not executable")
                r = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                   timeout=h.dl(10))
                h.check_eq(r.returncode, 0, "installed braid --version exit code")
                v = project_version()
                h.check(v and r.stdout.startswith("braid %s " % v),
                        "installed braid --version %r, project version %r" % (r.stdout, v))
            # everything landed under DESTDIR + PREFIX
            for top, _, files in os.walk(destdir):
                for f in files:
                    p = os.path.join(top, f)
                    h.check(p.startswith(root + os.sep), "installed outside the prefix: %s" % p)

    def examples_check():
        with h.TempDir() as d:
            h.keygen(d, "server")  # server.key, server.crt
            secret = h.make_secret()
            h.write(os.path.join(d, "router1.secret"), secret + "\n")
            h.write(os.path.join(d, "clients"), "router1 %s\n" % secret)
            for f in ("router1.secret", "clients"):
                os.chmod(os.path.join(d, f), 0o600)
            for name in ("client.conf", "server.conf"):
                with open(os.path.join(TOP, "contrib", "examples", name)) as f:
                    text = f.read().replace("/etc/braid/", d + "/")
                h.check("server-pin" not in text or re.search(r"sha256:[0-9a-f]{64}", text),
                        "%s: placeholder pin is not sha256:<64 hex>" % name)
                path = h.write(os.path.join(d, name), text)
                r = h.run_braid(["check-config", "-c", path])
                h.check_eq(r.returncode, 0, "check-config on example %s (stderr %r)"
                           % (name, r.stderr))

    h.run_cases([("cmake --install with DESTDIR", install),
                 ("the example configs pass check-config", examples_check)])


if __name__ == "__main__":
    h.main(test)
