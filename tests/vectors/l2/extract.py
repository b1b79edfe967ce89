#!/usr/bin/env python3
"""Writes tests/vectors/l2/*.hex from capture.sh's pcap: the first frame
of each kind (arping's and the kernel's ARP requests, ndisc6's and the
kernel's Neighbor Solicitations, the kernel's duplicate address
detection). Each file: a `# what: ...` line, then the whole Ethernet
frame in hex."""
import struct
import sys

def frames(path):
    with open(path, 'rb') as f:
        assert struct.unpack('<I', f.read(4))[0] == 0xa1b2c3d4
        f.read(20)
        while hdr := f.read(16):
            incl = struct.unpack('<IIII', hdr)[2]
            yield f.read(incl)

def kind(fr):
    if fr[12:14] == b'\x08\x06':
        return 'arping-request' if len(fr) > 42 else 'kernel-arp-request'
    src = fr[22:38]
    if src == bytes(16):
        return 'kernel-dad-solicitation'
    if src[:2] == b'\xfe\x80':
        return 'ndisc6-solicitation'
    return 'kernel-solicitation'

seen = set()
for fr in frames(sys.argv[1]):
    k = kind(fr)
    if k in seen:
        continue
    seen.add(k)
    with open(f'{sys.argv[2]}/{k}.hex', 'w') as f:
        f.write(f'# what: {k}\n{fr.hex()}\n')
    print(k)
