#!/usr/bin/env python3
"""A hostile neighbour on the layer-2 lab's segment, bounded in count and
time: sends COUNT frames of each KIND round-robin on IFACE, at most
RATE a second, for at most SECONDS, and prints how many it sent.

  l2flood.py IFACE COUNT RATE SECONDS KIND...

Kinds (the VIPs are the lab's, documentation ranges only):
  arp    valid ARP requests for 198.51.100.10, each from a new sender
         MAC and IPv4 address (198.51.100.150-249): the owner answers each
  ns     Neighbor Solicitations for 2001:db8:2::10 with a wrong checksum
  vrrp   IPv4 protocol 112 to 224.0.0.18, TTL 255, random bytes
  ttl    a well-formed-looking VRRPv3 advert for VRID 10 with TTL 64
"""
import os
import random
import socket
import struct
import sys
import time

BCAST = b"\xff" * 6


def mac(i):
    return bytes([0x02, 0xAA, 0, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


def ip4_header(proto, ttl, src, dst, length):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, ttl, proto, 0, src, dst)
    s = sum(struct.unpack("!10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return h[:10] + struct.pack("!H", ~s & 0xFFFF) + h[12:]


def arp(i):
    src = mac(i)
    spa = bytes([198, 51, 100, 150 + i % 100])
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src + spa + b"\0" * 6 + bytes([198, 51, 100, 10])
    return BCAST + src + b"\x08\x06" + body


def ns(i):
    src = mac(i)
    target = socket.inet_pton(socket.AF_INET6, "2001:db8:2::10")
    sol = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:10")
    me = socket.inet_pton(socket.AF_INET6, "2001:db8:2::%x" % (0x1000 + i % 1000))
    # Type 135, code 0, a checksum that cannot be right, the target, and a
    # source link-layer option.
    icmp = struct.pack("!BBHI", 135, 0, 0xDEAD, 0) + target + b"\x01\x01" + src
    ip6 = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + me + sol
    return b"\x33\x33\xff\x00\x00\x10" + src + b"\x86\xdd" + ip6 + icmp


def vrrp(i, ttl=255, payload=None):
    src = mac(i)
    if payload is None:
        payload = os.urandom(random.randint(0, 40))
    ip = ip4_header(112, ttl, bytes([198, 51, 100, 150 + i % 100]), bytes([224, 0, 0, 18]), len(payload))
    return b"\x01\x00\x5e\x00\x00\x12" + src + b"\x08\x00" + ip + payload


def ttl(i):
    # VRRPv3, advert, VRID 10, priority 254, one address, 1 s: refused for
    # its TTL whatever the rest says.
    # The checksum is right (RFC 5798 5.2.8: over the IPv4 pseudo-header),
    # so that only the TTL is wrong: with TTL 255 it would take over.
    src = bytes([198, 51, 100, 150 + i % 100])
    adv = struct.pack("!BBBBHH", 0x31, 10, 254, 1, 100, 0) + bytes([198, 51, 100, 10])
    pseudo = src + bytes([224, 0, 0, 18, 0, 112]) + struct.pack("!H", len(adv))
    words = struct.unpack("!%dH" % ((len(pseudo) + len(adv)) // 2), pseudo + adv)
    c = sum(words)
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    adv = adv[:6] + struct.pack("!H", ~c & 0xFFFF) + adv[8:]
    return vrrp(i, ttl=64, payload=adv)


def main():
    iface, count, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    kinds = [{"arp": arp, "ns": ns, "vrrp": vrrp, "ttl": ttl}[k] for k in sys.argv[5:]]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    sent = 0
    while sent < count and time.monotonic() - start < seconds:
        frame = kinds[sent % len(kinds)](sent)
        try:
            s.send(frame)
        except OSError:
            pass
        sent += 1
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(sent)


if __name__ == "__main__":
    main()
