# SPDX-License-Identifier: MIT
# The service files in contrib/: `systemd-analyze verify` passes on braid-server.service and
# braid-client@.service (copied with /usr/bin/braid replaced by the binary under test, the
# template as braid-client@test.service, the man pages of Documentation= on MANPATH), with no
# warning about them either (verify only warns about unknown keys); SKIP when systemd-analyze
# is not installed. `sh -n` (and `busybox sh -n` when installed) passes on the sysv script
# contrib/init.d/braid and on the OpenWrt init script.
import os
import shutil
import subprocess
import tempfile

import harness as h

TOP = os.path.abspath(os.path.join(h.HERE, "..", ".."))
SCRIPTS = [os.path.join(TOP, "contrib", "init.d", "braid"),
           os.path.join(TOP, "contrib", "openwrt", "braid", "files", "braid.init")]
UNITS = [("braid-server.service", "braid-server.service"),
         ("braid-client@.service", "braid-client@test.service")]


def syntax():
    shells = [["/bin/sh"]]
    if shutil.which("busybox"):
        shells.append([shutil.which("busybox"), "sh"])
    for sh in shells:
        for path in SCRIPTS:
            r = subprocess.run(sh + ["-n", path], capture_output=True, text=True, timeout=30)
            h.check_eq(r.returncode, 0, "%s -n %s (stderr %r)" % (" ".join(sh), path, r.stderr))


def verify():
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("SKIP: systemd-analyze not installed; the units are not verified", flush=True)
        return
    braid = os.path.abspath(h.BRAID)
    d = tempfile.mkdtemp(prefix="braid-units-")
    try:
        for sec, page in (("8", "braid.8"), ("5", "braid.conf.5")):
            os.makedirs(os.path.join(d, "man", "man" + sec))
            shutil.copy(os.path.join(TOP, "man", page), os.path.join(d, "man", "man" + sec))
        paths = []
        for src, dst in UNITS:
            with open(os.path.join(TOP, "contrib", "systemd", src)) as f:
                text = f.read()
            h.check("/usr/bin/braid " in text, "%s: no /usr/bin/braid command line" % src)
            paths.append(h.write(os.path.join(d, dst), text.replace("/usr/bin/braid", braid)))
        have_man = shutil.which("man") is not None
        env = dict(os.environ, MANPATH=os.path.join(d, "man"))
        r = subprocess.run([analyze, "verify", "--man=%s" % ("yes" if have_man else "no")] + paths,
                           capture_output=True, text=True, timeout=60, env=env, cwd=d)
        h.log("systemd-analyze verify: exit %d, stderr %r" % (r.returncode, r.stderr.strip()))
        h.check_eq(r.returncode, 0, "systemd-analyze verify exit code (stderr %r)" % r.stderr)
        ours = [l for l in r.stderr.splitlines() if "braid-" in l]
        h.check_eq(ours, [], "systemd-analyze verify warnings about the braid units")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test():
    h.run_cases([("sh -n on the init scripts", syntax),
                 ("systemd-analyze verify on the units", verify)])


if __name__ == "__main__":
    h.main(test)
