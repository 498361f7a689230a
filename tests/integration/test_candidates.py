# SPDX-License-Identifier: MIT
# Several `server` candidates: dialled in parallel, the first to authenticate wins, `braid ctl
# links` shows which one is in use and why the others are not; when the session dies for good
# (here: resume-timeout = 2 after its server is killed), the candidates race again and new
# connections work through the other server.
import json
import os
import signal

import harness as h


def links(sock):
    r = h.run_braid(["ctl", "-S", sock, "--json", "links"])
    h.check_eq(r.returncode, 0, "braid ctl links exit status")
    return json.loads(r.stdout)


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        a, aport = h.start_server(d, {"alice": secret}, name="a")
        b, bport = h.start_server(d, {"alice": secret}, name="b")
        dead_sock, dead = h.refused_port()
        h.at_cleanup(dead_sock.close)
        echo = h.start_echo_server()
        sock = os.path.join(d, "c.sock")
        conf = h.client_config(d, dead, pin, "alice", secret, extra=(
            "server = 127.0.0.1:%d" % aport, "server = 127.0.0.1:%d" % bport,
            "control = %s" % sock, "resume-timeout = 2"))
        client = h.Proc([h.BRAID, "client", "-c", conf], "client", d)
        m = client.wait_for(r"socks5 listening on 127\.0\.0\.1:(\d+)", h.dl(10))
        socks = int(m.group(1))
        client.wait_for(r"session established with 127\.0\.0\.1:(\d+)", h.dl(10))

        def state():
            return {c["server"]: c for c in links(sock)["candidates"]}

        def echo_ok(what):
            s, rep = h.socks5_connect(socks, "127.0.0.1", echo)
            h.check_eq(rep, 0, what + ": socks reply")
            if s:
                s.sendall(b"x" * 1000)
                h.check_eq(h.recv_exact(s, 1000), b"x" * 1000, what + ": echo")
                s.close()

        won = {}

        def race():
            st = state()
            h.check_eq(st["127.0.0.1:%d" % dead]["state"], "failed", "the dead candidate failed")
            h.check_in("refused", st["127.0.0.1:%d" % dead]["why"], "why it failed")
            in_use = [srv for srv, c in st.items() if c["state"] == "in use"]
            h.check_eq(len(in_use), 1, "exactly one candidate in use")
            won["srv"] = in_use[0] if in_use else None
            others = [c for srv, c in st.items() if srv not in in_use and "%d" % dead not in srv]
            h.check(all(c["why"] for c in others), "the losers say why: %r" % others)
            echo_ok("through the winner")

        def failover():
            winner = a if won.get("srv") == "127.0.0.1:%d" % aport else b
            other = "127.0.0.1:%d" % (bport if winner is a else aport)
            mark = client.mark()
            winner.kill(signal.SIGKILL)
            client.wait_for(r"session established with %s" % other.replace(".", r"\."), h.dl(20),
                            since=mark)
            echo_ok("after failover")
            h.check_eq(state()[other]["state"], "in use", "the other server is now in use")

        h.run_cases([("first to authenticate wins", race), ("failover to the other", failover)])


if __name__ == "__main__":
    h.main(run)
