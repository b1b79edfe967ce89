#!/usr/bin/env bash
# The self-contained lab: network namespaces, one BIRD 2 leaf router, and two
# hosts running leafvip with a labels file each (rack=leaf1). Prints the
# leaf's BGP routes and kernel FIB for the VIP (ECMP over both hosts), then
# tears everything down. Run as root on Debian; installs what it needs.
set -euo pipefail
cd "$(dirname "$0")"

[ "$(id -u)" = 0 ] || { echo "lab.sh: run as root (it creates network namespaces)" >&2; exit 1; }
if ! command -v bird >/dev/null || ! command -v birdc >/dev/null; then
    echo "==> installing bird2"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bird2
    rm -f /usr/sbin/policy-rc.d
fi
if [ ! -x target/release/leafvip ] || [ -n "$(find src crates -newer target/release/leafvip -name '*.rs' | head -1)" ]; then
    echo "==> building leafvip (release)"
    cargo build --release --quiet
fi
bin=$PWD/target/release/leafvip

id=lvlab$$
work=$(mktemp -d /tmp/leafvip-lab.XXXXXX)
pids=()
namespaces=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ns() { ip netns add "$id-$1"; namespaces+=("$id-$1"); ip -n "$id-$1" link set lo up; }

echo "==> namespaces: leaf1 (BIRD, AS 65001) and hosts master1, worker1 (leafvip, AS 65100)"
ns leaf1
ip -n "$id-leaf1" link add br0 type bridge
ip -n "$id-leaf1" addr add 198.51.100.1/24 dev br0
ip -n "$id-leaf1" addr add 2001:db8:100::1/64 dev br0 nodad
ip -n "$id-leaf1" link set br0 up
n=3
for host in master1 worker1; do
    ns "$host"
    ip link add "p-$host" netns "$id-leaf1" type veth peer name eth0 netns "$id-$host"
    ip -n "$id-leaf1" link set "p-$host" master br0 up
    ip -n "$id-$host" addr add "198.51.100.$n/24" dev eth0
    ip -n "$id-$host" addr add "2001:db8:100::$n/64" dev eth0 nodad
    ip -n "$id-$host" link set eth0 up
    # The VIP lives on the host's loopback, as a service VIP would.
    ip -n "$id-$host" addr add 192.0.2.200/32 dev lo
    ip -n "$id-$host" addr add 2001:db8:1::200/128 dev lo
    echo "rack=leaf1" > "$work/$host.labels"
    cat > "$work/$host.toml" <<EOF
[bgp]
asn = 65100

[node]
name = "$host"
labels_file = "$work/$host.labels"

[[peer]]
address = "198.51.100.1"
asn = 65001
description = "leaf1"
node_selector = { match_labels = { rack = "leaf1" } }

[[peer]]
address = "203.0.113.1"
asn = 65002
description = "leaf2, another rack"
node_selector = { match_labels = { rack = "leaf2" } }

[[vip]]
prefix = "192.0.2.200/32"

[[vip]]
prefix = "2001:db8:1::200/128"
EOF
    n=$((n + 1))
done

cat > "$work/bird.conf" <<EOF
router id 198.51.100.1;
protocol device {}
protocol kernel k4 { ipv4 { export all; }; merge paths on; }
protocol kernel k6 { ipv6 { export all; }; merge paths on; }
template bgp hosts {
  local as 65001;
  connect retry time 1;
  ipv4 { import all; export none; add paths rx; };
  ipv6 { import all; export none; add paths rx; };
}
protocol bgp master1 from hosts { neighbor 198.51.100.3 as 65100; }
protocol bgp worker1 from hosts { neighbor 198.51.100.4 as 65100; }
EOF
ip netns exec "$id-leaf1" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" > "$work/bird.log" 2>&1 &
pids+=($!)

echo "==> leafvip check on master1"
ip netns exec "$id-master1" "$bin" check -c "$work/master1.toml" | sed 's/^/    /'
for host in master1 worker1; do
    ip netns exec "$id-$host" env RUST_LOG=info "$bin" run -c "$work/$host.toml" > "$work/$host.log" 2>&1 &
    pids+=($!)
done

echo "==> waiting for both sessions and ECMP in the leaf's FIB"
for _ in $(seq 100); do
    if [ "$(ip -n "$id-leaf1" route show 192.0.2.200 | grep -c nexthop)" = 2 ] &&
       [ "$(ip -6 -n "$id-leaf1" route show 2001:db8:1::200 | grep -c nexthop)" = 2 ]; then
        break
    fi
    sleep 0.1
done

echo
echo "==> leaf1: birdc show protocols"
birdc -s "$work/bird.ctl" show protocols | sed 's/^/    /'
echo "==> leaf1: birdc show route for 192.0.2.200/32 and 2001:db8:1::200/128"
birdc -s "$work/bird.ctl" show route for 192.0.2.200/32 | sed 's/^/    /'
birdc -s "$work/bird.ctl" show route for 2001:db8:1::200/128 table master6 | sed 's/^/    /'
echo "==> leaf1: kernel FIB (ip route): the VIP via both hosts"
ip -n "$id-leaf1" route show 192.0.2.200 | sed 's/^/    /'
ip -6 -n "$id-leaf1" route show 2001:db8:1::200 | sed 's/^/    /'
echo
if [ "$(ip -n "$id-leaf1" route show 192.0.2.200 | grep -c nexthop)" = 2 ]; then
    echo "lab: OK, leaf1 spreads 192.0.2.200/32 over master1 and worker1 by ECMP"
else
    echo "lab: FAILED, see the logs below" >&2
    tail -n 20 "$work"/*.log >&2
    exit 1
fi
