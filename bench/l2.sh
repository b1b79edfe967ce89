#!/usr/bin/env bash
# Layer-2 mode beside keepalived 2.2.7 (issue 23), run as root:
#   bench/l2.sh [RUNS] [CPU_SECONDS]
#
# 1. Failover, from the client: tests/l2_failover.rs RUNS times (default
#    3). Three hosts at priorities 150, 100 and 50 on a bridge, all
#    leafvip or all keepalived, 100 ms adverts, 100 new connections a
#    second and 60 long flows to an IPv4 and an IPv6 VIP. Per event on the
#    owner: the median time from the event to the first connection the new
#    owner answers, the median failed requests and broken flows, and the
#    most MACs seen answering the
#    client's ARP/NDP once settled and after the old owner came back;
#    for leafvip's link down, the partition healed: how soon one host
#    alone is master once the link is up, and the state changes it cost.
# 1b. The same kill in Kubernetes with the API server down
#    (tests/kube_l2.rs, three nodes, the fake API server stopped first).
# 2. Idle CPU: one host holding 50 IPv4 VIPs (VRIDs 1-50) at 100 ms
#    adverts, leafvip and keepalived in turn, each alone on its segment
#    (so master of all 50), for CPU_SECONDS (default 60): the CPU time used,
#    as a share of one core, from /proc (keepalived: its parent and VRRP
#    child together).
# LEAFVIP_BIN picks the binary for part 2 (built with --features l2).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cpu_secs=${2:-60}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEAFVIP_REQUIRE_ROOT_TESTS=1
bin=${LEAFVIP_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet --features l2
    bin=$CARGO_TARGET_DIR/release/leafvip
fi
id=lvl2b$$
work=$(mktemp -d)
pids=()
namespaces=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. failover ------------------------------------------------------------
echo "==> failover, $runs runs (tests/l2_failover.rs)"
for r in $(seq "$runs"); do
    cargo test -q --release --features l2 --test l2_failover -- --nocapture >"$work/run$r.log" 2>&1 \
        || { tail -40 "$work/run$r.log" >&2; exit 1; }
    grep -h '^L2ROW' "$work/run$r.log" >>"$work/rows"
    grep -h '^L2HEAL' "$work/run$r.log" >>"$work/heal" || true
done
echo "| event on the owner | family | leafvip: first answer, failed, flows broken, MACs after/back | keepalived: first answer, failed, flows broken, MACs after/back |"
echo "|---|---|---|---|"
awk '
function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
}
{
    key = $3 " " $4; who = $2
    for (i = 5; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    first[who, key] = first[who, key] " " v["first_ms"]
    failed[who, key] = failed[who, key] " " v["failed"]
    broken[who, key] = broken[who, key] " " v["broken"]
    if (v["macs_after"] > after[who, key]) after[who, key] = v["macs_after"]
    if (v["macs_back"] > back[who, key]) back[who, key] = v["macs_back"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
}
END {
    for (k = 1; k <= n; k++) {
        key = order[k]; split(key, p, " ")
        line = "| " p[1] " | " p[2]
        for (w = 1; w <= 2; w++) {
            who = (w == 1) ? "Leafvip" : "Keepalived"
            if ((who, key) in first)
                line = line sprintf(" | %s ms, %s failed, %s/60 flows broken, %d/%d", median(first[who, key]), median(failed[who, key]), median(broken[who, key]), after[who, key], back[who, key])
            else
                line = line " | —"
        }
        print line " |"
    }
}' "$work/rows"

# The partition healed (leafvip's owner's link up again): the ms until one
# host alone says it is master (status polled, so a few ms late), and the
# state changes that cost, per run.
echo
echo "partition healed (link up), per run: $(awk '{ split($4, a, "="); split($5, b, "="); printf "%s %s ms %s changes; ", $2, a[2], b[2] }' "$work/heal")"

# --- 1b. Kubernetes -------------------------------------------------------
# tests/kube_l2.rs RUNS times (a build with kube and l2): three nodes
# against the fake API server, the API server down, the owner of the IPv4
# address killed under the same load; its KL2ROW lines, for the family
# whose owner was killed.
echo
echo "==> Kubernetes, the API server down, the owner killed: $runs runs (tests/kube_l2.rs)"
for r in $(seq "$runs"); do
    cargo test -q --release --features kube,l2 --test kube_l2 -- --nocapture >"$work/kube$r.log" 2>&1 \
        || { tail -40 "$work/kube$r.log" >&2; exit 1; }
    grep -h '^KL2ROW' "$work/kube$r.log" >>"$work/krows"
done
awk '
function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
}
$4 == "owner_killed=true" {
    split($5, f, "="); split($6, g, "=")
    first[$3] = first[$3] " " f[2]; failed[$3] = failed[$3] " " g[2]; runs[$3]++
}
END {
    for (fam in first)
        printf "| kill, API server down | %s | %s ms, %s failed (median of %d) |\n", fam, median(first[fam]), median(failed[fam]), runs[fam]
}' "$work/krows"

# --- 2. idle CPU with 50 VIPs -------------------------------------------------
ip netns add "$id-h"; namespaces+=("$id-h")
ip netns add "$id-o"; namespaces+=("$id-o")
ip link add eth0 netns "$id-h" type veth peer name eth0 netns "$id-o"
ip -n "$id-h" addr add 198.51.100.1/24 dev eth0; ip -n "$id-h" link set eth0 up; ip -n "$id-h" link set lo up
ip -n "$id-o" link set eth0 up
{
    echo '[bgp]'
    for i in $(seq 50); do
        printf '[[vip]]\nprefix = "198.51.100.%d/32"\nmode = "l2"\ninterface = "eth0"\nvrid = %d\npriority = 150\nadvert_interval = "100ms"\n' $((100 + i)) "$i"
    done
} >"$work/leafvip.toml"
{
    printf 'global_defs {\n  router_id h\n  vrrp_version 3\n}\n'
    for i in $(seq 50); do
        printf 'vrrp_instance v%d {\n  state BACKUP\n  interface eth0\n  virtual_router_id %d\n  priority 150\n  advert_int 0.1\n  virtual_ipaddress {\n    198.51.100.%d/32\n  }\n}\n' "$i" "$i" $((100 + i))
    done
} >"$work/keepalived.conf"
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
hz=$(getconf CLK_TCK)
cpu() { # NAME PID...
    local name=$1; shift
    sleep 3
    local c0 c1 t0 t1
    c0=$(ticks "$@"); t0=$(date +%s.%N)
    sleep "$cpu_secs"
    c1=$(ticks "$@"); t1=$(date +%s.%N)
    awk -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v n="$name" \
        'BEGIN { printf "    %s: %.2f %% of a core (%d ticks of %d Hz in %.1f s)\n", n, 100 * c / hz / (t1 - t0), c, hz, t1 - t0 }'
}
echo "==> idle CPU, 50 VIPs at 100 ms adverts, master of all, $cpu_secs s"
ip netns exec "$id-h" env RUST_LOG=warn "$bin" run -c "$work/leafvip.toml" -s "$work/leafvip.sock" >"$work/leafvip.log" 2>&1 &
lv=$!; pids+=("$lv")
cpu leafvip "$lv"
kill "$lv"; wait "$lv" 2>/dev/null || true
ip netns exec "$id-h" keepalived -n -l -D -P -f "$work/keepalived.conf" -p "$work/k.pid" -r "$work/kv.pid" >"$work/keepalived.log" 2>&1 &
kp=$!; pids+=("$kp")
for _ in $(seq 50); do [ -s "$work/kv.pid" ] && break; sleep 0.1; done
cpu keepalived "$kp" "$(cat "$work/kv.pid")"
