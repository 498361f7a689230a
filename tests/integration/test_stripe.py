# SPDX-License-Identifier: MIT
# Striping: a client with links = 4 behind the path emulator (4 MB/s per connection and
# direction, 20 ms one-way delay). One SOCKS5 stream downloads 32 MiB and another uploads 16 MiB;
# both arrive intact, and braid's own SIGUSR1 statistics show the single stream used every link:
# each of the client's 4 links received >= 1 MiB during the download, and each of the server's
# links received >= 1 MiB during the upload. Throughput is printed, never asserted.
import harness as h
import multilink as ml

LINKS = 4
RATE = 4000000
DELAY_MS = 20
DOWN_SIZE = 32 * h.MiB
UP_SIZE = 16 * h.MiB
# Under sanitizers braid, not the emulator's cap, is the bottleneck, so links fill less and
# striping has less reason to spread; every link must still carry a real share.
MIN_PER_LINK = (256 * 1024) if h.SANITIZE else 1 * h.MiB
TRANSFER_S = 60      # 32 MiB at one link's 4 MB/s would take 8.4 s; this is a hang guard only


def per_link_check(st, before, what):
    """Every link got >= MIN_PER_LINK bytes_received since `before` (a stats snapshot; links
    that were not in it count from 0)."""
    links = st["links"]
    h.check_eq(len(links), LINKS, "%s: number of links in the stats" % what)
    base = {l["id"]: l["bytes_received"] for l in (before["links"] if before else [])}
    for l in links:
        got = l["bytes_received"] - base.get(l["id"], 0)
        h.log("%s: link %d received %.2f MiB" % (what, l["id"], got / h.MiB))
        h.check(got >= MIN_PER_LINK,
                "%s: link %d received only %d bytes (< %d): the stream was not striped over it"
                % (what, l["id"], got, MIN_PER_LINK))


def test():
    with h.TempDir() as d:
        env = ml.setup(d, LINKS, emu=(RATE, DELAY_MS))
        client, server, socks = env["client"], env["server"], env["socks"]
        source = ml.start_source_server()
        sink = ml.start_sink_server()
        h.log("%d links up" % LINKS)

        def download():
            before = ml.stats(client)
            t = ml.Transfer(socks, source, seed=101, size=DOWN_SIZE, timeout=TRANSFER_S)
            t.run()
            ml.check_transfer(t, "download")
            h.log("download throughput %.2f MB/s (%d links x %.1f MB/s cap; informational)"
                  % (DOWN_SIZE / t.secs / 1e6 if t.secs else 0, LINKS, RATE / 1e6))
            st = ml.stats(client)
            ml.show_stats("client stats after the download", st)
            per_link_check(st, before, "download, client")

        def upload():
            before = ml.stats(server)
            # the sender's view of its links (srtt decides which links a stream may stripe onto)
            ml.show_stats("client stats before the upload", ml.stats(client))
            t = ml.Transfer(socks, sink, seed=202, size=UP_SIZE, upload=True, timeout=TRANSFER_S)
            t.run()
            ml.check_transfer(t, "upload")
            h.log("upload throughput %.2f MB/s (informational)"
                  % (UP_SIZE / t.secs / 1e6 if t.secs else 0))
            st = ml.stats(server)
            ml.show_stats("server stats after the upload", st)
            per_link_check(st, before, "upload, server")

        h.run_cases([
            ("download 32 MiB over one stream, striped over 4 links", download),
            ("upload 16 MiB over one stream, striped over 4 links", upload),
        ])
        h.check(client.alive(), "client still running")
        h.check(server.alive(), "server still running")


if __name__ == "__main__":
    h.main(test)
