# SPDX-License-Identifier: MIT
# The man pages stay true to the code: (a) `mandoc -Tlint -Wwarning` is silent on both pages
# (SKIP when mandoc is missing); (b) every key of src/config.cc's KEYS table has its `.It Ic KEY`
# entry in braid.conf.5, under the section the table gives it (CLIENT, SERVER or COMMON KEYS),
# with its numeric range and default, and braid.conf.5 documents no key the parser lacks;
# (c) every subcommand and flag that the `--help` texts print is in braid.8 (`Cm X`, `Fl X`);
# (d) a real server and client with `control` sockets: every JSON field that `braid ctl --json
# stats|links|streams|forwards` returns on either side (with a forward, a peer forward and a
# remote forward configured; the remote one reported listening on both sides), every `braid ctl watch` event (link_up,
# link_down, session_resumed, stream_reset, config_reloaded) and its fields, and every key of the
# SIGUSR1 stats lines is documented in braid.8.
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import harness as h
import multilink as ml

ROOT = os.path.normpath(os.path.join(h.HERE, "..", ".."))
MAN8 = os.path.join(ROOT, "man", "braid.8")
MAN5 = os.path.join(ROOT, "man", "braid.conf.5")
CONFIG_CC = os.path.join(ROOT, "src", "config.cc")
CONFIG_H = os.path.join(ROOT, "include", "braid", "config.h")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(page):
    """{".Sh NAME": text up to the next .Sh} of an mdoc page."""
    out = {}
    for m in re.finditer(r"^\.Sh ([^\n]+)\n(.*?)(?=^\.Sh |\Z)", page, re.M | re.S):
        out[m.group(1).strip()] = m.group(2)
    return out


def subsections(text):
    """{".Ss NAME": text up to the next .Ss} within one section."""
    out = {}
    for m in re.finditer(r"^\.Ss ([^\n]+)\n(.*?)(?=^\.Ss |\Z)", text, re.M | re.S):
        out[m.group(1).strip()] = m.group(2)
    return out


# ---------------------------------------------------------------------------------------------
# (a) mandoc

def lint():
    mandoc = shutil.which("mandoc")
    if not mandoc:
        print("SKIP: mandoc is not installed; the man pages were not linted")
        return
    for page in (MAN8, MAN5):
        r = subprocess.run([mandoc, "-Tlint", "-Wwarning", page], capture_output=True, text=True,
                           timeout=30)
        h.check_eq((r.returncode, (r.stdout + r.stderr).strip()), (0, ""),
                   "mandoc -Tlint -Wwarning %s" % os.path.basename(page))


# ---------------------------------------------------------------------------------------------
# (b) config keys

SEC_TO_SH = {"SEC_CLIENT": "CLIENT KEYS", "SEC_SERVER": "SERVER KEYS", "SEC_BOTH": "COMMON KEYS"}


def parser_keys():
    """[(key, SEC_x, entry source text)] from the KEYS table of src/config.cc."""
    src = read(CONFIG_CC)
    m = re.search(r"const Key KEYS\[\] = \{(.*?)\n\};", src, re.S)
    if not h.check(m, "src/config.cc: no KEYS table found"):
        return []
    body = m.group(1)
    hits = list(re.finditer(r'\{"([a-z0-9-]+)",\s*(SEC_[A-Z]+)', body))
    out = []
    for i, k in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(body)
        out.append((k.group(1), k.group(2), body[k.start():end]))
    h.check(len(out) >= 30, "only %d keys parsed from src/config.cc's KEYS table" % len(out))
    return out


def config_defaults():
    """{field: default} of the int members of struct Config (include/braid/config.h)."""
    return {m.group(1): m.group(2)
            for m in re.finditer(r"^\s*int (\w+) = (\d+);", read(CONFIG_H), re.M)}


def key_entries(page):
    """{key: (section title, entry text)} for every `.It Ic KEY` of braid.conf.5's key lists."""
    out = {}
    for title, text in sections(page).items():
        if not title.endswith("KEYS"):
            continue
        for m in re.finditer(r"^\.It Ic ([a-z0-9-]+)\b[^\n]*\n(.*?)(?=^\.It |^\.El\b|\Z)", text,
                             re.M | re.S):
            h.check(m.group(1) not in out, "braid.conf.5: key %s documented twice" % m.group(1))
            out[m.group(1)] = (title, m.group(0))
    return out


