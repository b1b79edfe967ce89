#!/usr/bin/env python3
"""A scripted BGP peer for fault tests: waits for leafvip to connect, brings
the session up, then sends malformed UPDATEs and reports what leafvip does.
Prints one line per finding; the Rust test asserts on them."""
import socket
import struct
import sys
import time

from bgpwire import msg, read_msg

def watch(s, seconds):
    """Reads for `seconds`: 'quiet' if only UPDATE/KEEPALIVE came,
    'notification C S' or 'closed' otherwise."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            m = read_msg(s, deadline)
        except socket.timeout:
            break
        if m is None:
            return "closed"
        kind, body = m
        if kind == 3:
            return "notification %d %d" % (body[0], body[1])
    return "quiet"


def main():
    local = sys.argv[1]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((local, 179))
    ls.listen(1)
    ls.settimeout(30)
    s, _ = ls.accept()
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", 65001)
    opt = bytes([2, len(caps)]) + caps
    open_body = struct.pack("!BHH4sB", 4, 65001, 30, socket.inet_aton(local), len(opt)) + opt
    s.sendall(msg(1, open_body) + msg(4, b""))
    deadline = time.time() + 10
    got_keepalive = False
    while not got_keepalive:
        m = read_msg(s, deadline)
        if m is None:
            print("closed before established", flush=True)
            return
        got_keepalive = m[0] == 4
    print("established", flush=True)

    nlri = bytes([32, 192, 0, 2, 99])
    good = bytes([0x40, 1, 1, 0, 0x40, 2, 6, 2, 1]) + struct.pack("!I", 65001) + bytes([0x40, 3, 4, 198, 51, 100, 1])

    def update(attrs, nlri=nlri, withdrawn=b""):
        return msg(2, struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri)

    # RFC 7606 treat-as-withdraw: ORIGIN with an undefined value.
    bad_origin = bytes([0x40, 1, 1, 7]) + good[4:]
    # Attribute discard: LOCAL_PREF from an external peer, ATOMIC_AGGREGATE of length 1.
    discard = good + bytes([0x40, 5, 4, 0, 0, 0, 100, 0x40, 6, 1, 0])
    # Treat-as-withdraw: COMMUNITIES of length 3.
    bad_comm = good + bytes([0xC0, 8, 3, 1, 2, 3])
    s.sendall(update(bad_origin) + update(discard) + update(bad_comm))
    print("after-7606 " + watch(s, 3), flush=True)

    # Session reset: withdrawn routes length runs past the message.
    s.sendall(msg(2, struct.pack("!H", 9) + b"\x00\x00"))
    print("after-broken " + watch(s, 5), flush=True)


if __name__ == "__main__":
    main()
