"""BGP framing for the scripted peers of the tests: a message out, one
message in (its type and body) before a deadline."""
import struct
import time

MARKER = b"\xff" * 16


def msg(kind, body):
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def read_msg(s, deadline):
    buf = b""
    while len(buf) < 19:
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(19 - len(buf))
        if not chunk:
            return None
        buf += chunk
    length = struct.unpack("!H", buf[16:18])[0]
    while len(buf) < length:
        s.settimeout(max(0.01, deadline - time.time()))
        chunk = s.recv(length - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf[18], buf[19:]
