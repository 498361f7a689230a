# SPDX-License-Identifier: MIT
# ssh -L style forwards: a 64 MiB transfer intact in each direction through one forward, two
# forwards at once to different targets, and a malformed forward spec refused with file:line.
import os
import threading

import harness as h

MiB = h.MiB
SIZE = 64 * MiB






def forward_port(client, target_port):
    m = client.wait_for(r"forward to 127\.0\.0\.1:%d listening on 127\.0\.0\.1:(\d+)" % target_port,
                        h.dl(10))
    return int(m.group(1))






def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret})
        src, snk = h.start_source_server(11, SIZE), h.start_sink_server()
        client, _ = h.start_client(d, sport, pin, "alice", secret, extra=(
            "forward = 0:127.0.0.1:%d" % src, "forward = 127.0.0.1:0:localhost:%d" % snk))
        fsrc, fsnk = forward_port(client, src), None
        m = client.wait_for(r"forward to localhost:%d listening on 127\.0\.0\.1:(\d+)" % snk, h.dl(10))
        fsnk = int(m.group(1))

        def both():
            res = {}
            t = threading.Thread(target=lambda: res.update(up=h.upload_det(fsnk, 12, SIZE)))
            t.start()
            res["down"] = h.download_sha256(fsrc)
            t.join(h.limit(h.dl(90)))
            h.check_eq(res["down"], h.det_sha256(11, SIZE), "64 MiB through forward 1 (download)")
            h.check_eq(res.get("up"), h.det_sha256(12, SIZE), "64 MiB through forward 2 (upload)")

        def malformed():
            conf = h.write(os.path.join(d, "bad.conf"), "\n".join([
                "[client]", "server = 127.0.0.1:1", "server-pin = %s" % pin, "name = alice",
                "secret-file = %s" % os.path.join(d, "alice.secret"), "forward = 8080:nohostport",
                ""]))
            r = h.run_braid(["check-config", "-c", conf])
            h.check_eq(r.returncode, 2, "malformed forward: exit status")
            h.check_in("bad.conf:6:", r.stderr, "malformed forward: file:line")
            h.check_in("HOSTPORT", r.stderr, "malformed forward: says what is expected")

        h.run_cases([("two forwards at once, 64 MiB each way", both),
                     ("malformed forward spec", malformed)])


if __name__ == "__main__":
    h.main(run)