def conf_keys():
    page = read(MAN5)
    docs = key_entries(page)
    defaults = config_defaults()
    keys = parser_keys()
    for key, sec, src in keys:
        if not h.check(key in docs, "braid.conf.5 has no \".It Ic %s\" (a key of src/config.cc)"
                       % key):
            continue
        title, text = docs[key]
        h.check_eq(title, SEC_TO_SH[sec], "braid.conf.5: section of key %s (%s)" % (key, sec))
        plain = re.sub(r"\s+", " ", text)
        rng = re.search(r"set_int\(a, v, (\d+), (\d+), a\.c\.(\w+)\)", src)
        if rng:
            lo, hi, field = rng.groups()
            h.check(re.search(r"\b%s to %s\b" % (lo, hi), plain),
                    "braid.conf.5: key %s does not give its range \"%s to %s\"" % (key, lo, hi))
            if field in defaults:
                h.check(re.search(r"Default: %s\b" % defaults[field], plain),
                        "braid.conf.5: key %s does not say \"Default: %s\""
                        % (key, defaults[field]))
        if key != "secret":  # refused on the command line: argv is public
            h.check(re.search(r"Fl -%s\b" % re.escape(key), text),
                    "braid.conf.5: key %s does not name its option --%s" % (key, key))
    known = {k for k, _, _ in keys}
    for key in docs:
        h.check(key in known, "braid.conf.5 documents key %s, which src/config.cc does not know"
                % key)
    h.log("%d keys of src/config.cc checked against braid.conf.5" % len(keys))


# ---------------------------------------------------------------------------------------------
# (c) commands and flags of --help

HELP_ARGS = (["--help"], ["client", "--help"], ["server", "--help"], ["ctl", "--help"],
             ["keygen", "--help"], ["secret", "--help"], ["check-config", "--help"])


def help_flags():
    page = read(MAN8)
    sec = sections(page)
    texts = []
    for args in HELP_ARGS:
        r = h.run_braid(args)
        h.check_eq(r.returncode, 0, "braid %s exit status" % " ".join(args))
        texts.append(r.stdout)
    usage = texts[0]
    flags = set()
    for t in texts:
        flags |= set(re.findall(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9-]*)", t))
    flags |= {"-h", "--help"}
    for f in sorted(flags):
        name = f[1:]
        if name[1:].isupper():  # --KEY: the placeholder of every config key
            h.check(re.search(r"Fl - Ns Ar key", page), "braid.8 does not document --KEY VALUE "
                    "(\"Fl - Ns Ar key\")")
            continue
        h.check(re.search(r"Fl %s(?![\w-])" % re.escape(name), sec.get("OPTIONS", "") +
                          sec.get("COMMANDS", "")),
                "braid.8: flag %s (printed by --help) is not in OPTIONS or COMMANDS as \"Fl %s\""
                % (f, name))
    cmds = re.findall(r"(?:usage:|^ ) +braid (\w[\w-]*)", usage, re.M)
    h.check(len(cmds) >= 7, "subcommands parsed from braid --help: %r" % cmds)
    for c in cmds:
        h.check(re.search(r"^\.Cm %s\b" % re.escape(c), sec.get("SYNOPSIS", ""), re.M),
                "braid.8 SYNOPSIS lacks \".Cm %s\"" % c)
        h.check(re.search(r"^\.It Cm %s\b" % re.escape(c), sec.get("COMMANDS", ""), re.M),
                "braid.8 COMMANDS lacks \".It Cm %s\"" % c)
    ctl = re.search(r"braid ctl .*?(\w+(?:\|\w+)+)", usage)
    if h.check(ctl, "braid --help shows no ctl commands"):
        for c in ctl.group(1).split("|"):
            h.check(re.search(r"Cm %s\b" % c, sec.get("COMMANDS", "")),
                    "braid.8 COMMANDS lacks ctl command \"Cm %s\"" % c)
    h.log("%d flags and %d commands of --help checked against braid.8" % (len(flags), len(cmds)))


# ---------------------------------------------------------------------------------------------
# (d) control socket JSON, watch events and SIGUSR1 stats, from a running pair

