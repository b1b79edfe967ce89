# Namespaces and daemons for the labs (lab.sh, lab-l2.sh), sourced after
# setting `id` (the namespaces' unique prefix) and `work` (a scratch
# folder). Everything started with `bgx` and every namespace made with
# `ns` is gone when the script exits, pass or fail: the processes by PID
# (leafvip drains on a first SIGTERM and stops at once on a second), then
# the namespaces.
pids=()
namespaces=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { ip netns add "$id-$1"; namespaces+=("$id-$1"); ip -n "$id-$1" link set lo up; }
x() { ip netns exec "$id-$1" "${@:2}"; }
# Starts a daemon in a namespace and records its PID. `ip netns exec` execs
# the program, so $! is the daemon itself (a backgrounded shell function
# would record the subshell and leak the daemon).
bgx() {
    local log=$1 n=$2; shift 2
    ip netns exec "$id-$n" "$@" > "$log" 2>&1 &
    pids+=($!)
}
