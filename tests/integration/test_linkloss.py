# SPDX-License-Identifier: MIT
# Link loss: a client with links = 4 behind the path emulator (8 MB/s per connection and
# direction, 5 ms one-way delay). During a 64 MiB download, once the test client has received
# ~10 MiB, the emulator resets (RST) the link that carried the most download data over the last
# moment; the transfer completes intact on the same SOCKS5 connection and the client redials the
# lost link ("joined session" again). The same for a 64 MiB upload. The sender's resent_bytes
# (server for the download, client for the upload) must be > 0 in at least one of the two:
# data stranded on the dead link was resent on the others.
import threading
import time

import harness as h
import multilink as ml

LINKS = 4
RATE = 8000000
DELAY_MS = 5
SIZE = 64 * h.MiB
KILL_AT = 10 * h.MiB
TRANSFER_S = 60      # hang guard; ~2-9 s expected
STREAM_CLOSE_S = 5   # transfer done -> the sender's stream is closed
REJOIN_S = 15        # kill -> the client logs "joined session" again (redial backoff 0.5 s)


def test():
    with h.TempDir() as d:
        env = ml.setup(d, LINKS, emu=(RATE, DELAY_MS))
        client, server, socks, emu = env["client"], env["server"], env["socks"], env["emu"]
        source = ml.start_source_server()
        sink = ml.start_sink_server()
        resent = {}

        def run_with_kill(upload):
            what = "upload" if upload else "download"
            key = "up_bytes" if upload else "down_bytes"
            sender = client if upload else server
            sender_before = ml.stats(sender)["session"]["resent_bytes"]
            reached = threading.Event()
            t = ml.Transfer(socks, sink if upload else source, seed=31 if upload else 32,
                            size=SIZE, upload=upload, timeout=TRANSFER_S,
                            on_progress=lambda n: n >= KILL_AT and reached.set())
            t.start()
            if not h.check(reached.wait(h.limit(h.dl(30))),
                           "%s: 10 MiB not reached within 30 s (%d bytes; %s)"
                           % (what, t.progress, t.error)):
                t.join(TRANSFER_S)
                return
            victim, growth = emu.busiest(key, interval=0.1)
            mark = client.mark()
            if not h.check(victim is not None, "%s: no live connection in the emulator" % what):
                return
            ans = emu.control("kill %d" % victim["id"])
            t_kill = time.monotonic()
            h.log("%s: at %.1f MiB killed emulator connection %d (%s %.1f MiB in all, +%d KiB "
                  "in the last 0.1 s): %s" % (what, t.progress / h.MiB, victim["id"], key,
                                              victim[key] / h.MiB, growth // 1024, ans))
            h.check_eq(ans, "ok", "%s: kill answer" % what)
            try:
                m = client.wait_for(r"link (\d+): joined session", h.dl(REJOIN_S), since=mark)
                h.log("%s: link %s joined again %.1f s after the kill"
                      % (what, m.group(1), time.monotonic() - t_kill))
            except TimeoutError as e:
                h.check(False, "%s: the client did not rejoin a link within %d s after the "
                        "kill: %s" % (what, REJOIN_S, e))
            t.join(TRANSFER_S + 5)
            h.check(t.done.is_set(), "%s: transfer still running" % what)
            ml.check_transfer(t, what)
            # The session's resent_bytes takes in a stream's resends when the stream is
            # finished: wait until the sender has closed it.
            end = time.monotonic() + h.limit(h.dl(STREAM_CLOSE_S))
            while True:
                st = ml.stats(sender)
                if st["session"]["streams_open"] == 0 or time.monotonic() > end:
                    break
            ml.show_stats("%s stats after the %s" % (sender.name, what), st)
            h.check_eq(st["session"]["streams_open"], 0, "%s: streams open on the sender %d s "
                       "after the transfer ended" % (what, STREAM_CLOSE_S))
            resent[what] = st["session"]["resent_bytes"] - sender_before
            h.log("%s: the sender (%s) resent %d bytes (session); its live links show %d"
                  % (what, sender.name, resent[what],
                     sum(l["resent_bytes"] for l in st["links"])))
            cst = ml.stats(client)
            h.check_eq(cst["session"]["links_up"], LINKS, "%s: client links up at the end" % what)
            if sender is not client:
                ml.show_stats("client stats after the %s" % what, cst)

        def resends():
            h.check(any(v > 0 for v in resent.values()),
                    "nothing was resent after either link kill: %r" % resent)

        h.run_cases([
            ("download 64 MiB, one link killed at 10 MiB", lambda: run_with_kill(False)),
            ("upload 64 MiB, one link killed at 10 MiB", lambda: run_with_kill(True)),
            ("stranded data was resent", resends),
        ])
        h.check(client.alive(), "client still running")
        h.check(server.alive(), "server still running")


if __name__ == "__main__":
    h.main(test)
