#!/usr/bin/env bash
# Idle cost: leafvip with 2 established BGP peers (BIRD 2 in namespaces) and
# 10 VIPs, left alone for SECONDS (default 60). Prints RSS and the CPU time
# the daemon used while idle. Run as root: bench/idle.sh [SECONDS]
# (LEAFVIP_BIN picks the binary; IDLE_HTTP=ADDR turns the metrics endpoint on.)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bin=${LEAFVIP_BIN:-$PWD/target/release/leafvip}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
id=lvidle$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for n in host r1 r2; do ip netns del "$id-$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for n in host r1 r2; do ip netns add "$id-$n"; ip -n "$id-$n" link set lo up; done
ip link add eth1 netns "$id-host" type veth peer name eth0 netns "$id-r1"
ip link add eth2 netns "$id-host" type veth peer name eth0 netns "$id-r2"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth1
ip -n "$id-host" addr add 203.0.113.3/24 dev eth2
ip -n "$id-r1" addr add 198.51.100.1/24 dev eth0
ip -n "$id-r2" addr add 203.0.113.1/24 dev eth0
for l in "host eth1" "host eth2" "r1 eth0" "r2 eth0"; do set -- $l; ip -n "$id-$1" link set "$2" up; done
for r in "r1 198.51.100.1 198.51.100.3" "r2 203.0.113.1 203.0.113.3"; do
    set -- $r
    cat > "$work/$1.conf" <<EOF
router id $2;
protocol device {}
protocol bgp h { local as 65001; neighbor $3 as 65100; ipv4 { import all; export none; }; }
EOF
    ip netns exec "$id-$1" bird -f -c "$work/$1.conf" -s "$work/$1.ctl" & pids+=($!)
done
{
    printf '[bgp]\nasn = 65100\nrouter_id = "198.51.100.3"\n'
    # IDLE_HTTP=127.0.0.1:9179 also serves /metrics (a `metrics` build).
    [ -n "${IDLE_HTTP:-}" ] && printf '[control]\nhttp = "%s"\n' "$IDLE_HTTP"
    printf '[[peer]]\naddress = "198.51.100.1"\nasn = 65001\n'
    printf '[[peer]]\naddress = "203.0.113.1"\nasn = 65001\n'
    for i in $(seq 1 10); do printf '[[vip]]\nprefix = "192.0.2.%d/32"\n' "$i"; done
} > "$work/leafvip.toml"
ip netns exec "$id-host" env RUST_LOG=warn "$bin" run -c "$work/leafvip.toml" -s "$work/leafvip.sock" & lv=$!; pids+=($lv)
for _ in $(seq 100); do
    n=0
    for r in r1 r2; do birdc -s "$work/$r.ctl" show route count 2>/dev/null | grep -q "10 of 10 routes" && n=$((n + 1)); done
    [ $n = 2 ] && break
    sleep 0.1
done
[ $n = 2 ] || { echo "idle.sh: sessions did not come up" >&2; exit 1; }
sleep 2; [ -n "${SMAPS:-}" ] && awk '/^[0-9a-f]+-/{name=$6} /^Rss:/{ if ($2>=100) print $2" kB", name}' "/proc/$lv/smaps"
ticks() { awk '{print $14 + $15}' "/proc/$lv/stat"; }
t0=$(ticks); sleep "$secs"; t1=$(ticks)
hz=$(getconf CLK_TCK)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$lv/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$lv/status")
pss=$(awk '/^Pss:/ {print $2}' "/proc/$lv/smaps_rollup")
private=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$lv/smaps_rollup")
echo "idle: 2 peers, 10 VIPs, ${secs}s: RSS ${rss} KiB (peak ${hwm} KiB, PSS ${pss} KiB, private ${private} KiB), CPU $(( (t1 - t0) * 1000 / hz )) ms, threads $(awk '/^Threads/ {print $2}' "/proc/$lv/status")"
