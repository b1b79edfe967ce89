#!/usr/bin/env bash
# The worst event-loop stall a client sees under load, on a release build:
# tests/stall.rs (100k VIPs to BIRD over a hold-3 session, 50 SIGHUPs, 20
# concurrent `status --json`, 20 scrapes) with a probe that times one
# status request after another throughout. Prints the longest answer,
# which bounds the longest stall from above (it includes starting the CLI),
# and the daemon's own figure: the longest it spent on one event.
# Run as root: bench/stall.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
for i in $(seq "$runs"); do
    LEAFVIP_REQUIRE_ROOT_TESTS=1 cargo test -q --release --features metrics --test stall -- --nocapture 2>&1 \
        | grep -E "^longest|test result: FAILED" | head -2 | paste -sd ';' -
done
