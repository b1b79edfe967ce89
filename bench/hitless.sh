#!/usr/bin/env bash
# Traffic through restarts, drains and dead services, from the client's
# side: runs tests/hitless.rs (the two-rack fabric with BIRD, leafvip on
# every host, 100 short requests a second and 60 long flows through each
# event on worker1), with leafvip as shipped and naive (no Graceful
# Restart, no drain, no check), and prints the table the README carries.
# Run as root: bench/hitless.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEAFVIP_REQUIRE_ROOT_TESTS=1
log=$(mktemp /var/tmp/leafvip-hitless.XXXXXX)
# The whole log stays beside the table's source lines, for a row that
# does not parse.
trap 'cp "$log" /var/tmp/leafvip-hitless.last.log; rm -f "$log"' EXIT
cargo test -q --test hitless -- --nocapture >"$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
# The unit under systemd in a container: the .deb and tests/nspawn.sh's
# Debian root first.
if [ "${HITLESS_SYSTEMD:-1}" = 1 ]; then
    deb=$(dist/deb.sh | tail -1)
    [ -x "${LEAFVIP_NSPAWN_ROOT:-/var/tmp/leafvip-nspawn-root}/usr/sbin/adduser" ] || tests/nspawn.sh "$deb" >/dev/null
    LEAFVIP_HITLESS_DEB="$deb" cargo test -q --test hitless -- --ignored --nocapture systemd_ >>"$log" 2>&1 \
        || { tail -40 "$log" >&2; exit 1; }
fi
echo "| event on worker1 | mode | short requests failed | worker1's flows broken | other flows broken |"
echo "|---|---|---|---|---|"
sed -n 's/^.*hitless: \([A-Za-z]*\) \([A-Za-z_-]*\): short \([0-9/]*\) failed, worker1.s flows broken \([0-9/]*\), others. \([0-9/]*\).*/| \2 | \1 | \3 | \4 | \5 |/p' "$log"
