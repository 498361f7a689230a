# SPDX-License-Identifier: MIT
# Server restart under a multi-link session: a client with links = 2 (no emulator) has one SOCKS5
# stream mid-transfer (the reader has stopped reading a 64 MiB download). The server is killed
# (SIGKILL) and restarted on the same port with no memory of the session: the client's resume is
# refused, it logs "resetting 1 open streams" and a "reset:" line for the stream naming its target
# and the restart, then establishes a new session; the old SOCKS5 connection ends short of the
# full download, and a new SOCKS5 connection works within 10 s of the restart.
import hashlib
import re
import time

import harness as h
import multilink as ml

LINKS = 2
SIZE = 64 * h.MiB
READ_FIRST = 1 * h.MiB
NEW_OK_S = 10        # restart -> a working new SOCKS5 connection
OLD_END_S = 10       # new session -> the old SOCKS5 connection has ended


def test():
    with h.TempDir() as d:
        port = h.free_port()
        listen = "127.0.0.1:%d" % port
        env = ml.setup(d, LINKS, listen=listen)
        client, socks = env["client"], env["socks"]
        h.check_eq(env["server_port"], port, "server 1: listening port")
        state = {"server": env["server"]}
        source = ml.start_source_server()
        echo = h.start_echo_server()

        def baseline():
            ml.echo_ok(socks, echo, "before the restart", size=64 * 1024)

        def restart():
            s, rep = h.socks5_connect(socks, "127.0.0.1", source)
            if not h.check_eq(rep, 0, "bulk stream: socks5 reply"):
                return
            with s:
                s.sendall(ml.REQ.pack(51, SIZE))
                s.settimeout(h.dl(10))
                first = h.recv_exact(s, READ_FIRST)
                h.check_eq(len(first), READ_FIRST, "bulk stream: first MiB")
                h.check(first == next(h.det_chunks(51, SIZE)), "bulk stream: first MiB differs")
                time.sleep(0.5)   # the reader stalls; braid's buffers fill up
                st = ml.stats(client)
                h.check_eq(st["session"]["streams_open"], 1, "client streams open before the kill")
                mark = client.mark()
                state["server"].kill()
                h.log("server killed (SIGKILL); restarting on port %d" % port)
                srv, p2 = h.start_server(d, {"alice": env["secret"]}, listen=listen,
                                         name="server-2")
                t_restart = time.monotonic()
                state["server"] = srv
                h.check_eq(p2, port, "server 2: listening port")
                try:
                    m = client.wait_for(r"resetting (\d+) open streams", h.dl(NEW_OK_S),
                                        since=mark)
                    h.check_eq(int(m.group(1)), 1, "open streams reset by the client")
                    client.wait_for(r"session established", h.dl(NEW_OK_S), since=mark)
                except TimeoutError as e:
                    h.check(False, "client after the restart: %s" % e)
                    return
                h.log("new session %.1f s after the restart" % (time.monotonic() - t_restart))
                # the per-stream line names the stream's target and the reason
                rx = r"-> 127\.0\.0\.1:%d: reset: .*restarted" % source
                line = client.find(rx, since=mark)
                h.check(line is not None, "client logged no line /%s/ for the bulk stream\n%s"
                        % (rx, client.tail(20)))
                if line is not None:
                    h.log("client: %s" % line.string.strip())
                i_reset = _index(client, r"resetting \d+ open streams", mark)
                i_new = _index(client, r"session established", mark)
                h.check(i_reset is not None and i_new is not None and i_reset < i_new,
                        "the client must reset the old streams before the new session "
                        "(lines %s, %s)" % (i_reset, i_new))
                # a new connection works, within 10 s of the restart
                left = NEW_OK_S - (time.monotonic() - t_restart)
                el = ml.echo_ok(socks, echo, "new connection after the restart", size=64 * 1024,
                                timeout=max(1.0, left))
                since_restart = time.monotonic() - t_restart
                h.log("new connection worked %.1f s after the restart" % since_restart)
                h.check(el is not None and since_restart <= h.dl(NEW_OK_S),
                        "restart -> working new connection took %.1f s (limit %d s)"
                        % (since_restart, NEW_OK_S))
                # the old connection ends (close or reset), short of the full download
                try:
                    n = h.read_to_eof(s, hasher=hashlib.sha256(), timeout=h.dl(OLD_END_S))
                    total = READ_FIRST + n
                    h.log("old connection ended after %.1f MiB of %d MiB"
                          % (total / h.MiB, SIZE // h.MiB))
                    h.check(total < SIZE, "the old stream delivered all %d bytes although the "
                            "server lost it" % SIZE)
                except (TimeoutError, OSError) as e:
                    h.check(False, "old connection did not end within %d s of the new session: "
                            "%s" % (OLD_END_S, e))

        def after():
            ml.echo_ok(socks, echo, "second new connection", size=256 * 1024)
            st = ml.stats(client)
            ml.show_stats("client stats", st)
            h.check_eq(st["session"]["links_up"], LINKS, "client links up in the new session")

        h.run_cases([
            ("baseline", baseline),
            ("SIGKILL and restart the server with a stream mid-transfer", restart),
            ("the new session", after),
        ])
        h.check(client.alive(), "client still running")


def _index(proc, regex, since):
    r = re.compile(regex)
    with proc.cond:
        for i, line in enumerate(proc.lines[since:], since):
            if r.search(line):
                return i
    return None


if __name__ == "__main__":
    h.main(test)
