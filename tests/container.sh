#!/usr/bin/env bash
# deploy/Containerfile, built and run by a real container engine: podman
# with the runc runtime (crun fails on this machine's cgroup layout). The
# image runs in a network namespace this script makes, wired by a veth to
# a second one where BIRD plays the leaf (198.51.100.1; the host is
# 198.51.100.3), and the script checks what an operator would: the
# session comes up, the route is at BIRD with the host's next hop,
# `podman exec ... /leafvip status` answers, the process is not root,
# with the DaemonSet's capabilities (NET_RAW too) a layer-2 VIP is
# answered by ARP from the container, and `podman stop` sends a Cease
# that BIRD reports. It prints the image's size.
#   tests/container.sh BINARY   (root; the static kube,metrics,bfd,l2 binary)
# The container, the image, BIRD and both namespaces are gone when this
# exits, pass or fail.
set -euo pipefail
bin=$(realpath "$1")
id=lvctr$$
bird_pid=
image=localhost/leafvip-test:$id
work=$(mktemp -d /var/tmp/leafvip-container.XXXXXX)
fail() { echo "container: FAIL: $*" >&2; exit 1; }
step() { echo "==> $*"; }
podman() { command podman --runtime runc "$@"; }

# podman 4.3 here: runc, and no default ulimits (crun and the default
# nofile ulimit both fail on this cgroup layout).
if ! grep -qs 'default_ulimits' /etc/containers/containers.conf; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n' >> /etc/containers/containers.conf
fi

cleanup() {
    podman rm -f -t 0 "$id" >/dev/null 2>&1 || true
    podman rmi -f "$image" >/dev/null 2>&1 || true
    [ -n "$bird_pid" ] && kill "$bird_pid" 2>/dev/null || true
    ip netns del "$id-host" 2>/dev/null || true
    ip netns del "$id-leaf" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "podman build deploy/Containerfile"
cp "$bin" "$work/leafvip"
podman build -q -f "$(dirname "$0")/../deploy/Containerfile" -t "$image" "$work" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "    image $image: $size bytes"

step "namespaces: BIRD in $id-leaf, the container in $id-host"
for n in host leaf; do ip netns add "$id-$n"; ip -n "$id-$n" link set lo up; done
ip link add eth0 netns "$id-host" type veth peer name eth0 netns "$id-leaf"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth0
ip -n "$id-leaf" addr add 198.51.100.1/24 dev eth0
for n in host leaf; do ip -n "$id-$n" link set eth0 up; done
cat > "$work/bird.conf" <<'BIRD'
router id 198.51.100.1;
protocol device {}
protocol bgp host { local 198.51.100.1 as 65001; neighbor 198.51.100.3 as 65100; passive on;
    ipv4 { import all; export none; }; }
BIRD
ip netns exec "$id-leaf" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" >"$work/bird.log" 2>&1 &
bird_pid=$!
for _ in $(seq 50); do [ -S "$work/bird.ctl" ] && break; sleep 0.1; done
birdc() { command birdc -s "$work/bird.ctl" "$@"; }

mkdir -p "$work/etc"
cat > "$work/etc/leafvip.toml" <<'CFG'
[bgp]
asn = 65100
router_id = "198.51.100.3"
[[peer]]
address = "198.51.100.1"
asn = 65001
[[vip]]
prefix = "192.0.2.200/32"
[[vip]]
prefix = "198.51.100.10/32"
mode = "l2"
interface = "eth0"
vrid = 10
advert_interval = "100ms"
CFG
chmod 755 "$work" "$work/etc"
chmod 644 "$work/etc/leafvip.toml"

step "podman run in $id-host: non-root, read-only root, only NET_BIND_SERVICE and NET_RAW (deploy/daemonset.yaml's)"
podman run -d --name "$id" --network "ns:/run/netns/$id-host" \
    --cap-drop ALL --cap-add NET_BIND_SERVICE --cap-add NET_RAW --read-only \
    --tmpfs /run/leafvip:mode=0700,U -v "$work/etc:/etc/leafvip:ro" \
    "$image" >/dev/null
pid=$(podman inspect --format '{{.State.Pid}}' "$id")
[ "$pid" -gt 0 ] || fail "no container process: $(podman logs "$id" 2>&1 | tail -5)"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 65534 ] || fail "the container's process runs as uid $uid"
echo "    the container's process $pid runs as uid $uid"

step "the session, and the route at BIRD"
ok=
for _ in $(seq 100); do
    birdc show protocols host | grep -q Established && ok=1 && break
    sleep 0.2
done
[ -n "$ok" ] || fail "no session: $(birdc show protocols all host); $(podman logs "$id" 2>&1 | tail -10)"
route=
for _ in $(seq 50); do
    route=$(birdc show route 192.0.2.200/32 all)
    echo "$route" | grep -q "BGP.next_hop: 198.51.100.3" && break
    sleep 0.2
done
echo "$route" | grep -q "BGP.next_hop: 198.51.100.3" || fail "route: $route"
echo "    192.0.2.200/32 at BIRD via 198.51.100.3"

step "the run directory is private (0700, the container's user): no warning about it"
podman logs "$id" 2>&1 | grep -q "writable by others" && fail "$(podman logs "$id" 2>&1 | grep 'writable by others')"
echo "    no warning about /run/leafvip"

step "podman exec ... /leafvip status"
out=$(podman exec "$id" /leafvip status)
echo "$out" | grep -q "198.51.100.1:179 .* Established" || fail "status: $out"
echo "$out" | sed -n '1,4p' | sed 's/^/    /'

step "layer 2: ARP for 198.51.100.10 from $id-leaf answered with the container's MAC"
mac=$(ip -n "$id-host" -o link show eth0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p')
answer=
for _ in $(seq 50); do
    answer=$(ip netns exec "$id-leaf" arping -c 1 -W 0.2 -i eth0 198.51.100.10 2>/dev/null || true)
    echo "$answer" | grep -qi "$mac" && break
    sleep 0.2
done
echo "$answer" | grep -qi "$mac" || fail "ARP not answered by $mac: $answer; $(podman exec "$id" /leafvip status)"
podman exec "$id" /leafvip status | grep -q "^198.51.100.10 .* master" || fail "status: $(podman exec "$id" /leafvip status)"
echo "    $(echo "$answer" | grep -i "$mac" | head -1)"

step "podman stop: a Cease at BIRD"
podman stop -t 10 "$id" >/dev/null
last=
for _ in $(seq 50); do
    last=$(birdc show protocols all host)
    echo "$last" | grep -q "Administrative shutdown" && break
    sleep 0.2
done
echo "$last" | grep -q "Administrative shutdown" || fail "no Cease at BIRD: $last"
code=$(podman inspect --format '{{.State.ExitCode}}' "$id")
[ "$code" = 0 ] || fail "exit code $code: $(podman logs "$id" 2>&1 | tail -5)"
echo "    BIRD: $(echo "$last" | grep -m1 'Administrative shutdown' | sed 's/^ *//'), exit code 0"
echo "container: ok (image $size bytes)"
