#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpora in tests/fuzz/corpus/<target>/: a few valid inputs of each kind
# (frames, signed HELLOs, HELLO_ACKs, SOCKS5 messages, config files) and a few malformed ones.
# The files are committed; rerun this only to change the seeds.
import base64
import hashlib
import hmac
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SECRET = b"\x42" * 32  # fuzz_hello.cc verifies MACs with this secret


def w(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def hdr(t, flags, ln, stream):
    return struct.pack(">BBHI", t, flags, ln, stream)


def data(stream, off, payload, flags=0):
    return hdr(0, flags, 8 + len(payload), stream) + struct.pack(">Q", off) + payload


def frames():
    F = "fuzz_frame"
    openaddr = b"\x03\x0bexample.org\x01\xbb"
    w(F, "data", data(1, 0, b"hello world", 1))
    w(F, "open_domain", hdr(1, 0, len(openaddr), 1) + openaddr)
    w(F, "open_ipv4", hdr(1, 0, 7, 3) + b"\x01\x0a\x00\x00\x01\x00\x50")
    w(F, "open_ack", hdr(2, 0, 0, 1))
    w(F, "ack", hdr(3, 1, 16, 0) + struct.pack(">QQ", 1000, 263144))
    w(F, "reset", hdr(4, 0, 12, 5) + struct.pack(">IQ", 0x101, 77))
    w(F, "stop_sending", hdr(5, 0, 4, 5) + struct.pack(">I", 0x103))
    w(F, "ping_pong", hdr(6, 0, 8, 0) + struct.pack(">Q", 42) + hdr(6, 0x80, 8, 0) + struct.pack(">Q", 42))
    w(F, "goaway", hdr(7, 0, 8, 0) + struct.pack(">II", 9, 0))
    w(F, "extension", hdr(0x40, 0, 3, 2) + b"ext")
    w(F, "session", hdr(1, 0, len(openaddr), 1) + openaddr + hdr(2, 0, 0, 1)
      + data(1, 0, b"GET / HTTP/1.0\r\n\r\n") + hdr(3, 0, 16, 1) + struct.pack(">QQ", 18, 262162)
      + data(1, 18, b"", 1) + hdr(4, 0, 12, 1) + struct.pack(">IQ", 5, 18))
    bind, tgt = b"\x01\x7f\x00\x00\x01\x08\xae", b"\x03\x09localhost\x00\x16"
    w(F, "listen", hdr(0x0B, 0, len(bind + tgt), 1) + bind + tgt
      + hdr(0x0B, 1, 6 + 5, 1) + struct.pack(">IH", 0, 2222) + b"hello" + hdr(0x0B, 2, 0, 1))
    w(F, "open_via", hdr(1, 0x40, 1 + 3 + 7, 2) + b"\x03bob" + b"\x01\x0a\x00\x00\x01\x00\x16")
    w(F, "bad_too_long", hdr(0, 0, 16377, 1) + b"\0" * 8)
    w(F, "bad_unknown_type", hdr(0x0A, 0, 0, 1))
    w(F, "bad_short_data", hdr(0, 0, 7, 1) + b"\0" * 7)
    w(F, "bad_ping_stream", hdr(6, 0, 8, 3) + b"\0" * 8)
    w(F, "bad_offset", data(1, 1 << 62, b"x"))
    w(F, "truncated", data(1, 0, b"hello world")[:-3])


def hello(kind, name, nonce, ts, session, token, secret=SECRET):
    b = b"BRD" + bytes([1, kind, len(name)]) + name + nonce + struct.pack(">QQ", ts, session) + token
    return b + hmac.new(secret, b, hashlib.sha256).digest()


def tlv(t, width, v):
    return bytes([t, width]) + v.to_bytes(width, "big")


def hellos():
    H = "fuzz_hello"
    w(H, "hello_new", hello(0, b"router-1", bytes(range(16)), 1700000000, 0, b"\0" * 16))
    w(H, "hello_join", hello(1, b"r", b"N" * 16, 1700000001, 0x1122334455667788, b"T" * 16))
    w(H, "hello_resume_64", hello(2, b"x" * 64, b"\xff" * 16, 2**64 - 1, 2**64 - 1, b"\x01" * 16))
    w(H, "hello_bad_mac", hello(0, b"router-1", bytes(range(16)), 1700000000, 0, b"\0" * 16, b"wrong"))
    w(H, "hello_bad_magic", b"BRX" + hello(0, b"a", b"n" * 16, 1, 0, b"\0" * 16)[3:])
    w(H, "hello_name0", b"BRD\x01\x00\x00" + b"n" * 16 + b"\0" * 16 + b"\0" * 16 + b"\0" * 32)
    w(H, "hello_truncated", hello(0, b"router-1", bytes(range(16)), 1700000000, 0, b"\0" * 16)[:50])
    ack = struct.pack(">Q", 0xFEDCBA9876543210) + b"J" * 16
    w(H, "ack_all", ack + tlv(1, 2, 25) + tlv(2, 4, 262144) + tlv(3, 4, 16777216) + tlv(4, 1, 8)
      + tlv(5, 2, 600))
    w(H, "ack_unknown", ack + bytes([0x63, 3]) + b"xyz" + tlv(1, 2, 10) + bytes([0xFF, 20]) + b"q" * 20)
    w(H, "ack_bare", ack)
    w(H, "ack_truncated_tlv", ack + bytes([1, 2, 0]))


def socks():
    S = "fuzz_socks5"
    w(S, "greeting", b"\x05\x02\x00\x02")
    w(S, "auth", b"\x01\x05alice\x06secret")
    w(S, "req_ipv4", b"\x05\x01\x00\x01\x0a\x00\x00\x05\x01\xbb")
    w(S, "req_ipv6", b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50")
    w(S, "req_domain", b"\x05\x01\x00\x03\x0bexample.org\x1f\x90")
    w(S, "addr_domain", b"\x03\x0bexample.org\x01\xbb")
    w(S, "bad_version", b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")
    w(S, "bad_atyp", b"\x05\x01\x00\x02\x01\x02\x03\x04\x00\x50")
    w(S, "bad_nul_domain", b"\x05\x01\x00\x03\x03a\x00b\x00\x50")
    w(S, "zero_methods", b"\x05\x00")
    w(S, "truncated", b"\x05\x01\x00\x03\x0bexam")


def configs():
    C = "fuzz_config"
    sec = base64.b64encode(SECRET).decode()
    pin = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    w(C, "client", f"""# client
[client]
server = example.com:443
server = [2001:db8::1]:8443
server-pin = sha256:{pin}
name = router-1
secret = {sec}
links = 4
socks = 1080
socks = [::1]:1081
connect-reply = confirmed
keepalive = 15
log = syslog
verbose = 2
""".encode())
    w(C, "server", """[server]
listen = 443
listen = [::]:8443
cert = /etc/braid/server.crt
key = /etc/braid/server.key
allow = 10.0.0.0/8
deny = 10.9.0.0/16
deny = fd00::/8
max-sessions = 10
max-streams = 100
""".encode())
    w(C, "both", f"[client]\r\nname = a\r\nsecret = {sec}\r\n\r\n[server]\r\nlisten = 1\r\n".encode())
    w(C, "forwards", b"[client]\nremote-forward = 0.0.0.0:8022:127.0.0.1:22\n"
      b"peer-forward = 2022:office:[::1]:22\nexpose=127.0.0.1:22,nas:445\n"
      b"listen=0.0.0.0:8000-8100,*:22,[::]:443\n")
    w(C, "bad_key", b"[client]\nsever = x:1\n")
    w(C, "bad_section", b"[clint]\nlinks = 1\n")
    w(C, "no_section", b"links = 3\n")
    w(C, "bad_values", b"[client]\nlinks = 99\nsocks = 70000\nserver-pin = sha1:00\n")
    w(C, "secret_file_missing", b"[client]\nsecret-file = /nonexistent/braid-secret\n")
    w(C, "garbage", bytes(range(256)))


if __name__ == "__main__":
    frames()
    hellos()
    socks()
    configs()
