#!/bin/sh
# Installs what tessera needs to build and test, from Debian 12's packages.
# Usage: contrib/install-deps.sh      (as root, or with sudo available)
set -eu
packages="build-essential autoconf automake libtool pkg-config
  libyaml-dev libinih-dev libpcre2-dev libjansson-dev libmicrohttpd-dev
  libcriterion-dev libopenmpi-dev openmpi-bin valgrind clang libclang-rt-14-dev
  python3 python3-pip python3-venv cmake unzip ca-certificates iproute2"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
