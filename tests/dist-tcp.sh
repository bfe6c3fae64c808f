#!/bin/sh
# tests/dist.sh again, with Open MPI forced onto TCP (btl tcp,self) over a
# slow link: inside a network namespace of its own whose loopback, the only
# interface there, is limited to 100 Mbit/s with an MTU of 1500 (tc's token
# bucket filter), as two hosts on a modest network would see it. Over TCP:
# every logit at 2, 3 and 4 ranks bit-identical to one process, each hop's
# timing within the limit, and a paused rank ending the job in time.
#
# Making the namespace needs root (CAP_SYS_ADMIN for unshare -n,
# CAP_NET_ADMIN for ip and tc, Debian's iproute2); where it cannot be made
# the test says why, as a skip. CI runs as root, where it must run. TAP.
set -u
src=${TSR_TEST_SRCDIR:-.}
rate_mbit=100
for tool in unshare ip tc; do
  if ! command -v $tool > /dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed (Debian: iproute2, util-linux)"
    exit 0
  fi
done
if ! why=$(unshare -n true 2>&1); then
  echo "1..0 # SKIP cannot make a network namespace (needs root with CAP_SYS_ADMIN): $why"
  exit 0
fi
TSR_DIST_TRANSPORT=tcp TSR_DIST_RATE_MBIT=$rate_mbit exec unshare -n sh -c "
  ip link set lo mtu 1500 up &&
  tc qdisc add dev lo root tbf rate ${rate_mbit}mbit burst 16kb latency 200ms ||
  { echo '1..0 # SKIP cannot limit loopback in the namespace (ip, tc: CAP_NET_ADMIN)'; exit 0; }
  exec sh '$src/tests/dist.sh'"
