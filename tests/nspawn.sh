#!/usr/bin/env bash
# leafvip's .deb under a real systemd: a Debian container (systemd-nspawn)
# boots systemd as PID 1 in a network namespace this script makes, wired by
# a veth to a second one where BIRD plays the leaf (198.51.100.1; the host
# is 198.51.100.3). The packaged unit runs inside, and the script checks
# what an operator would: READY and STATUS, the unit up for three watchdog
# periods without a restart, the route at BIRD with the host's next hop,
# logs in the journal, `leafvip status` for root only, reload, the
# watchdog restarting a frozen daemon, layer-2 mode (refused by the
# hardened unit, answering ARP with its drop-in), BFD added by a reload
# and Up at BIRD under the unit's sandbox, and a clean stop.
#   tests/nspawn.sh DEB     (root; needs debootstrap and systemd-container)
# The Debian root is cached in $LEAFVIP_NSPAWN_ROOT (default
# /var/tmp/leafvip-nspawn-root); the container, BIRD and both namespaces
# are gone when this exits, pass or fail.
set -euo pipefail
deb=$(realpath "$1")
root=${LEAFVIP_NSPAWN_ROOT:-/var/tmp/leafvip-nspawn-root}
id=lvnsp$$
machine=$id
bird_pid=
fail() { echo "nspawn: FAIL: $*" >&2; exit 1; }
step() { echo "==> $*"; }

if [ ! -x "$root/usr/sbin/adduser" ] || [ ! -x "$root/usr/bin/kill" ]; then
    step "debootstrap a Debian root with systemd into $root"
    rm -rf "$root.tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,adduser,procps \
        bookworm "$root.tmp" http://deb.debian.org/debian >/dev/null
    rm -rf "$root"
    mv "$root.tmp" "$root"
fi

# A throwaway copy of the cached root for this run.
run_root=$(mktemp -d /var/tmp/leafvip-nspawn.XXXXXX)
nspawn_pid=
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null || true # nspawn shuts the container down
        for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$nspawn_pid" 2>/dev/null || true
    fi
    [ -n "$bird_pid" ] && kill "$bird_pid" 2>/dev/null || true
    ip netns del "$id-host" 2>/dev/null || true
    ip netns del "$id-leaf" 2>/dev/null || true
    rm -rf "$run_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -a "$root/." "$run_root/"
cp "$deb" "$run_root/leafvip.deb"

step "namespaces: BIRD in $id-leaf, the container in $id-host"
for n in host leaf; do ip netns add "$id-$n"; ip -n "$id-$n" link set lo up; done
ip link add eth0 netns "$id-host" type veth peer name eth0 netns "$id-leaf"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth0
ip -n "$id-leaf" addr add 198.51.100.1/24 dev eth0
for n in host leaf; do ip -n "$id-$n" link set eth0 up; done
cat > "$run_root/bird.conf" <<'EOF'
router id 198.51.100.1;
protocol device {}
protocol bgp host { local 198.51.100.1 as 65001; neighbor 198.51.100.3 as 65100; passive on;
    ipv4 { import all; export none; }; }
EOF
# In the foreground (-f) and backgrounded here: $! is BIRD's own PID
# (ip netns exec execs it), to stop it by.
ip netns exec "$id-leaf" bird -f -c "$run_root/bird.conf" -s "$run_root/bird.ctl" \
    >"$run_root/bird.log" 2>&1 &
bird_pid=$!
for _ in $(seq 50); do [ -S "$run_root/bird.ctl" ] && break; sleep 0.1; done
birdc() { command birdc -s "$run_root/bird.ctl" "$@"; }

step "boot the container ($machine)"
systemd-nspawn -q --register=no --keep-unit -D "$run_root" --machine="$machine" --network-namespace-path="/run/netns/$id-host" --boot \
    >"$run_root/console.log" 2>&1 </dev/null &
