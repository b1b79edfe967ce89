#!/usr/bin/env bash
# The two-rack lab of the PorterLB multi-router guide, in network namespaces:
# a spine and two leaves (BIRD 2, routes in each kernel FIB with ECMP), a
# client behind the spine, master1 and worker1 under leaf1, worker2 under
# leaf2, each host with the VIP 192.0.2.200 on lo and a TCP responder that
# answers with its name. It shows the guide's "before" (one leafvip speaker,
# under leaf1) and "after" (one speaker per rack, announcing its rack's hosts
# over ADD-PATH): the routers' tables and where the client's connections land.
# Everything is torn down at the end. Run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")"

[ "$(id -u)" = 0 ] || { echo "lab.sh: run as root (it creates network namespaces)" >&2; exit 1; }
need=()
command -v bird >/dev/null || need+=(bird2)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
    echo "==> installing ${need[*]}"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
    rm -f /usr/sbin/policy-rc.d
fi
bin=$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")/release/leafvip
if [ ! -x "$bin" ] || [ -n "$(find src crates -newer "$bin" -name '*.rs' | head -1)" ]; then
    echo "==> building leafvip (release)"
    cargo build --release --quiet
    bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/leafvip
fi
responder=$PWD/tests/support/responder.py

id=lvlab$$
work=$(mktemp -d /tmp/leafvip-lab.XXXXXX)
. tests/support/netns.sh
# ECMP that spreads flows at every hop: hash addresses and ports, and a
# different seed per router, or every hop reuses the client's flow hash.
ecmp() {
    x "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.fib_multipath_hash_policy=3 net.ipv4.fib_multipath_hash_fields=0x0037 \
        net.ipv6.fib_multipath_hash_policy=3 net.ipv6.fib_multipath_hash_fields=0x0037
    x "$1" sysctl -qw "net.ipv4.fib_multipath_hash_seed=$2" 2>/dev/null || true
}
bird_conf() { # NAME ROUTER_ID AS [PEER_NAME PEER_ADDR PEER_AS]...
    local name=$1 rid=$2 as=$3; shift 3
    {
        echo "router id $rid;"
        echo 'protocol device {}'
        echo 'protocol direct { ipv4; ipv6; }'
        echo 'protocol kernel k4 { ipv4 { export all; }; merge paths on; }'
        echo 'protocol kernel k6 { ipv6 { export all; }; merge paths on; }'
        while [ $# -gt 0 ]; do
            echo "protocol bgp $1 { local as $as; neighbor $2 as $3; connect retry time 1;"
            echo '  ipv4 { import all; export where source = RTS_BGP; add paths rx; };'
            echo '  ipv6 { import all; export where source = RTS_BGP; add paths rx; }; }'
            shift 3
        done
    } > "$work/$name.conf"
    bgx "$work/$name.log" "$name" bird -f -c "$work/$name.conf" -s "$work/$name.ctl"
}

echo "==> topology: client - spine (AS 65000) - leaf1 (AS 65001) / leaf2 (AS 65002) - hosts"
for n in client spine leaf1 leaf2; do ns "$n"; done
ecmp spine 1; ecmp leaf1 2; ecmp leaf2 3
ip link add c0 netns "$id-spine" type veth peer name eth0 netns "$id-client"
x spine ip addr add 203.0.113.1/28 dev c0; x spine ip addr add 2001:db8:c::1/64 dev c0 nodad
x client ip addr add 203.0.113.2/28 dev eth0; x client ip addr add 2001:db8:c::2/64 dev eth0 nodad
x spine ip link set c0 up; x client ip link set eth0 up
x client ip route add default via 203.0.113.1; x client ip -6 route add default via 2001:db8:c::1
i=0
for leaf in "leaf1 198.51.100.1/25 2001:db8:100::1/64 203.0.113.17 203.0.113.18 2001:db8:11" \
            "leaf2 198.51.100.129/25 2001:db8:200::1/64 203.0.113.21 203.0.113.22 2001:db8:12"; do
    set -- $leaf
    ip link add "l$i" netns "$id-spine" type veth peer name uplink netns "$id-$1"
    x spine ip addr add "$4/30" dev "l$i"; x spine ip addr add "$6::1/64" dev "l$i" nodad; x spine ip link set "l$i" up
    x "$1" ip addr add "$5/30" dev uplink; x "$1" ip addr add "$6::2/64" dev uplink nodad; x "$1" ip link set uplink up
    x "$1" ip route add default via "$4"; x "$1" ip -6 route add default via "$6::1"
    x "$1" ip link add br0 type bridge; x "$1" ip link set br0 up
    x "$1" ip addr add "$2" dev br0; x "$1" ip addr add "$3" dev br0 nodad
    i=$((i + 1))
done
i=0
for host in "master1 leaf1 198.51.100.3 2001:db8:100::3 198.51.100.1 2001:db8:100::1" \
            "worker1 leaf1 198.51.100.4 2001:db8:100::4 198.51.100.1 2001:db8:100::1" \
            "worker2 leaf2 198.51.100.130 2001:db8:200::130 198.51.100.129 2001:db8:200::1"; do
    set -- $host
    ns "$1"
    ip link add "h$i" netns "$id-$2" type veth peer name eth0 netns "$id-$1"
    x "$2" ip link set "h$i" master br0 up
    x "$1" ip addr add "$3/25" dev eth0; x "$1" ip addr add "$4/64" dev eth0 nodad; x "$1" ip link set eth0 up
    x "$1" ip route add default via "$5"; x "$1" ip -6 route add default via "$6"
    x "$1" ip addr add 192.0.2.200/32 dev lo; x "$1" ip addr add 2001:db8:1::200/128 dev lo
    bgx /dev/null "$1" python3 "$responder" "$1" 0.0.0.0 8080
    i=$((i + 1))
done
bird_conf spine 203.0.113.1 65000 leaf1 203.0.113.18 65001 leaf2 203.0.113.22 65002
bird_conf leaf1 198.51.100.1 65001 spine 203.0.113.17 65000 master1 198.51.100.3 65100 worker1 198.51.100.4 65100
bird_conf leaf2 198.51.100.129 65002 spine 203.0.113.21 65000 worker2 198.51.100.130 65100

speaker() { # HOST RACK LEAF_ADDR LEAF_AS
    cat > "$work/$1.toml" <<EOF
[bgp]
asn = 65100

[node]
name = "$1"
labels = { rack = "$2" }

[[peer]]
address = "$3"
asn = $4
node_selector = { match_labels = { rack = "$2" } }

# The cluster's hosts, as Kubernetes lists Nodes; each speaker announces
# the healthy hosts of its own peer's rack, never another rack's.
[[host]]
name = "master1"
address = "198.51.100.3"
address6 = "2001:db8:100::3"
labels = { rack = "leaf1" }
check = { tcp = "198.51.100.3:8080", interval = "500ms", rise = 1, fall = 2 }

[[host]]
name = "worker1"
address = "198.51.100.4"
address6 = "2001:db8:100::4"
labels = { rack = "leaf1" }
check = { tcp = "198.51.100.4:8080", interval = "500ms", rise = 1, fall = 2 }

[[host]]
name = "worker2"
address = "198.51.100.130"
address6 = "2001:db8:200::130"
labels = { rack = "leaf2" }
check = { tcp = "198.51.100.130:8080", interval = "500ms", rise = 1, fall = 2 }

[[vip]]
prefix = "192.0.2.200/32"
next_hop = "hosts"

[[vip]]
prefix = "2001:db8:1::200/128"
next_hop = "hosts"
EOF
    bgx "$work/$1.leafvip.log" "$1" env RUST_LOG=info "$bin" run -c "$work/$1.toml" -s "$work/$1.sock"
}
wait_nexthops() { # NS PREFIX COUNT
    local fam=-4
    case $2 in *:*) fam=-6 ;; esac
    for _ in $(seq 150); do
        [ "$(x "$1" ip "$fam" route show "$2" | grep -c via)" -ge "$3" ] && return 0
        sleep 0.1
    done
    echo "lab: timed out waiting for $3 next hops for $2 in $1" >&2
    birdc -s "$work/$1.ctl" show route for "$2" all >&2 || true
    tail -n 20 "$work"/*.log >&2
    exit 1
}
show() {
    for r in spine leaf1 leaf2; do
        echo "    $r:"
        x "$r" ip route show 192.0.2.200 | sed 's/^/        /'
        x "$r" ip -6 route show 2001:db8:1::200 | sed 's/^/        /'
    done
    echo "    60 connections from the client to 192.0.2.200:8080 landed on:"
    x client python3 -c '
import collections, socket
c = collections.Counter()
for _ in range(60):
    s = socket.create_connection(("192.0.2.200", 8080), timeout=2)
    c[s.recv(64).decode().strip()] += 1
    s.close()
print("        " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))'
}

echo
echo "==> BEFORE (the guide's first figure): one leafvip speaker, on master1 under leaf1"
speaker master1 leaf1 198.51.100.1 65001
wait_nexthops leaf1 192.0.2.200 2
wait_nexthops spine 192.0.2.200 1
sleep 1
show
echo
echo "==> AFTER (the guide's second figure): a speaker in each rack (worker2 under leaf2 joins)"
speaker worker2 leaf2 198.51.100.129 65002
wait_nexthops leaf2 192.0.2.200 1
wait_nexthops spine 192.0.2.200 2
wait_nexthops spine 2001:db8:1::200 2
sleep 1
show
echo
echo "==> what worker2's operator sees: leafvip status"
"$bin" status -s "$work/worker2.sock" | sed 's/^/    /'
echo
if [ "$(x spine ip route show 192.0.2.200 | grep -c via)" = 2 ] && [ "$(x leaf1 ip route show 192.0.2.200 | grep -c via)" = 2 ]; then
    echo "lab: OK: the spine spreads the VIP over both leaves, leaf1 over master1 and worker1, leaf2 to worker2"
else
    echo "lab: FAILED" >&2
    exit 1
fi
