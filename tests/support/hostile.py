#!/usr/bin/env python3
"""A hostile BGP peer for tests/hostile.rs. It connects to leafvip (a
passive peer there), brings the session up, then for a bounded time:

  refresh    sends 10,000 ROUTE-REFRESH in one write, then 2,000 every
             0.5 s, and never reads again (SO_RCVBUF 4096); afterwards it
             sends a KEEPALIVE a second, still not reading, and sees
             whether leafvip closed the session
The session's family is the addresses' (IPv4 or IPv6).
  updates    streams 4,096-byte UPDATEs of withdrawals at line rate,
             reading what comes back
  keepalive  streams KEEPALIVEs at line rate, reading what comes back

Everything it sends is bounded in count and time. It prints one line per
finding; the Rust test asserts on them."""
import socket
import struct
import sys
import threading
import time

from bgpwire import msg, read_msg

def afi(local):
    return 2 if ":" in local else 1


def establish(local, remote, asn, rcvbuf):
    s = socket.socket(socket.AF_INET6 if afi(local) == 2 else socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((local, 0))
    s.settimeout(10)
    s.connect((remote, 179))
    # IPv4 unicast, route refresh, 4-octet AS.
    # Multiprotocol for the session's own family, route refresh, 4-octet AS.
    caps = bytes([1, 4, 0, afi(local), 0, 1]) + bytes([2, 0]) + bytes([65, 4]) + struct.pack("!I", asn)
    opt = bytes([2, len(caps)]) + caps
    # Hold time 30: leafvip's stall bound is the hold time or 30 s,
    # whichever is longer, so a silent non-reader is closed in 30 s.
    body = struct.pack("!BHH4sB", 4, 23456, 30, socket.inet_aton("203.0.113.1"), len(opt)) + opt
    s.sendall(msg(1, body) + msg(4, b""))
    deadline = time.time() + 10
    while True:
        m = read_msg(s, deadline)
        if m is None:
            print("closed before established", flush=True)
            sys.exit(1)
        if m[0] == 4:
            break
    print("established", flush=True)
    # A pause before the flood: the test takes leafvip's RSS with this
    # session up (its table allocated), the baseline the flood is held to.
    time.sleep(2)
    return s


def drain(s, stop):
    """Reads and drops whatever leafvip sends until `stop` is set."""
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            if not s.recv(65536):
                print("closed by leafvip", flush=True)
                return
        except socket.timeout:
            pass
        except OSError:
            return


def stream(s, chunk, seconds):
    """Sends `chunk` over and over for `seconds`; returns the count."""
    stop = threading.Event()
    reader = threading.Thread(target=drain, args=(s, stop))
    reader.start()
    sent = 0
    end = time.time() + seconds
    s.settimeout(1)
    try:
        while time.time() < end:
            s.sendall(chunk)
            sent += 1
    except OSError as e:
        print("send failed: %s" % e, flush=True)
    stop.set()
    reader.join()
    return sent


def refresh(s, family, seconds, wait):
    rr = msg(5, struct.pack("!HBB", family, 0, 1))
    s.setblocking(False)
    sent = 0
    pending = b""

    def burst(n):
        """Queues n more requests unless the last ones are still not all
        taken (whole messages only: a partial write keeps its rest)."""
        nonlocal sent, pending
        if not pending:
            pending = rr * n
        while pending:
            try:
                k = s.send(pending)
            except BlockingIOError:
                # leafvip stopped reading: back-pressure, as asked for.
                return False
            sent += k
            pending = pending[k:]
        return True

    burst(10_000)
    end = time.time() + seconds
    pushed_back = False
    while time.time() < end:
        if not burst(2_000):
            pushed_back = True
        time.sleep(0.5)
    print("refresh sent %d pushed_back %s" % (sent // len(rr), pushed_back), flush=True)
    # Still not reading, but alive: a KEEPALIVE a second keeps leafvip's
    # hold timer from ending the session, so only its send-stall bound
    # can. Then whatever it had queued is read, and the end of the stream
    # seen.
    ka = msg(4, b"")
    end = time.time() + wait
    while time.time() < end:
        pending = b""
        burst_ok = True
        try:
            s.send(ka)
        except BlockingIOError:
            burst_ok = False
        except OSError:
            break
        time.sleep(1)
    s.setblocking(True)
    s.settimeout(2)
    got = 0
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                print("closed by leafvip after %d bytes" % got, flush=True)
                return
            got += len(b)
    except socket.timeout:
        print("still open after %d bytes" % got, flush=True)
    except OSError as e:
        print("closed by leafvip (%s) after %d bytes" % (e, got), flush=True)


def main():
    mode, local, remote, asn, seconds = sys.argv[1:6]
    seconds = float(seconds)
    if mode == "refresh":
        s = establish(local, remote, int(asn), 4096)
        refresh(s, afi(local), seconds, float(sys.argv[6]))
        return
    s = establish(local, remote, int(asn), 0)
    if mode == "updates":
        # Withdrawals of 198.51.100.0/24 host routes (/32s), 4,096 bytes.
        prefix = bytes([32, 198, 51, 100, 0])
        withdrawn = prefix * ((4096 - 23) // 5)
        chunk = msg(2, struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", 0))
        chunk = chunk * 16
    elif mode == "keepalive":
        chunk = msg(4, b"") * 3000
    else:
        raise SystemExit("unknown mode " + mode)
    n = stream(s, chunk, seconds)
    print("%s sent %d" % (mode, n), flush=True)
    s.close()


if __name__ == "__main__":
    main()