nspawn_pid=$!
# The container's PID 1 is nspawn's child.
leader=
for _ in $(seq 100); do
    leader=$(pgrep -P "$nspawn_pid" | head -1 || true)
    [ -n "$leader" ] && [ -S "/proc/$leader/root/run/systemd/private" ] && break
    sleep 0.2
done
[ -n "$leader" ] || fail "container did not boot: $(tail -5 "$run_root/console.log")"
inside() { nsenter -t "$leader" -a "$@"; }
for _ in $(seq 100); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 0.2
done
echo "    systemd is $state"

step "install the .deb with dpkg -i inside"
inside dpkg -i /leafvip.deb >/dev/null
cat > "$run_root/etc/leafvip/leafvip.toml" <<'EOF'
[bgp]
asn = 65100
router_id = "198.51.100.3"
[[peer]]
address = "198.51.100.1"
asn = 65001
[[vip]]
prefix = "192.0.2.200/32"
EOF
# A short watchdog, so the frozen-daemon check takes seconds.
mkdir -p "$run_root/etc/systemd/system/leafvip.service.d"
printf '[Service]\nWatchdogSec=3\n' > "$run_root/etc/systemd/system/leafvip.service.d/test.conf"
inside systemctl daemon-reload

step "systemctl start: READY, then STATUS with the session"
inside systemctl start leafvip || fail "start failed: $(inside journalctl -u leafvip --no-pager | tail -20)"
status=
for _ in $(seq 100); do
    status=$(inside systemctl show -P StatusText leafvip)
    [ "$status" = "1/1 sessions established, 1 VIPs" ] && break
    sleep 0.2
done
[ "$status" = "1/1 sessions established, 1 VIPs" ] || fail "STATUS=$status"
echo "    STATUS=$status"
[ "$(inside systemctl show -P User leafvip)" = leafvip ] || fail "not running as leafvip"
user=$(inside stat -c %U "/proc/$(inside systemctl show -P MainPID leafvip)")
[ "$user" = leafvip ] || fail "main process runs as $user"

step "the unit stays up for 3 watchdog periods (WatchdogSec=3) without a restart"
first=$(inside systemctl show -P MainPID leafvip)
pet0=$(inside systemctl show -P WatchdogTimestampMonotonic leafvip)
sleep 10
[ "$(inside systemctl show -P MainPID leafvip)" = "$first" ] || fail "restarted within 10 s: $(inside journalctl -u leafvip --no-pager | tail -5)"
[ "$(inside systemctl show -P NRestarts leafvip)" = 0 ] || fail "NRestarts=$(inside systemctl show -P NRestarts leafvip)"
pet1=$(inside systemctl show -P WatchdogTimestampMonotonic leafvip)
[ "$pet1" -gt "$pet0" ] || fail "no WATCHDOG=1 reached systemd in 10 s ($pet0 -> $pet1)"
echo "    same PID $first after 10 s, last ping advanced by $(( (pet1 - pet0) / 1000 )) ms"

step "BIRD holds the VIP with the host's next hop"
route=$(birdc show route 192.0.2.200/32 all)
echo "$route" | grep -q "BGP.next_hop: 198.51.100.3" || fail "route at BIRD: $route"

step "logs are in the journal, with priorities"
inside journalctl -u leafvip --no-pager -o cat | grep -q "session established" \
    || fail "no 'session established' in the journal"
inside journalctl -u leafvip --no-pager -p warning -o cat | grep -q "session established" \
    && fail "an info line was logged at warning priority"

step "leafvip status: root sees the table; another user is refused"
table=$(inside leafvip status)
echo "$table" | grep -q "^198.51.100.1:179 .* Established" || fail "status: $table"
refused=$(inside setpriv --reuid=65534 --regid=65534 --clear-groups leafvip status 2>&1 || true)
echo "$refused" | grep -q "permission denied" || fail "another user was not refused: $refused"

