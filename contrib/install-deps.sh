#!/bin/sh
# Installs what braid needs to build and test on Debian 12, only what is missing.
set -eu
need=""
for p in build-essential cmake pkg-config libevent-dev libmbedtls-dev libssl-dev liblz4-dev python3 \
         curl iproute2 nftables clang mandoc tinyproxy haproxy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
