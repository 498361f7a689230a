# SPDX-License-Identifier: MIT
# Network namespaces for integration tests that need a small routed network: named namespaces
# with veth pairs between them, commands run inside (`ip netns exec`), and removal of exactly the
# namespaces a test made. Needs root and the `ip` tool; nftables rules need `nft`.
import os
import shutil
import subprocess


class NetnsError(Exception):
    pass


def missing_prereqs(tools=("ip", "nft")):
    """Why namespace tests cannot run here (not root, a tool missing), or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, nftables)"
    for t in tools:
        if shutil.which(t) is None:
            return "the %r command is not installed" % t
    return None


def sh(args, timeout=10, check=True, input=None):
    """Runs a command; returns CompletedProcess (text). Raises NetnsError with its output when it
    fails and check is set."""
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL if input is None else None, input=input)
    if check and r.returncode != 0:
        raise NetnsError("%s: rc %d: %s%s" % (" ".join(args), r.returncode, r.stderr.strip(),
                                              r.stdout.strip()))
    return r


class Netns:
    """One named network namespace. add() creates it with `lo` up; delete() removes it."""

    def __init__(self, name):
        self.name = name
        self.made = False

    def exists(self):
        r = sh(["ip", "netns", "list"], check=False)
        return any(line.split()[0] == self.name for line in r.stdout.splitlines() if line.split())

    def add(self):
        if self.exists():  # left over by an earlier run with the same PID
            sh(["ip", "netns", "del", self.name], check=False)
        sh(["ip", "netns", "add", self.name])
        self.made = True
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self):
        if self.made:
            sh(["ip", "netns", "del", self.name], check=False)
            self.made = False

    def cmd(self, args):
        """argv running args inside this namespace (for harness.Proc or subprocess)."""
        return ["ip", "netns", "exec", self.name] + list(args)

    def run(self, args, timeout=10, check=True, input=None):
        return sh(self.cmd(args), timeout=timeout, check=check, input=input)

    def ip(self, *args, check=True):
        return sh(["ip", "-n", self.name] + list(args), check=check)

    def sysctl(self, key, value):
        return self.run(["sysctl", "-q", "-w", "%s=%s" % (key, value)])

    def read_sysctl(self, key):
        return self.run(["sysctl", "-n", key]).stdout.strip()

    def nft(self, ruleset):
        """Loads an nftables ruleset (text, as for `nft -f`) in this namespace."""
        return self.run(["nft", "-f", "-"], input=ruleset)


def veth(a, a_if, b, b_if):
    """A veth pair with end a_if in namespace a and b_if in namespace b (both down)."""
    sh(["ip", "link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if,
        "netns", b.name])


def up(ns, ifname, *addrs):
    """Adds addresses (CIDR strings; IPv6 ones without duplicate address detection, so they are
    usable at once) to ifname in ns and brings it up."""
    if any(":" in a for a in addrs):
        ns.sysctl("net.ipv6.conf.%s.accept_dad" % ifname, 0)
    for a in addrs:
        if ":" in a:
            ns.ip("-6", "addr", "add", a, "dev", ifname, "nodad")
        else:
            ns.ip("addr", "add", a, "dev", ifname)
    ns.ip("link", "set", ifname, "up")