step "systemctl reload keeps the session"
before=$(inside systemctl show -P MainPID leafvip)
inside systemctl reload leafvip || fail "reload: $(inside journalctl -u leafvip --no-pager | tail -5)"
sleep 1
[ "$(inside systemctl show -P MainPID leafvip)" = "$before" ] || fail "reload restarted the daemon"
inside journalctl -u leafvip --no-pager -o cat | grep -q "reloaded" || fail "no reload in the journal"
inside systemctl is-active -q leafvip || fail "inactive after reload"

step "a frozen daemon is killed by the watchdog and restarted"
inside kill -STOP "$before"
for _ in $(seq 100); do
    now=$(inside systemctl show -P MainPID leafvip)
    [ "$now" != "$before" ] && [ "$now" != 0 ] && break
    sleep 0.2
done
[ "$now" != "$before" ] && [ "$now" != 0 ] || fail "watchdog did not restart the daemon"
inside journalctl -u leafvip --no-pager | grep -q "Watchdog timeout" || fail "no watchdog timeout logged"
echo "    restarted: PID $before -> $now"

step "leafvip drain / undrain: GRACEFUL_SHUTDOWN at BIRD, and in the STATUS line"
for _ in $(seq 100); do
    birdc show protocols host | grep -q Established && break
    sleep 0.2
done
inside leafvip drain >/dev/null || fail "leafvip drain"
for _ in $(seq 50); do
    birdc show route 192.0.2.200/32 all | grep -q "(65535,0)" && break
    sleep 0.1
done
birdc show route 192.0.2.200/32 all | grep -q "(65535,0)" || fail "no GRACEFUL_SHUTDOWN at BIRD: $(birdc show route 192.0.2.200/32 all)"
inside systemctl show -P StatusText leafvip | grep -q "draining (maintenance)" \
    || fail "STATUS=$(inside systemctl show -P StatusText leafvip)"
inside leafvip undrain >/dev/null || fail "leafvip undrain"
for _ in $(seq 50); do
    birdc show route 192.0.2.200/32 all | grep -q "(65535,0)" || break
    sleep 0.1
done
birdc show route 192.0.2.200/32 all | grep -q "(65535,0)" && fail "still drained after undrain"

# Runs "$@" (a restart of the unit) while polling BIRD every 50 ms, until
# the new process has its session back: BIRD must hold the route in every
# poll, see no Cease, and the new process must set the Restart State bit.
hitless() {
    local before now restarts
    before=$(inside systemctl show -P MainPID leafvip)
    restarts=$(inside journalctl -u leafvip --no-pager -o cat | grep -c "Restart State bit is set" || true)
    ( while :; do
          if birdc show route 192.0.2.200/32 | grep -q 198.51.100.3; then echo held; else echo LOST; fi
          sleep 0.05
      done ) > "$run_root/held.log" 2>&1 &
    local poller=$!
    "$@" || fail "$*: $(inside journalctl -u leafvip --no-pager | tail -10)"
    for _ in $(seq 100); do
        now=$(inside systemctl show -P MainPID leafvip)
        [ "$now" != "$before" ] && [ "$now" != 0 ] && birdc show protocols host | grep -q Established && break
        sleep 0.2
    done
    sleep 1
    kill "$poller"; wait "$poller" 2>/dev/null || true
    [ "$now" != "$before" ] || fail "$*: the daemon was not restarted"
    grep -q LOST "$run_root/held.log" && fail "$*: BIRD lost the route ($(grep -c LOST "$run_root/held.log") of $(wc -l < "$run_root/held.log") polls)"
    [ "$(inside journalctl -u leafvip --no-pager -o cat | grep -c "Restart State bit is set")" -gt "$restarts" ] \
        || fail "$*: the new process did not set the Restart State bit"
    birdc show protocols all host | grep -qi "administrative shutdown" && fail "$*: a Cease reached BIRD"
    echo "    PID $before -> $now; BIRD held the route in all $(wc -l < "$run_root/held.log") polls"
}

step "systemctl restart: BIRD keeps the route throughout (Graceful Restart), no Cease"
hitless inside systemctl restart leafvip
inside journalctl -u leafvip --no-pager -o cat | grep -q "exiting for a restart" || fail "no restart exit in the journal"

