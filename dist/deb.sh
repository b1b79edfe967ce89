#!/usr/bin/env bash
# The Debian package: the static binary (with the metrics endpoint and BFD), the
# hardened unit, a commented config and labels file in /etc/leafvip, and a
# system user. Needs cargo-deb (`cargo install cargo-deb`).
#   dist/deb.sh            build; prints the .deb's path
#   dist/deb.sh --check    also install it with dpkg -i, check it, purge it
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
dist/static.sh --features metrics,bfd >&2
deb=$(cargo deb --no-build --target "$target" 2>/dev/null | tail -1)
echo "$deb"
[ "${1:-}" = --check ] || exit 0
[ "$(id -u)" = 0 ] || { echo "--check needs root" >&2; exit 1; }
if dpkg -s leafvip >/dev/null 2>&1; then
    echo "--check installs and purges leafvip: not on a host where it is installed" >&2
    exit 1
fi
trap 'dpkg --purge leafvip >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb"
/usr/bin/leafvip version
leafvip check -c /etc/leafvip/leafvip.toml
getent passwd leafvip
test -f /usr/lib/systemd/system/leafvip.service
systemd-analyze verify /usr/lib/systemd/system/leafvip.service
dpkg --purge leafvip
if getent passwd leafvip >/dev/null; then echo "purge left the leafvip user" >&2; exit 1; fi
if [ -e /usr/bin/leafvip ]; then echo "purge left /usr/bin/leafvip" >&2; exit 1; fi
echo "deb check: installed, verified and purged $deb"
