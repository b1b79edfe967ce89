#!/usr/bin/env bash
# Capture real BFD control packets (RFC 5880, single hop RFC 5881, UDP 3784)
# exchanged between FRR's bfdd and BIRD 2 inside two throw-away network
# namespaces, over IPv4, global IPv6 and link-local IPv6, and walk the
# sessions through the interesting states: Down, Init, Up, Poll/Final after a
# timer change, control detection time expired (SIGSTOP), AdminDown, passive
# mode and restarts.  Then run extract.py to turn the pcap into
# crates/bfd/tests/vectors/<sender>/*.hex.
#
# Usage (as root, Debian 12):
#   apt-get install -y bird2 frr tcpdump
#   bash crates/bfd/tests/vectors/capture.sh [WORKDIR]
#   python3 crates/bfd/tests/vectors/extract.py WORKDIR crates/bfd/tests/vectors
#
# Only the namespaces lvbfdcap-frr and lvbfdcap-bird are created, joined by
# one veth pair, and only documentation addresses (203.0.113.0/24,
# 2001:db8::/32) plus fixed link-local addresses on that veth are used.
# FRR runs zebra + bfdd (no bgpd).  Every process started here is stopped
# by its PID and both namespaces are deleted on exit (trap).  The pcap
# stays in WORKDIR, outside the repository.
set -euo pipefail

