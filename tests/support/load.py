#!/usr/bin/env python3
"""Client load for the hitless tests, against echo.py behind a VIP:

  load.py VIP PORT SECONDS RATE FLOWS READY_FILE

- RATE short requests a second, each a new TCP connection that must bring
  the host's name within 1 s; a failure is counted with the time it came;
- FLOWS long-lived flows, each sending a line every 100 ms for SECONDS and
  needing the echo within 1 s from the host it first reached: a reset, a
  timeout or another host's name breaks it.

Once every flow has its first answer it writes READY_FILE, so that the
test starts its scenario under the full load. At the end it prints one
JSON object: when the load began (t0, CLOCK_MONOTONIC seconds), the short
requests (total, failed, when each failure came and why: the exception's
class, such as TimeoutError or ConnectionResetError, or "empty" for a
connection closed without an answer; and each success's start
and end from t0 and the host that answered), and each flow's host, and whether and why it broke."""
import json
import socket
import sys
import threading
import time

vip, port, secs, rate, nflows, ready_file = (
    sys.argv[1],
    int(sys.argv[2]),
    float(sys.argv[3]),
    int(sys.argv[4]),
    int(sys.argv[5]),
    sys.argv[6],
)
family = socket.AF_INET6 if ":" in vip else socket.AF_INET
lock = threading.Lock()
short = {"total": 0, "failed": 0, "failed_at": [], "failed_why": [], "ok_at": []}
flows = []
started = threading.Barrier(nflows + 1)


def connect():
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1.0)
    s.connect((vip, port))
    return s, s.makefile("rb")


def flow(i):
    r = {"host": None, "broken": None}
    flows.append(r)
    try:
        s, f = connect()
        r["host"] = f.readline().decode().strip()
    except OSError as e:
        r["broken"] = "connect: %s" % e
        started.wait()
        return
    started.wait()
    end = time.monotonic() + secs
    n = 0
    try:
        while time.monotonic() < end:
            n += 1
            s.sendall(b"ping %d\n" % n)
            got = f.readline().decode().strip()
            if not got:
                r["broken"] = "closed"
                return
            host = got.split(" ", 1)[0]
            if host != r["host"]:
                r["broken"] = "answered by %s" % host
                return
            time.sleep(0.1)
    except OSError as e:
        r["broken"] = type(e).__name__
    finally:
        s.close()


def one(t0):
    ok = False
    host = ""
    why = "empty"
    start = time.monotonic() - t0
    try:
        s, f = connect()
        host = f.readline().decode().strip()
        ok = bool(host)
        s.close()
    except OSError as e:
        why = type(e).__name__
    with lock:
        short["total"] += 1
        if not ok:
            short["failed"] += 1
            short["failed_at"].append(round(time.monotonic() - t0, 4))
            short["failed_why"].append(why)
        else:
            short["ok_at"].append([round(start, 4), round(time.monotonic() - t0, 4), host])


threads = [threading.Thread(target=flow, args=(i,)) for i in range(nflows)]
for t in threads:
    t.start()
started.wait()
open(ready_file, "w").close()
t0 = time.monotonic()
shorts = []
k = 0
while time.monotonic() - t0 < secs:
    k += 1
    t = threading.Thread(target=one, args=(t0,))
    t.start()
    shorts.append(t)
    # Paced against the clock, not the requests: RATE a second.
    time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
for t in threads + shorts:
    t.join()
# t0 on CLOCK_MONOTONIC, so that a caller can place its own events.
print(json.dumps({"t0": t0, "short": short, "flows": flows}))
