#!/usr/bin/env bash
# The self-contained lab (network namespaces, a real BIRD leaf, leafvip on
# hosts of two racks). It needs the host daemon, which is issue 3.
echo "lab.sh: the lab needs the leafvip host daemon, which has not landed yet (issue 3)." >&2
exit 1
