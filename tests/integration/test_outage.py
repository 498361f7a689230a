# SPDX-License-Identifier: MIT
# Outage: a client with links = 2 behind the path emulator (8 MB/s per connection and direction,
# 5 ms one-way delay). During a 32 MiB download, after ~8 MiB, the emulator goes "down" (every
# connection reset, new ones refused) for 3 s and comes back "up". The session waits for a link
# (resume-timeout, default 60 s), the client redials with a resume ("resumed session"), and the
# download completes intact on the same SOCKS5 connection. A new SOCKS5 connection works too.
import threading
import time

import harness as h
import multilink as ml

LINKS = 2
RATE = 8000000
DELAY_MS = 5
SIZE = 32 * h.MiB
DOWN_AT = 8 * h.MiB
OUTAGE_S = 3.0
RESUME_S = 20        # "up" -> "resumed session" (redial backoff grows to ~4 s during the outage)
TRANSFER_S = 60      # hang guard for the whole download


def test():
    with h.TempDir() as d:
        env = ml.setup(d, LINKS, emu=(RATE, DELAY_MS))
        client, server, socks, emu = env["client"], env["server"], env["socks"], env["emu"]
        source = ml.start_source_server()
        echo = h.start_echo_server()

        def outage():
            reached = threading.Event()
            t = ml.Transfer(socks, source, seed=41, size=SIZE, timeout=TRANSFER_S,
                            on_progress=lambda n: n >= DOWN_AT and reached.set())
            t.start()
            if not h.check(reached.wait(h.limit(h.dl(30))),
                           "8 MiB not reached within 30 s (%d bytes; %s)" % (t.progress, t.error)):
                t.join(TRANSFER_S)
                return
            mark = client.mark()
            smark = server.mark()
            h.check_eq(emu.control("down"), "ok", "emulator: down")
            at_down = t.progress
            h.log("path down at %.1f MiB received" % (at_down / h.MiB))
            time.sleep(OUTAGE_S)
            during = t.progress
            h.check_eq(emu.control("up"), "ok", "emulator: up")
            t_up = time.monotonic()
            h.log("path up again; %.1f MiB received while it was down (in flight before)"
                  % ((during - at_down) / h.MiB))
            h.check(not t.done.is_set(), "the download ended during the outage: %s"
                    % (t.report(),))
            try:
                m = client.wait_for(r"link (\d+): resumed session", h.dl(RESUME_S), since=mark)
                h.log("link %s resumed the session %.1f s after \"up\""
                      % (m.group(1), time.monotonic() - t_up))
            except TimeoutError as e:
                h.check(False, "no \"resumed session\" within %d s after the path came back: %s"
                        % (RESUME_S, e))
            h.check(client.find(r"session \w+: all links down", since=mark) is not None,
                    "client did not log \"all links down\" during the outage")
            h.check(client.find(r"session established", since=mark) is None,
                    "client started a new session instead of resuming: %s"
                    % (client.find(r".*session established.*", since=mark) or [""])[0])
            h.check(client.find(r"resetting \d+ open streams", since=mark) is None,
                    "client reset streams during the outage")
            h.check(server.find(r"resetting \d+ open streams", since=smark) is None,
                    "server reset streams during the outage")
            t.join(TRANSFER_S)
            h.check(t.done.is_set(), "download still running %d s after the outage" % TRANSFER_S)
            ml.check_transfer(t, "download across the outage")
            ml.show_stats("client stats after the outage", ml.stats(client))

        def new_connection():
            el = ml.echo_ok(socks, echo, "new connection after the outage", size=64 * 1024)
            if el is not None:
                h.log("new connection: 64 KiB echoed in %.2f s" % el)

        h.run_cases([
            ("32 MiB download across a 3 s outage of every link", outage),
            ("a new connection after the outage", new_connection),
        ])
        h.check(client.alive(), "client still running")
        h.check(server.alive(), "server still running")


if __name__ == "__main__":
    h.main(test)