WORK=${1:-$(mktemp -d /tmp/lvbfdcap.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
echo "workdir: $WORK"

NS_F=lvbfdcap-frr
NS_B=lvbfdcap-bird
IF_F=lvbfd-f
IF_B=lvbfd-b
# FRR side / BIRD side
F4=203.0.113.1   B4=203.0.113.2
F6=2001:db8:bfd::1 B6=2001:db8:bfd::2
FLL=fe80::1      BLL=fe80::2

NAMESPACES=()
PIDS=()          # every process started here (tcpdump, bfdd, bird)
BFDD_PID=
BIRD_PID=
EVENTS="$WORK/events.log"
: >"$EVENTS"

dpkg-query -W -f='${Package} ${Version}\n' bird2 frr tcpdump >"$WORK/versions.txt"
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }
# phase markers, read by extract.py to annotate the packets
event() { printf '%s %s\n' "$(date +%s.%N)" "$*" >>"$EVENTS"; log "phase: $*"; }

cleanup() {
    set +e
    log "cleanup"
    local p
    for p in "${PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null   # in case it was left frozen
        kill -TERM "$p" 2>/dev/null
    done
    sleep 2
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    local ns
    for ns in "${NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    log "cleanup done"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fx() { ip netns exec "$NS_F" "$@"; }
bx() { ip netns exec "$NS_B" "$@"; }
birdc_() { bx birdc -s "$WORK/bird.ctl" "$@"; }
vtysh_() { fx vtysh --vty_socket "$WORK/frr" "$@"; }

# ---------------------------------------------------------------- topology
for ns in "$NS_F" "$NS_B"; do
    if ip netns list | grep -qw "$ns"; then
        echo "namespace $ns already exists; refusing to continue" >&2
        exit 1
    fi
done
for ns in "$NS_F" "$NS_B"; do
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
done
ip link add "$IF_F" netns "$NS_F" type veth peer name "$IF_B" netns "$NS_B"
for side in F B; do
    if [ $side = F ]; then ns=$NS_F if=$IF_F a4=$F4 a6=$F6 ll=$FLL
    else ns=$NS_B if=$IF_B a4=$B4 a6=$B6 ll=$BLL; fi
    # fixed link-local address instead of the MAC-derived one
    ip -n "$ns" link set dev "$if" addrgenmode none
    ip -n "$ns" addr add "$a4/24" dev "$if"
    ip -n "$ns" addr add "$a6/64" dev "$if" nodad
    ip -n "$ns" addr add "$ll/64" dev "$if" nodad
    ip -n "$ns" link set "$if" up
done
sleep 1

# ---------------------------------------------------------------- tcpdump
# started with a plain `ip netns exec ... &` so that $! is tcpdump itself
ip netns exec "$NS_F" tcpdump -i "$IF_F" -s 0 -U -n -w "$WORK/bfd.pcap" \
    'udp port 3784 or udp port 3785 or udp port 4784' >"$WORK/tcpdump.log" 2>&1 &
PIDS+=($!)
sleep 2

# ---------------------------------------------------------------- configs
mkdir -p "$WORK/frr"
chmod 755 "$WORK"
chmod 777 "$WORK/frr"   # bfdd drops to the frr user and writes here
frr_peer() { # peer local [interface]
    if [ -n "${3:-}" ]; then
        echo " peer $1 interface $3 local-address $2"
    else
        echo " peer $1 local-address $2"
    fi
}
{
    echo "bfd"
    for p in "$B4 $F4" "$B6 $F6" "$BLL $FLL $IF_F"; do
        # shellcheck disable=SC2086
        frr_peer $p
        echo "  receive-interval 100"
        echo "  transmit-interval 100"
        echo "  detect-multiplier 3"
        echo " !"
    done
    echo "!"
} >"$WORK/frr/bfdd.conf"
chown -R frr:frr "$WORK/frr"

# all three FRR peers, configured at runtime with the given lines
frr_peers_set() {
    local args=(-c 'configure terminal' -c 'bfd') p line
    for p in "$B4 $F4" "$B6 $F6" "$BLL $FLL $IF_F"; do
        # shellcheck disable=SC2086
        args+=(-c "$(frr_peer $p)")
        for line in "$@"; do args+=(-c "$line"); done
        args+=(-c 'exit')
    done
    args+=(-c 'end')
    vtysh_ "${args[@]}"
}

write_bird_conf() { # interval_ms passive(yes/no)
    cat >"$WORK/bird.conf" <<EOF
log "$WORK/bird.log" all;
router id $B4;
protocol device { scan time 5; }
protocol bfd bfd1 {
  interface "*" {
    min rx interval $1 ms;
    min tx interval $1 ms;
    idle tx interval 1000 ms;
    multiplier 3;
    passive $2;
  };
  neighbor $F4;
  neighbor $F6;
  neighbor $FLL dev "$IF_B";
}
EOF
}

start_bfdd() {
    rm -f "$WORK/frr/bfdd.pid"
    # -z: this lab's own zebra.  bfdd also runs without zebra (it then logs
    # "interface ... doesn't exist") and the IPv4 / global IPv6 sessions come
    # up, but the link-local peer needs the interface from zebra.
    ip netns exec "$NS_F" /usr/lib/frr/bfdd -f "$WORK/frr/bfdd.conf" \
        -i "$WORK/frr/bfdd.pid" --vty_socket "$WORK/frr" -P 0 \
        --bfdctl "$WORK/frr/bfdd.sock" -z "$WORK/frr/zserv.api" \
        --log stdout >>"$WORK/frr/bfdd.log" 2>&1 &
    BFDD_PID=$!
    PIDS+=("$BFDD_PID")
    local i
    for i in $(seq 1 20); do
        vtysh_ -c 'show bfd peers brief' >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "warning: bfdd vty not answering"
}
stop_bfdd() {
    kill -TERM "$BFDD_PID"
    wait "$BFDD_PID" 2>/dev/null || true
}
start_bird() {
    ip netns exec "$NS_B" bird -c "$WORK/bird.conf" -s "$WORK/bird.ctl" \
        -P "$WORK/bird.pid" -f >>"$WORK/bird.stdout" 2>&1 &
    BIRD_PID=$!
    PIDS+=("$BIRD_PID")
    local i
    for i in $(seq 1 20); do
        birdc_ show status >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "warning: bird control socket not answering"
}
stop_bird() {
    kill -TERM "$BIRD_PID"
    wait "$BIRD_PID" 2>/dev/null || true
}
wait_up() { # all three sessions Up on both sides
    local i nb nf
    for i in $(seq 1 40); do
        nb=$(birdc_ show bfd sessions 2>/dev/null | grep -cw Up || true)
        nf=$(vtysh_ -c 'show bfd peers brief' 2>/dev/null | grep -cw up || true)
        [ "$nb" -ge 3 ] && [ "$nf" -ge 3 ] && return 0
        sleep 0.5
    done
    log "warning: not all sessions up (bird=$nb frr=$nf)"
}
show_both() {
    birdc_ show bfd sessions || true
    vtysh_ -c 'show bfd peers brief' || true
}

# ---------------------------------------------------------------- run
# zebra only gives bfdd the interface list (needed for the link-local peer)
echo "hostname $NS_F" >"$WORK/frr/zebra.conf"
chown frr:frr "$WORK/frr/zebra.conf"
ip netns exec "$NS_F" /usr/lib/frr/zebra -u frr -g frr -P 0 -z "$WORK/frr/zserv.api" \
    -i "$WORK/frr/zebra.pid" --vty_socket "$WORK/frr" -f "$WORK/frr/zebra.conf" \
    --log stdout >"$WORK/frr/zebra.log" 2>&1 &
PIDS+=($!)
sleep 2

write_bird_conf 100 no

# BIRD alone first: its Down packets with Your Discriminator 0, unanswered.
event "bird-alone: BIRD started, FRR bfdd not running yet"
start_bird
sleep 4

# FRR receives BIRD's Down, goes Init; BIRD goes Down -> Up.
event "frr-start: FRR bfdd started while BIRD sends Down"
start_bfdd
wait_up
show_both
sleep 3

event "frr-timers: FRR changes receive/transmit interval 100 -> 300 ms at runtime (Poll from FRR)"
frr_peers_set 'receive-interval 300' 'transmit-interval 300'
sleep 4
show_both

event "bird-timers: BIRD changes min rx/tx interval 100 -> 200 ms via birdc configure (Poll from BIRD)"
write_bird_conf 200 no
birdc_ configure
sleep 4
show_both

event "bird-frozen: BIRD stopped with SIGSTOP for 4 s (FRR detection time expires)"
kill -STOP "$BIRD_PID"
sleep 4
event "bird-thawed: BIRD continued with SIGCONT"
kill -CONT "$BIRD_PID"
wait_up
sleep 3

event "frr-frozen: FRR bfdd stopped with SIGSTOP for 4 s (BIRD detection time expires)"
kill -STOP "$BFDD_PID"
sleep 4
event "frr-thawed: FRR bfdd continued with SIGCONT"
kill -CONT "$BFDD_PID"
wait_up
sleep 3

event "frr-shutdown: FRR 'shutdown' under the peers (AdminDown from FRR)"
frr_peers_set 'shutdown'
sleep 4
show_both
event "frr-no-shutdown: FRR 'no shutdown' under the peers"
frr_peers_set 'no shutdown'
wait_up
sleep 3

event "bird-disable: birdc disable bfd1"
birdc_ disable bfd1
sleep 4
show_both
event "bird-enable: birdc enable bfd1"
birdc_ enable bfd1
wait_up
sleep 3

event "frr-passive: FRR 'passive-mode' on the peers, then BIRD's bfd1 disabled"
frr_peers_set 'passive-mode'
sleep 1
birdc_ disable bfd1
sleep 5
show_both
event "frr-passive-bird-enable: birdc enable bfd1 while FRR is passive"
birdc_ enable bfd1
wait_up
sleep 2
frr_peers_set 'no passive-mode'
sleep 2

event "bird-passive: BIRD 'passive yes' via birdc configure, then FRR bfdd stopped (SIGTERM)"
write_bird_conf 200 yes
birdc_ configure
sleep 2
stop_bfdd
sleep 5
show_both
event "bird-passive-frr-start: FRR bfdd started again while BIRD is passive"
start_bfdd
wait_up
sleep 3
show_both

event "bird-restart: BIRD stopped (SIGTERM), FRR keeps sending"
stop_bird
sleep 5
event "bird-restart-start: BIRD started again (passive no, 100 ms)"
write_bird_conf 100 no
start_bird
wait_up
sleep 3
show_both
event "end"
log "capture finished"
