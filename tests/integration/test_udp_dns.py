# SPDX-License-Identifier: MIT
# UDP through the tunnel: SOCKS5 UDP ASSOCIATE to a UDP echo server (1,000 datagrams of mixed
# sizes, each checked byte for byte; the association dies with its TCP control connection),
# and DNS over the tunnel (`dns` on the client, `dns-upstream` on the server) over UDP and TCP,
# answered by a small local responder.
import random
import socket
import struct
import threading

import harness as h


def udp_echo_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    stop = threading.Event()

    def loop():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            s.sendto(data, addr)
    threading.Thread(target=loop, daemon=True).start()
    h.at_cleanup(lambda: (stop.set(), s.close()))
    return s.getsockname()[1]


def dns_answer(query):
    """Answers any question with A 10.9.8.7 (TTL 60): header with QR, the question, one answer."""
    qid = query[:2]
    end = 12
    while query[end] != 0:
        end += 1 + query[end]
    question = query[12:end + 5]
    header = qid + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0)
    answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("10.9.8.7")
    return header + question + answer


def dns_responder():
    """UDP and TCP on one port; returns the port and a list of queries seen."""
    seen = []
    # UDP and TCP on one port: the TCP port the kernel's UDP pick names may be taken (ports in
    # TIME_WAIT after many tests), so try a few (bounded).
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            t.bind(("127.0.0.1", port))
            break
        except OSError:
            u.close()
            t.close()
    t.listen(8)
    stop = threading.Event()

    def udp_loop():
        u.settimeout(0.2)
        while not stop.is_set():
            try:
                q, addr = u.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            seen.append(("udp", q))
            u.sendto(dns_answer(q), addr)

    def tcp_loop():
        t.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = t.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                n = struct.unpack(">H", h.recv_exact(c, 2))[0]
                q = h.recv_exact(c, n)
                seen.append(("tcp", q))
                a = dns_answer(q)
                c.sendall(struct.pack(">H", len(a)) + a)
    for fn in (udp_loop, tcp_loop):
        threading.Thread(target=fn, daemon=True).start()
    h.at_cleanup(lambda: (stop.set(), u.close(), t.close()))
    return port, seen


def dns_query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def udp_associate(socks_port):
    c = socket.create_connection(("127.0.0.1", socks_port), timeout=h.limit(h.dl(10)))
    c.sendall(b"\x05\x01\x00")
    h.check_eq(h.recv_exact(c, 2), b"\x05\x00", "greeting")
    c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    rep = h.recv_exact(c, 10)
    h.check_eq(rep[:2], b"\x05\x00", "UDP ASSOCIATE reply")
    relay = (socket.inet_ntoa(rep[4:8]), struct.unpack(">H", rep[8:10])[0])
    return c, relay


def run():
    with h.TempDir() as d:
        pin = h.keygen(d)
        secret = h.make_secret()
        dport, seen = dns_responder()
        server, sport = h.start_server(d, {"alice": secret},
                                       extra=("dns-upstream = 127.0.0.1:%d" % dport,))
        client, socks = h.start_client(d, sport, pin, "alice", secret,
                                       extra=("dns = 127.0.0.1:0",))
        m = client.wait_for(r"dns listening on 127\.0\.0\.1:(\d+)", h.dl(10))
        dns_port = int(m.group(1))
        echo = udp_echo_server()

        def associate():
            ctl, relay = udp_associate(socks)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(2)
            head = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo)
            rnd = random.Random(5)
            ok = bad = lost = 0
            for i in range(1000):
                size = rnd.choice([0, 1, 2, 100, 512, 1400, 4000, 9000, 16000])
                payload = struct.pack(">I", i) + rnd.randbytes(size)
                for attempt in range(3):  # UDP may drop; a lost datagram is retried, never wrong
                    u.sendto(head + payload, relay)
                    try:
                        got, _ = u.recvfrom(65535)
                    except socket.timeout:
                        continue
                    while got[10:14] != payload[:4] and got[10:14] < payload[:4]:
                        got, _ = u.recvfrom(65535)  # a late echo of an earlier retry
                    if got[:10] == head and got[10:] == payload:
                        ok += 1
                    else:
                        bad += 1
                    break
                else:
                    lost += 1
            h.check_eq(bad, 0, "corrupted datagrams")
            h.check(ok >= 990, "datagrams echoed: %d of 1000 (lost %d)" % (ok, lost))
            ctl.close()
            client.wait_for(r"association ends: control connection closed", h.dl(5))
            dead = False
            for _ in range(20):
                u.sendto(head + b"after", relay)
                try:
                    u.settimeout(0.25)
                    u.recvfrom(65535)
                except (socket.timeout, ConnectionRefusedError):
                    dead = True
                    break
            h.check(dead, "the association ended with its TCP control connection")
            u.close()

        def dns_udp():
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(h.limit(h.dl(5)))
            u.sendto(dns_query("example.braid.test", 0x4242), ("127.0.0.1", dns_port))
            a, _ = u.recvfrom(4096)
            h.check_eq(a[:2], b"\x42\x42", "DNS over UDP: the answer keeps the query id")
            h.check_eq(a[-4:], socket.inet_aton("10.9.8.7"), "DNS over UDP: the upstream's answer")
            h.check(any(kind == "udp" and b"example" in q for kind, q in seen),
                    "the upstream saw the query")
            u.close()

        def dns_tcp():
            with socket.create_connection(("127.0.0.1", dns_port), timeout=h.limit(h.dl(5))) as c:
                q = dns_query("tcp.braid.test", 0x1234)
                c.sendall(struct.pack(">H", len(q)) + q)
                n = struct.unpack(">H", h.recv_exact(c, 2))[0]
                a = h.recv_exact(c, n)
            h.check_eq(a[:2], b"\x12\x34", "DNS over TCP: the answer keeps the query id")
            h.check_eq(a[-4:], socket.inet_aton("10.9.8.7"), "DNS over TCP: the upstream's answer")

        h.run_cases([("UDP ASSOCIATE: 1,000 datagrams, then the association ends", associate),
                     ("DNS over UDP", dns_udp), ("DNS over TCP", dns_tcp)])


if __name__ == "__main__":
    h.main(run)
