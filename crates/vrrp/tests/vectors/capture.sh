#!/usr/bin/env bash
# Captures keepalived's VRRPv3 advertisements, IPv4 and IPv6, as
# keepalived/*.hex: keepalived in one namespace, tcpdump in another across
# a veth pair, for 5 s, then SIGTERM (the priority-0 advertisements).
# Run as root, with keepalived and tcpdump installed: capture.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/vrrp-capture.XXXXXX)
ns=vrrpcap$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns-a" 2>/dev/null || true
    ip netns del "$ns-b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/k.conf" <<CONF
global_defs {
    vrrp_version 3
}
vrrp_instance V4 {
    state BACKUP
    interface va
    virtual_router_id 51
    priority 150
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.10/32
        192.0.2.11/32
    }
}
vrrp_instance V6 {
    state BACKUP
    interface va
    virtual_router_id 52
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        2001:db8::10/128
    }
}
CONF
ip netns add "$ns-a"
ip netns add "$ns-b"
ip link add va netns "$ns-a" type veth peer name vb netns "$ns-b"
ip -n "$ns-a" addr add 198.51.100.2/24 dev va
ip -n "$ns-b" addr add 198.51.100.3/24 dev vb
ip -n "$ns-a" link set va up
ip -n "$ns-b" link set vb up
sleep 2 # IPv6 link-local addresses leave tentative state
ip netns exec "$ns-b" tcpdump -i vb -U -w "$work/cap.pcap" 'ip proto 112 or ip6 proto 112' 2>/dev/null &
pids+=($!)
sleep 1
ip netns exec "$ns-a" keepalived -n -l -P -f "$work/k.conf" -p "$work/k.pid" -r "$work/v.pid" >/dev/null 2>&1 &
pids+=($!)
sleep 5
kill -TERM "${pids[1]}"
sleep 1
kill -INT "${pids[0]}"
wait "${pids[0]}" || true
python3 "$here/extract.py" "$work/cap.pcap" "$here/keepalived"
