#!/usr/bin/env bash
# The layer-2 lab: a switch without a router, in network namespaces. A
# bridge joins a client (198.51.100.100, 2001:db8:2::64) and three hosts
# h1..h3 (.1..3, MACs 02:00:00:00:00:0N), each with the VIPs
# 198.51.100.10 and 2001:db8:2::10 on lo (arp_ignore=1, arp_announce=2),
# a TCP service on port 8080 that answers with its name, and leafvip
# (`--features l2`) at priorities 150, 100 and 50, adverts every 100 ms.
# It shows who answers the client's ARP and NDP and where its
# connections land; then kills h1's leafvip and measures, from the
# client, the time to the first connection that reaches another host;
# then drains h2 (`leafvip drain`) and shows h3 take over. Everything is
# torn down at the end, by PID and namespace. Run as root on Debian.
set -euo pipefail
cd "$(dirname "$0")"

[ "$(id -u)" = 0 ] || { echo "lab-l2.sh: run as root (it creates network namespaces)" >&2; exit 1; }
need=()
command -v python3 >/dev/null || need+=(python3)
command -v arping >/dev/null || need+=(arping)
command -v ndisc6 >/dev/null || need+=(ndisc6)
if [ "${#need[@]}" -gt 0 ]; then
    echo "==> installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
echo "==> building leafvip (release, --features l2)"
cargo build --release --quiet --features l2
bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/leafvip
echo_py=$PWD/tests/support/echo.py

id=lvl2lab$$
work=$(mktemp -d /tmp/leafvip-l2lab.XXXXXX)
. tests/support/netns.sh
fail() { echo "lab-l2: FAIL: $*" >&2; for h in h1 h2 h3; do tail -5 "$work/$h.log" >&2 || true; done; exit 1; }

echo "==> a switch (br0) with the client and hosts h1, h2, h3"
ns sw
x sw ip link add br0 type bridge mcast_snooping 0
x sw ip link set br0 up
for n in 100 1 2 3; do
    name=h$n; [ "$n" = 100 ] && name=client
    ns "$name"
    x "$name" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add "p-$name" netns "$id-sw" type veth peer name eth0 netns "$id-$name"
    x "$name" ip link set eth0 address "$(printf '02:00:00:00:00:%02x' "$n")"
    x "$name" ip addr add "198.51.100.$n/24" dev eth0
    x "$name" ip addr add "2001:db8:2::$(printf %x "$n")/64" dev eth0 nodad
    x "$name" ip link set eth0 up
    x sw ip link set "p-$name" master br0 up
    [ "$name" = client ] && continue
    x "$name" ip addr add 198.51.100.10/32 dev lo
    x "$name" ip addr add 2001:db8:2::10/128 dev lo
    x "$name" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    bgx /dev/null "$name" python3 "$echo_py" "$name" :: 8080
done

for n in 1 2 3; do
    prio=$((200 - 50 * n))
    cat > "$work/h$n.toml" <<EOF
[bgp]
drain_time = 1

[[vip]]
prefix = "198.51.100.10/32"
mode = "l2"
interface = "eth0"
vrid = 10
priority = $prio
advert_interval = "100ms"

[[vip]]
prefix = "2001:db8:2::10/128"
mode = "l2"
interface = "eth0"
vrid = 10
priority = $prio
advert_interval = "100ms"
EOF
    bgx "$work/h$n.log" "h$n" env RUST_LOG=info "$bin" run -c "$work/h$n.toml" -s "$work/h$n.sock"
done
h1_pid=${pids[-3]}

# The host a new connection to the VIP reaches (empty if none in 0.2 s).
reach() { x client timeout 0.2 bash -c "exec 3<>/dev/tcp/$1/8080; head -1 <&3" 2>/dev/null || true; }
wait_reach() { # VIP HOST
    for _ in $(seq 100); do [ "$(reach "$1")" = "$2" ] && return 0; sleep 0.1; done
    fail "$1 never reached $2 (last: $(reach "$1"))"
}
show() {
    local mac4 mac6
    mac4=$(x client arping -c 1 -W 0.3 -i eth0 198.51.100.10 2>/dev/null | sed -n 's/.*from \([0-9a-f:]*\) .*/\1/p' | head -1)
    mac6=$(x client ndisc6 -q -r 2 -w 300 2001:db8:2::10 eth0 2>/dev/null | head -1)
    echo "    ARP for 198.51.100.10 answered by ${mac4:-nobody}; NDP for 2001:db8:2::10 by ${mac6:-nobody}"
    echo "    a connection to 198.51.100.10 reaches $(reach 198.51.100.10), to [2001:db8:2::10] $(reach 2001:db8:2::10)"
}

echo "==> leafvip on h1 (150), h2 (100), h3 (50): h1 answers"
wait_reach 198.51.100.10 h1
wait_reach 2001:db8:2::10 h1
show
"$bin" status -s "$work/h1.sock" | sed -n '/Layer-2 VIP/,/^layer 2:/p' | sed 's/^/    /'

echo "==> kill -9 h1's leafvip: h2 takes over (its kernel does not answer for the VIP on lo)"
start=$(date +%s%N)
{ kill -9 "$h1_pid"; wait "$h1_pid"; } 2>/dev/null || true
for _ in $(seq 100); do [ "$(reach 198.51.100.10)" = h2 ] && break; done
[ "$(reach 198.51.100.10)" = h2 ] || fail "h2 did not take over"
echo "    first connection to h2 $(( ($(date +%s%N) - start) / 1000000 )) ms after the kill"
wait_reach 2001:db8:2::10 h2
show

echo "==> leafvip drain on h2: it hands over to h3 first, and stays a backup at priority 1"
"$bin" drain -s "$work/h2.sock" | sed 's/^/    /'
wait_reach 198.51.100.10 h3
wait_reach 2001:db8:2::10 h3
show
echo "lab-l2: ok"
