#!/usr/bin/env python3
"""A scripted BGP peer that forces a connection collision (RFC 4271 §6.8):
it accepts leafvip's connection (A), reads leafvip's OPEN on it, dials
leafvip's listener itself (B) and sends its OPEN there first, then on A.
Every message each connection carries is printed, so the test sees which
one got Cease/Connection Collision Resolution (6/7) and which one went on
to carry the session (KEEPALIVE, then UPDATEs).
  collider.py LOCAL_ADDR LEAFVIP_ADDR BGP_ID"""
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
NAMES = {1: "open", 2: "update", 3: "notification", 4: "keepalive"}


def msg(kind, body):
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def main():
    local, leafvip, bgp_id = sys.argv[1], sys.argv[2], sys.argv[3]
    caps = bytes([1, 4, 0, 1, 0, 1]) + bytes([65, 4]) + struct.pack("!I", 65001)
    opt = bytes([2, len(caps)]) + caps
    open_msg = msg(1, struct.pack("!BHH4sB", 4, 65001, 90, socket.inet_aton(bgp_id), len(opt)) + opt)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((local, 179))
    ls.listen(1)
    ls.settimeout(30)
    a, _ = ls.accept()
    bufs = {"A": b"", "B": b""}
    seen = []
    conns = {"A": a}

    def pump(name, until, seconds=10):
        """Reads conn `name`, printing each message, until a message of a
        kind in `until` arrives or it closes; returns that kind or None."""
        s = conns[name]
        deadline = time.time() + seconds
        while time.time() < deadline:
            buf = bufs[name]
            if len(buf) >= 19:
                length = struct.unpack("!H", buf[16:18])[0]
                if len(buf) >= length:
                    kind, body = buf[18], buf[19:length]
                    bufs[name] = buf[length:]
                    extra = " %d %d" % (body[0], body[1]) if kind == 3 else ""
                    line = "%s %s%s" % (name, NAMES.get(kind, kind), extra)
                    seen.append(line)
                    print(line, flush=True)
                    if kind in until:
                        return kind
                    continue
            r, _, _ = select.select([s], [], [], 0.2)
            if r:
                chunk = s.recv(4096)
                if not chunk:
                    print("%s closed" % name, flush=True)
                    return None
                bufs[name] += chunk
        print("%s quiet" % name, flush=True)
        return None

    pump("A", (1,))  # leafvip's OPEN on its own connection
    b = socket.create_connection((leafvip, 179), timeout=10, source_address=(local, 0))
    conns["B"] = b
    pump("B", (1,))  # leafvip's OPEN on the connection we opened
    b.sendall(open_msg)
    # B now tells leafvip our identifier: it decides here. A KEEPALIVE on
    # B may come either way; a Cease on B within 2 s says B lost.
    pump("B", (3, 4))
    lost = any(l.startswith("B notification") for l in seen) or pump("B", (3,), 2) == 3
    a.sendall(open_msg)
    if not lost:
        # B survived: finish it and expect A to be closed with 6/7.
        b.sendall(msg(4, b""))
        pump("A", (3,))
        pump("B", (2,))
    else:
        # B was closed: A carries the session.
        pump("A", (4, 3))
        a.sendall(msg(4, b""))
        pump("A", (2,))
    print("done", flush=True)


if __name__ == "__main__":
    main()
