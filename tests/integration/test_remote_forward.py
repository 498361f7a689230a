# SPDX-License-Identifier: MIT
# Remote forwards (remote-forward / -R): the server listens for the client and every connection
# there reaches HOST:HOSTPORT as seen from the client. 64 MiB intact each way at once; the
# clients file's listen= rules decide where a client may bind (refusals logged on both sides);
# the listener goes away with the session and comes back with the client's next session; a
# client restarted before its old session timed out takes its listener over.
import socket
import json
import os
import signal
import threading
import time

import harness as h

MiB = h.MiB
SIZE = 64 * MiB












def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        alice, carol = h.make_secret(), h.make_secret()
        carol_port = h.free_port()
        server, sport = h.start_server(d, {"alice": alice,
                                           "carol": carol + " listen=0.0.0.0:%d,127.0.0.1:1024-65535" % carol_port},
                                       extra=("resume-timeout = 3",))
        src, snk, echo = h.start_source_server(21, SIZE), h.start_sink_server(), h.start_echo_server()
        p_src, p_snk, p_low, p_any = h.free_port(), h.free_port(), 1023, h.free_port()
        forwards = ("remote-forward = %d:127.0.0.1:%d" % (p_src, src),
                    "remote-forward = 127.0.0.1:%d:localhost:%d" % (p_snk, snk),
                    "remote-forward = 127.0.0.1:%d:127.0.0.1:%d" % (p_low, echo),
                    "remote-forward = 0.0.0.0:%d:127.0.0.1:%d" % (p_any, echo))
        csock = os.path.join(d, "alice.sock")
        client, _ = h.start_client(d, sport, pin, "alice", alice, extra=forwards + ("control = %s" % csock,))
        for p in (p_src, p_snk):
            client.wait_for(r"remote-forward (\S*:)?%d:\S*: the server listens on" % p, h.dl(10))

        def both():
            res = {}
            t = threading.Thread(target=lambda: res.update(up=h.upload_det(p_snk, 22, SIZE)))
            t.start()
            res["down"] = h.download_sha256(p_src)
            t.join(h.limit(h.dl(90)))
            h.check_eq(res["down"], h.det_sha256(21, SIZE), "64 MiB through remote forward 1 (server -> client side)")
            h.check_eq(res.get("up"), h.det_sha256(22, SIZE), "64 MiB through remote forward 2 (towards the client side)")
            st = client.find(r"stream \d+: refused")
            h.check(st is None, "the client accepted the server-opened streams")

        def refusals():
            m = client.wait_for(r"remote-forward 127\.0\.0\.1:1023:.*refused by the server: (.*)", h.dl(10))
            h.check_in("listen=", m.group(1), "client log says which rule refused port 1023")
            server.wait_for(r'client "alice": remote-forward 127\.0\.0\.1:1023 refused', h.dl(10))
            client.wait_for(r"remote-forward 0\.0\.0\.0:%d:.*refused by the server" % p_any, h.dl(10))
            server.wait_for(r'client "alice": remote-forward 0\.0\.0\.0:%d refused' % p_any, h.dl(10))
            h.check(not h.listens_on(server.pid, p_any), "nothing listens where the server refused")
            r = h.run_braid(["ctl", "-S", csock, "--json", "forwards"])
            states = {f["listen"]: (f["state"], f["why"]) for f in json.loads(r.stdout)["forwards"]}
            h.check(states.get("127.0.0.1:1023", ("", ""))[0] == "refused" and
                    "listen=" in states["127.0.0.1:1023"][1], "braid ctl forwards: 1023 refused, with the rule")
            h.check_eq(states.get("127.0.0.1:%d" % p_snk, ("", ""))[0], "listening",
                       "braid ctl forwards: an accepted remote forward is listening")

        def listen_rule():
            c2, _ = h.start_client(d, sport, pin, "carol", carol, extra=(
                "remote-forward = 0.0.0.0:%d:127.0.0.1:%d" % (carol_port, echo),))
            c2.wait_for(r"remote-forward 0\.0\.0\.0:%d:.*: the server listens" % carol_port, h.dl(10))
            with socket.create_connection(("127.0.0.1", carol_port), timeout=h.limit(10)) as s:
                s.sendall(b"ping through listen=0.0.0.0")
                h.check_eq(s.recv(100), b"ping through listen=0.0.0.0", "echo via carol's remote forward")
            # Another client may not take a bind that carol holds.
            c3, _ = h.start_client(d, sport, pin, "carol", carol, tag="carol2", extra=(
                "remote-forward = 127.0.0.1:%d:127.0.0.1:%d" % (p_src, echo),))
            c3.wait_for(r"remote-forward 127\.0\.0\.1:%d:.*refused by the server: in use by another client" % p_src, h.dl(10))
            c3.stop()
            c2.stop()

        def follows_session():
            # The client dies: after the server's resume-timeout (3 s) the session ends and the
            # listener with it; the next session asks again and the port serves again.
            mark = server.mark()
            client.kill()
            server.wait_for(r"remote-forward 127\.0\.0\.1:%d closed with its session" % p_src, h.dl(15), since=mark)
            h.check(not h.listens_on(server.pid, p_src), "listener closed once the session ended")
            c4, _ = h.start_client(d, sport, pin, "alice", alice, tag="alice3", extra=forwards)
            c4.wait_for(r"remote-forward (\S*:)?%d:\S*: the server listens on" % p_src, h.dl(10))
            h.check_eq(h.download_sha256(p_src), h.det_sha256(21, SIZE), "64 MiB after the listener came back")
            # Restarted before the old session timed out: the new session takes the listener.
            mark = server.mark()
            c4.kill()
            c5, _ = h.start_client(d, sport, pin, "alice", alice, tag="alice4", extra=forwards)
            c5.wait_for(r"remote-forward (\S*:)?%d:\S*: the server listens on" % p_src, h.dl(10))
            server.wait_for(r"remote-forward 127\.0\.0\.1:%d moves to session" % p_src, h.dl(10), since=mark)
            with socket.create_connection(("127.0.0.1", p_src), timeout=h.limit(10)) as s:
                got = s.recv(4096)
            h.check(len(got) > 0, "the taken-over listener reaches the new client")
            time.sleep(h.dl(4))  # the old session times out; the listener must stay
            h.check(h.listens_on(server.pid, p_src), "listener stays after the old session ended")

        def reload_revokes():
            c6, _ = h.start_client(d, sport, pin, "carol", carol, tag="carol3", extra=(
                "remote-forward = 0.0.0.0:%d:127.0.0.1:%d" % (carol_port, echo),))
            c6.wait_for(r"remote-forward 0\.0\.0\.0:%d:\S*: the server listens" % carol_port, h.dl(10))
            h.check(h.listens_on(server.pid, carol_port), "carol's listener is up before the reload")
            mark, cmark = server.mark(), c6.mark()
            h.write(os.path.join(d, "server.clients"), "alice %s\ncarol %s listen=127.0.0.1:1024-65535\n"
                    % (alice, carol))
            os.kill(server.pid, signal.SIGHUP)
            server.wait_for(r"remote-forward 0\.0\.0\.0:%d closed: no longer in the listen= rules" % carol_port,
                            h.dl(10), since=mark)
            c6.wait_for(r"remote-forward 0\.0\.0\.0:%d:\S*: closed by the server: no longer" % carol_port,
                        h.dl(10), since=cmark)
            h.check(not h.listens_on(server.pid, carol_port), "the revoked listener is closed")
            h.check(h.listens_on(server.pid, p_src), "alice's listener is untouched by the reload")
            c6.stop()

        h.run_cases([("64 MiB each way through two remote forwards", both),
                     ("binds outside the rules are refused, logged on both sides", refusals),
                     ("listen= opens other addresses; a held bind is not given to another client", listen_rule),
                     ("the listener follows the session", follows_session),
                     ("SIGHUP with fewer listen= rules closes what they no longer allow", reload_revokes)])


if __name__ == "__main__":
    h.main(run)
