#!/usr/bin/env python3
"""Abuses an HTTP endpoint the way a broken or hostile client would, for
tests/metrics.rs: N connections that send half a request head and stall,
N that pipeline thousands of requests and never read, N that send nothing,
and one header line far past any limit. Prints what it saw, one line each;
holds the connections until stdin closes or SECONDS pass."""
import socket
import sys
import time

host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
conns = []


def connect():
    s = socket.create_connection((host, port), timeout=5)
    conns.append(s)
    return s


opened = 0
for i in range(n):
    try:
        s = connect()
        kind = i % 3
        if kind == 0:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        elif kind == 1:
            s.setblocking(False)
            burst = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2000
            try:
                s.send(burst)
            except BlockingIOError:
                pass
        opened += 1
    except OSError as e:
        print(f"connect failed: {e}", flush=True)
print(f"opened {opened}", flush=True)

# One header line of 600 KiB: the server must refuse it, not buffer it.
try:
    s = socket.create_connection((host, port), timeout=5)
    s.setblocking(False)
    sent = 0
    line = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (600 * 1024)
    deadline = time.time() + 5
    while sent < len(line) and time.time() < deadline:
        try:
            sent += s.send(line[sent:])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    s.setblocking(True)
    s.settimeout(5)
    answer = s.recv(200).split(b"\r\n")[0].decode(errors="replace")
    print(f"big header: {answer} after {sent} bytes", flush=True)
except OSError as e:
    print(f"big header: closed ({e})", flush=True)

print("holding", flush=True)
time.sleep(hold)
for s in conns:
    s.close()
print("done", flush=True)
