#!/usr/bin/env python3
"""Writes keepalived/*.hex from a capture.sh pcap: the first advertisement
of each VRID at its configured priority, and the priority-0 one sent at
SIGTERM. Each file: `# key: value` lines (src, dst, ttl), then the VRRP
bytes (the IP payload) in hex."""
import struct
import sys
import ipaddress

def packets(path):
    with open(path, 'rb') as f:
        magic, = struct.unpack('<I', f.read(4))
        assert magic == 0xa1b2c3d4, 'a little-endian microsecond pcap'
        f.read(20)
        while hdr := f.read(16):
            _, _, incl, _ = struct.unpack('<IIII', hdr)
            yield f.read(incl)

def main(pcap, out):
    seen = set()
    for frame in packets(pcap):
        ethertype = frame[12:14]
        if ethertype == b'\x08\x00':
            ihl = (frame[14] & 0x0f) * 4
            ip = frame[14:]
            src, dst, ttl = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20]), ip[8]
            body = ip[ihl:struct.unpack('>H', ip[2:4])[0]]
        elif ethertype == b'\x86\xdd':
            ip = frame[14:]
            src, dst, ttl = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40]), ip[7]
            body = ip[40:40 + struct.unpack('>H', ip[4:6])[0]]
        else:
            continue
        vrid, prio = body[1], body[2]
        kind = 'leaving' if prio == 0 else 'advert'
        key = (src.version, kind)
        if key in seen:
            continue
        seen.add(key)
        name = f'{out}/v{src.version}-vrid{vrid}-{kind}.hex'
        with open(name, 'w') as f:
            f.write(f'# src: {src}\n# dst: {dst}\n# ttl: {ttl}\n{body.hex()}\n')
        print(name)

main(sys.argv[1], sys.argv[2])
