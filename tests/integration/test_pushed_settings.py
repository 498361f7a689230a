# SPDX-License-Identifier: MIT
# Settings the server pushes in HELLO_ACK (keepalive, links, resume-timeout) are adopted by a
# client whose own configuration does not set them, and shown by `braid ctl`; a client that
# sets them keeps its own values (links capped at what the server allows).
import json
import os
import time

import harness as h


def ctl_stats(sock):
    r = h.run_braid(["ctl", "-S", sock, "--json", "stats"])
    h.check_eq(r.returncode, 0, "braid ctl exit status")
    return json.loads(r.stdout)


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        server, sport = h.start_server(d, {"alice": secret}, extra=(
            "keepalive = 7", "links = 3", "resume-timeout = 33"))

        def adopted():
            sock = os.path.join(d, "a.sock")
            client, _ = h.start_client(d, sport, pin, "alice", secret, tag="a",
                                       extra=("control = %s" % sock,))
            client.wait_for(r"settings from the server: .*keepalive = 7", h.dl(10))
            # Links 2 and 3 join after the first: poll until they are up (bounded).
            deadline = time.monotonic() + h.dl(10)
            s = ctl_stats(sock)
            while s["links_up"] < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
                s = ctl_stats(sock)
            h.check_eq(s["settings"], {"keepalive": 7, "links": 3, "resume_timeout": 33},
                       "pushed settings adopted")
            h.check_eq(s["links_up"], 3, "links up after adopting links = 3")
            client.stop()

        def own():
            sock = os.path.join(d, "b.sock")
            client, _ = h.start_client(d, sport, pin, "alice", secret, tag="b", extra=(
                "control = %s" % sock, "keepalive = 20", "resume-timeout = 90", "links = 8"))
            client.wait_for(r"the server allows 3 per session", h.dl(10))
            s = ctl_stats(sock)
            h.check_eq(s["settings"], {"keepalive": 20, "links": 3, "resume_timeout": 90},
                       "own settings kept, links capped")
            client.stop()

        h.run_cases([("client without settings adopts the server's", adopted),
                     ("client with its own settings keeps them", own)])


if __name__ == "__main__":
    h.main(run)
