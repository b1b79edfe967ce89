#!/usr/bin/env bash
# Soak (issue 20): BIRD restarts its session with leafvip FLAPS times
# (default 1,000) over 10k VIPs, on a release build; after each flap the
# whole table must be back at BIRD, and leafvip's RSS over the last 100
# flaps must stay within 256 KiB of the first 100's. Prints the figure.
# Run as root: bench/soak.sh [FLAPS]
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFVIP_REQUIRE_ROOT_TESTS=1 LEAFVIP_SOAK_FLAPS=${1:-1000} \
    cargo test -q --release --features metrics --test hostile -- --ignored --nocapture soak_ 2>&1 \
    | grep -oE "figure .*|test result.*|panicked.*"
