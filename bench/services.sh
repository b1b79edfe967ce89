#!/usr/bin/env bash
# LoadBalancer Services at scale: a static `kube` build of leafvip, alone
# (so it holds the Lease and allocates), against the fake API server
# holding 500 Nodes, SERVICES Services (default 5,000; a quarter with
# externalTrafficPolicy Local) with 4 EndpointSlices each (20,000), and an
# IPv6 Eip pool (IPv4 documentation space has too few addresses); objects
# from bench/services_objects.py. BIRD is the leaf, taking IPv6 over the
# IPv4 session. Prints:
#   - the initial sync: time to every route at BIRD, RSS and CPU then;
#   - idle: RSS and CPU over IDLE seconds (default 30);
#   - a new Service: time to its address in its status, and to its route
#     at BIRD (best and median of 5);
#   - an EndpointSlice change (a Local Service's endpoint leaves node-1):
#     time to the route leaving BIRD (best and median of 5).
# Requests go straight to the API with curl; times are observed by polling
# (the status every 2 ms, BIRD with birdc every 2 ms), so each includes up
# to one poll and one birdc call.
# Run as root: bench/services.sh [SERVICES]   (LEAFVIP_BIN: a static kube
# build; SLICES=N EndpointSlices per Service, default 4, to see what they
# cost)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${LEAFVIP_BIN:-}" ]; then
    read -r LEAFVIP_BIN _ < <(dist/static.sh --features kube | tail -1)
fi
cargo build -q --release -p kube-test-server --bin fake-apiserver
fake="$CARGO_TARGET_DIR/release/fake-apiserver"
id=lvsb$$
work=$(mktemp -d /var/tmp/leafvip-services-bench.XXXXXX)
cp "$LEAFVIP_BIN" "$work/leafvip"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for x in host leaf; do ip netns del "$id-$x" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for x in host leaf; do ip netns add "$id-$x"; ip -n "$id-$x" link set lo up; done
ip link add eth0 netns "$id-host" type veth peer name eth0 netns "$id-leaf"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth0
ip -n "$id-host" addr add 2001:db8:100::3/64 dev eth0 nodad
ip -n "$id-leaf" addr add 198.51.100.1/24 dev eth0
ip -n "$id-leaf" addr add 2001:db8:100::1/64 dev eth0 nodad
for x in host leaf; do ip -n "$id-$x" link set eth0 up; done
cat > "$work/bird.conf" <<CONF
router id 198.51.100.1;
protocol device {}
protocol bgp h { local as 65001; neighbor 198.51.100.3 as 65100; connect retry time 1;
    ipv4 { import all; export none; }; ipv6 { import all; export none; }; }
CONF
ip netns exec "$id-leaf" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" & pids+=($!)
b() { birdc -s "$work/bird.ctl" "$@"; }

slices=${SLICES:-4}
echo "==> objects: 500 Nodes, $n Services, $((n * slices)) EndpointSlices"
gen() { python3 bench/services_objects.py "$@"; }
gen "$n" all > "$work/objects.jsonl"
mkfifo "$work/fake.in"
ip netns exec "$id-host" "$fake" "$work/kubeconfig" "$work/objects.jsonl" <"$work/fake.in" >"$work/fake.url" & pids+=($!)
exec 7>"$work/fake.in"
for _ in $(seq 600); do [ -s "$work/fake.url" ] && break; sleep 0.1; done
url=$(cat "$work/fake.url")
api() { # METHOD PATH [BODY]
    ip netns exec "$id-host" curl -s -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} "$url$2"
}
printf '[node]\nname = "node-1"\n[kubernetes]\nkubeconfig = "%s"\nlease_namespace = "default"\n' \
    "$work/kubeconfig" > "$work/leafvip.toml"
ms() { date +%s%3N; }
t0=$(ms)
ip netns exec "$id-host" env RUST_LOG=warn "$work/leafvip" run -c "$work/leafvip.toml" -s "$work/leafvip.sock" \
    2>"$work/leafvip.log" & lv=$!; pids+=($lv)
ticks() { awk '{print $14 + $15}' "/proc/$lv/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$lv/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$lv/status"; }
hz=$(getconf CLK_TCK)
# Every Cluster Service, and the Local ones with an endpoint on node-1.
want=$(python3 -c "n=$n; print(sum(1 for i in range(1, n+1) if i % 4 or any((i+j) % 500 == 0 for j in range(1, $slices + 1))))")
got=0
for _ in $(seq 2400); do
    got=$(b show route count table master6 2>/dev/null | sed -n 's/^\([0-9]*\) of .*/\1/p' | head -1)
    [ "${got:-0}" -ge "$want" ] && break
    sleep 0.25
done
[ "${got:-0}" -ge "$want" ] || { echo "services.sh: $got of $want routes at BIRD" >&2; tail -5 "$work/leafvip.log" >&2; exit 1; }
echo "initial sync: $got routes at BIRD $(( $(ms) - t0 )) ms after start; RSS $(rss) KiB (peak $(hwm) KiB), CPU $(( $(ticks) * 1000 / hz )) ms"
idle=${IDLE:-30}
c0=$(ticks); sleep "$idle"; c1=$(ticks)
echo "idle $idle s: RSS $(rss) KiB, CPU $(( (c1 - c0) * 1000 / hz )) ms"

status_ip() {
    api GET "/api/v1/namespaces/default/services/$1" | { grep -o '"ip":"[^"]*"' || true; } | head -1 | cut -d'"' -f4
}
has() { b show route "$1/128" 2>/dev/null | grep -q "$1"; }
med() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
best() { printf '%s\n' "$@" | sort -n | head -1; }
alloc=() route=()
for r in 1 2 3 4 5; do
    body=$(gen 0 svc "new$r" Cluster)
    t=$(ms)
    api POST /api/v1/namespaces/default/services "$body" >/dev/null
    ip=
    for _ in $(seq 2000); do ip=$(status_ip "new$r"); [ -n "$ip" ] && break; sleep 0.002; done
    ta=$(( $(ms) - t ))
    for _ in $(seq 2000); do has "$ip" && break; sleep 0.002; done
    alloc+=("$ta"); route+=("$(( $(ms) - t ))")
done
echo "new Service to its address in status: best $(best "${alloc[@]}") ms, median $(med "${alloc[@]}") ms; to its route at BIRD: best $(best "${route[@]}") ms, median $(med "${route[@]}") ms (${route[*]})"

lt=()
for r in 1 2 3 4 5; do
    api POST /api/v1/namespaces/default/services "$(gen 0 svc "loc$r" Local)" >/dev/null
    api POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices "$(gen 0 slice "loc$r" node-1)" >/dev/null
    ip=
    for _ in $(seq 2000); do ip=$(status_ip "loc$r"); [ -n "$ip" ] && break; sleep 0.005; done
    for _ in $(seq 2000); do has "$ip" && break; sleep 0.002; done
    body=$(gen 0 slice "loc$r" node-2)
    t=$(ms)
    api PUT "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/loc$r-1" "$body" >/dev/null
    for _ in $(seq 2000); do has "$ip" || break; sleep 0.002; done
    lt+=("$(( $(ms) - t ))")
done
echo "EndpointSlice change to the route gone at BIRD: best $(best "${lt[@]}") ms, median $(med "${lt[@]}") ms (${lt[*]})"
echo "final: RSS $(rss) KiB (peak $(hwm) KiB), threads $(awk '/^Threads/ {print $2}' "/proc/$lv/status")"