step "dpkg -i of the package again, as an upgrade in place: its postinst's try-restart is as hitless"
hitless inside dpkg -i /leafvip.deb

step "layer 2 under the hardened unit: no packet socket without the drop-in; with it, ARP answered from the container"
cat > "$run_root/etc/leafvip/leafvip.toml" <<'EOF'
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
priority = 150
advert_interval = "100ms"
EOF
inside systemctl reload leafvip
for _ in $(seq 50); do inside leafvip status | grep -q "layer 2 ERROR" && break; sleep 0.1; done
inside leafvip status | grep -q "layer 2 ERROR: packet socket" || fail "the unit let a packet socket open: $(inside leafvip status)"
mac=$(ip -n "$id-host" -o link show eth0 | sed -n 's|.*link/ether \([0-9a-f:]*\).*|\1|p')
ip netns exec "$id-leaf" arping -q -c 2 -W 0.2 -i eth0 198.51.100.10 && fail "ARP answered without the drop-in"
inside mkdir -p /etc/systemd/system/leafvip.service.d
inside cp /usr/share/doc/leafvip/examples/layer2.conf /etc/systemd/system/leafvip.service.d/layer2.conf
inside systemctl daemon-reload
inside systemctl restart leafvip
answer=
for _ in $(seq 50); do
    answer=$(ip netns exec "$id-leaf" arping -c 1 -W 0.2 -i eth0 198.51.100.10 2>/dev/null || true)
    echo "$answer" | grep -qi "$mac" && break
    sleep 0.2
done
echo "$answer" | grep -qi "$mac" || fail "ARP for 198.51.100.10 not answered by $mac: $answer $(inside leafvip status)"
inside leafvip status | grep -q "^198.51.100.10 .* master" || fail "status: $(inside leafvip status)"
echo "    $(echo "$answer" | grep -i "$mac" | head -1)"

step "BFD under the hardened unit: added by reload, Up at BIRD, BGP up"
cat > "$run_root/bird.conf" <<'EOF'
router id 198.51.100.1;
protocol device {}
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol bgp host { local 198.51.100.1 as 65001; neighbor 198.51.100.3 as 65100; passive on;
    bfd on; ipv4 { import all; export none; }; }
EOF
birdc configure >/dev/null
cat > "$run_root/etc/leafvip/leafvip.toml" <<'EOF'
[bgp]
asn = 65100
router_id = "198.51.100.3"
[[peer]]
address = "198.51.100.1"
asn = 65001
bfd = { min_rx = "100ms", min_tx = "100ms", multiplier = 3 }
[[vip]]
prefix = "192.0.2.200/32"
EOF
inside systemctl reload leafvip
for _ in $(seq 100); do
    birdc show bfd sessions | grep -q "198.51.100.3 .* Up " && birdc show protocols host | grep -q Established && break
    sleep 0.2
done
birdc show bfd sessions | grep -q "198.51.100.3 .* Up " \
    || fail "BFD not Up at BIRD: $(birdc show bfd sessions) $(inside journalctl -u leafvip --no-pager | tail -10)"
birdc show protocols host | grep -q Established || fail "BGP not up with BFD: $(birdc show protocols all host)"
inside leafvip status | grep -q "bfd: *up (remote up)" || fail "status: $(inside leafvip status)"
echo "    $(birdc show bfd sessions | grep 198.51.100.3)"

step "systemctl stop: Cease at BIRD, unit inactive"
for _ in $(seq 100); do
    birdc show protocols host | grep -q Established && break
    sleep 0.2
done
inside systemctl stop leafvip
inside systemctl is-active -q leafvip && fail "still active after stop"
birdc show protocols all host | grep -qi "administrative shutdown" \
    || fail "BIRD did not see the Administrative Shutdown: $(birdc show protocols all host)"
echo "nspawn: OK: the .deb's unit runs under systemd $(inside systemctl --version | head -1 | awk '{print $2}')"
