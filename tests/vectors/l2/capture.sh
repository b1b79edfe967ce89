#!/usr/bin/env bash
# Captures the questions a VIPs' owner answers in layer-2 mode, as
# tests/vectors/l2/*.hex: arping's and the kernel's ARP requests,
# ndisc6's and the kernel's Neighbor Solicitations, and the kernel's
# duplicate address detection, between two namespaces on a veth pair.
# Run as root, with arping (iputils-arping or arping), ndisc6 and tcpdump:
# capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/l2-capture.XXXXXX)
ns=l2cap$$
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    ip netns del "$ns-a" 2>/dev/null || true
    ip netns del "$ns-b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns-a"
ip netns add "$ns-b"
ip link add va netns "$ns-a" type veth peer name vb netns "$ns-b"
ip -n "$ns-a" addr add 198.51.100.2/24 dev va
ip -n "$ns-b" addr add 198.51.100.3/24 dev vb
ip -n "$ns-a" -6 addr add 2001:db8:1::2/64 dev va nodad
ip -n "$ns-b" -6 addr add 2001:db8:1::3/64 dev vb nodad
ip -n "$ns-a" link set va up
ip -n "$ns-b" link set vb up
sleep 2
ip netns exec "$ns-b" tcpdump -i vb -U -w "$work/cap.pcap" 'arp or (icmp6 and ip6[40] == 135)' >/dev/null 2>&1 &
pid=$!
sleep 1
ip netns exec "$ns-a" arping -c 1 -w 1 -I va 198.51.100.10 >/dev/null 2>&1 || true
ip netns exec "$ns-a" ndisc6 -1 -r 1 -w 300 2001:db8:1::10 va >/dev/null 2>&1 || true
ip netns exec "$ns-a" bash -c 'echo x > /dev/udp/198.51.100.11/9' || true
ip netns exec "$ns-a" bash -c 'echo x > /dev/udp/2001:db8:1::11/9' || true
sleep 1
ip netns exec "$ns-a" ip -6 addr add 2001:db8:1::12/64 dev va
sleep 2
kill -INT "$pid"
wait "$pid" || true
pid=
python3 "$here/extract.py" "$work/cap.pcap" "$here"
