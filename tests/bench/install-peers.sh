#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the peers that tests/bench/peers_bench.py measures braid against, from Debian 12's
# packages, only what is missing: shadowsocks-libev (ss-server, ss-local), OpenSSH (sshd, ssh -D)
# and microsocks (a plain SOCKS5 server, no tunnel). No service is enabled or started by us: the
# bench starts its own instances on loopback ports and stops them by PID.
set -eu
need=""
for p in shadowsocks-libev openssh-server openssh-client microsocks; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing:$need"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