def json_names(v, out):
    """Every object key in v (recursively)."""
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            json_names(x, out)
    elif isinstance(v, list):
        for x in v:
            json_names(x, out)
    return out


def state_values(v, out):
    """Values of "state" and "role" fields in v (recursively)."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("state", "role") and isinstance(x, str):
                out.add(x)
            state_values(x, out)
    elif isinstance(v, list):
        for x in v:
            state_values(x, out)
    return out


class Watch:
    """`braid ctl -S SOCK watch` in the background; `events` holds the parsed lines."""

    def __init__(self, sock):
        self.events = []
        self.p = subprocess.Popen([h.BRAID, "ctl", "-S", sock, "watch"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                                  start_new_session=True)
        h.at_cleanup(self.stop)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                h.check(False, "braid ctl watch printed a line that is not JSON: %r" % line)

    def wait(self, event, timeout):
        end = time.monotonic() + h.limit(timeout)
        while time.monotonic() < end:
            if any(e.get("event") == event for e in self.events):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait(5)


def ctl_json(sock, what):
    r = h.run_braid(["ctl", "-S", sock, "--json", what])
    if not h.check_eq(r.returncode, 0, "braid ctl --json %s exit status (%s)" % (what, r.stderr)):
        return {}
    try:
        return json.loads(r.stdout)
    except ValueError:
        h.check(False, "braid ctl --json %s: not JSON: %r" % (what, r.stdout))
        return {}


def control_socket():
    page = read(MAN8)
    sec = sections(page)
    ctl_sec = sec.get("CONTROL SOCKET", "")
    h.check(ctl_sec, "braid.8 has no CONTROL SOCKET section")
    subs = subsections(ctl_sec)
    with h.TempDir() as d:
        csock, ssock = os.path.join(d, "c.sock"), os.path.join(d, "s.sock")
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret}, extra=("control = %s" % ssock,))
        emu = ml.start_emu(d, sport)
        swatch = Watch(ssock)
        h.check(swatch.wait("watching", h.dl(5)), "server watch: no \"watching\" line")
        echo = h.start_echo_server()
        rport = h.free_port()
        client, socks = ml.start_ml_client(
            d, emu.port, pin, secret, 2,
            extra=("control = %s" % csock, "forward = 127.0.0.1:0:127.0.0.1:%d" % echo,
                   "peer-forward = 127.0.0.1:0:carol:127.0.0.1:%d" % echo,
                   "remote-forward = 127.0.0.1:%d:127.0.0.1:%d" % (rport, echo)))
        cwatch = Watch(csock)
        h.check(cwatch.wait("watching", h.dl(5)), "client watch: no \"watching\" line")
        # the remote forward: "listening" on the client once the server answered, and listed
        # by the server with the client's name
        deadline = time.monotonic() + h.limit(h.dl(10))
        remote = []
        while time.monotonic() < deadline:
            remote = [f for f in ctl_json(csock, "forwards").get("forwards", []) if f.get("kind") == "remote"]
            if remote and remote[0].get("state") == "listening":
                break
            time.sleep(0.1)
        h.check(remote and remote[0].get("state") == "listening" and
                remote[0].get("listen") == "127.0.0.1:%d" % rport,
                "client: braid ctl forwards shows the remote forward listening: %r" % remote)
        srv = ctl_json(ssock, "forwards").get("forwards", [])
        h.check(len(srv) == 1 and srv[0].get("client") == "alice" and
                srv[0].get("listen") == "127.0.0.1:%d" % rport and
                srv[0].get("to") == "127.0.0.1:%d" % echo,
                "server: braid ctl forwards lists alice's remote forward: %r" % srv)
        kinds = sorted(f.get("kind") for f in ctl_json(csock, "forwards").get("forwards", []))
        h.check_eq(kinds, ["local", "peer", "remote"], "client: braid ctl forwards kinds")
        s, rep = h.socks5_connect(socks, "127.0.0.1", echo)
        h.check_eq(rep, 0, "SOCKS5 reply for the echo server")
        if s:
            h.at_cleanup(s.close)
            s.sendall(b"x" * 100000)
            h.check_eq(len(h.recv_exact(s, 100000)), 100000, "echo through the tunnel")

        # stats, links, streams on both sides, with a stream open
        names = {}
        values = set()
        for who, sock in (("client", csock), ("server", ssock)):
            for what in ("stats", "links", "streams", "forwards"):
                j = ctl_json(sock, what)
                h.log("%s %s: %s" % (who, what, json.dumps(j)))
                json_names(j, names.setdefault(what, set()))
                state_values(j, values)
                if what != "stats":
                    h.check(j.get(what), "%s: braid ctl %s lists nothing" % (who, what))
            r = h.run_braid(["ctl", "-S", sock, "stats"])
            h.check(r.returncode == 0 and "links_up" in r.stdout,
                    "%s: braid ctl stats (text): rc %d %r" % (who, r.returncode, r.stdout[:200]))
        for what, fields in sorted(names.items()):
            text = subs.get(what, "")
            h.check(text, "braid.8 CONTROL SOCKET has no \".Ss %s\"" % what)
            for f in sorted(fields):
                h.check(re.search(r"Va %s\b" % f, text),
                        "braid.8 CONTROL SOCKET, %s: JSON field %s not documented (\"Va %s\")"
                        % (what, f, f))
        for v in sorted(values):
            h.check(re.search(r"\b%s\b" % re.escape(v), ctl_sec),
                    "braid.8 CONTROL SOCKET: value \"%s\" of a state/role field not documented" % v)

        # watch events: a stream reset, every link lost and back (resume), a reload
        s2, rep = h.socks5_connect(socks, "127.0.0.1", h.refused_port()[1])
        h.check(rep not in (0, -1), "SOCKS5 reply for a refused port: %d" % rep)
        mark = client.mark()
        h.check_eq(emu.control("down"), "ok", "emulator: down")
        time.sleep(1.0)
        h.check_eq(emu.control("up"), "ok", "emulator: up")
        client.wait_for(r"resumed session", h.dl(20), since=mark)
        for p in (client, server):
            os.kill(p.pid, signal.SIGHUP)
        wanted = ("watching", "link_up", "link_down", "session_resumed", "stream_reset",
                  "config_reloaded")
        for w in (cwatch, swatch):
            w.wait("config_reloaded", h.dl(5))
        events = {}
        for e in cwatch.events + swatch.events:
            events.setdefault(e.get("event"), set()).update(k for k in e if k != "event")
        h.log("watch events: %s" % {k: sorted(v) for k, v in events.items()})
        watch = subs.get("watch", "")
        h.check(watch, "braid.8 CONTROL SOCKET has no \".Ss watch\"")
        for ev in wanted:
            h.check(ev in events, "no %s event seen by braid ctl watch" % ev)
        for ev, fields in sorted(events.items()):
            h.check(re.search(r"Li %s\b" % re.escape(str(ev)), watch),
                    "braid.8 CONTROL SOCKET, watch: event %s not documented (\"Li %s\")" % (ev, ev))
            for f in sorted(fields):
                h.check(re.search(r"Va %s\b" % f, watch),
                        "braid.8 CONTROL SOCKET, watch: field %s of event %s not documented "
                        "(\"Va %s\")" % (f, ev, f))

        # SIGUSR1: "stats: session ID key value ...", "stats: link ID ...", "stats: server ..."
        signals = sec.get("SIGNALS", "")
        keys = set()
        for p in (client, server):
            mark = p.mark()
            os.kill(p.pid, signal.SIGUSR1)
            p.wait_for(r"stats: link ", h.dl(5), since=mark)
            with p.cond:
                lines = p.lines[mark:]
            for line in lines:
                m = re.search(r"stats: (session|link|server) (.*)", line)
                if not m:
                    continue
                tok = (m.group(1) + " " + m.group(2)).split()
                if tok[0] == "server":
                    tok = tok[1:]
                keys.update(tok[0::2])
        h.check(len(keys) >= 10, "SIGUSR1 stats keys parsed: %r" % sorted(keys))
        for k in sorted(keys):
            h.check(re.search(r"\b%s\b" % re.escape(k), signals),
                    "braid.8 SIGNALS: SIGUSR1 stats key %s not documented" % k)


def run():
    h.run_cases([("mandoc -Tlint -Wwarning on both pages", lint),
                 ("every config key in braid.conf.5", conf_keys),
                 ("every --help flag and command in braid.8", help_flags),
                 ("every control socket field and event in braid.8", control_socket)])


if __name__ == "__main__":
    h.main(run)
