#!/bin/sh
# Fetches Debian 13 (trixie)'s mbedTLS 3.6 — what OpenWrt ships — into a private prefix so braid
# can be built and tested against it beside the system's 2.28 (make check-mbedtls3).
# Nothing is installed and the system's apt configuration is never touched: apt runs with a
# source list, state and cache of its own under $OUT, `apt-get download` fetches the .debs and
# `dpkg -x` unpacks them into $OUT/root.
#   usage: contrib/mbedtls3.sh [OUT]    (OUT defaults to build-mbedtls3 in the source tree)
# Prints the include and library directories; a second run reuses what is unpacked.
# The mirror is the one the system's apt sources use (MBEDTLS3_MIRROR=URL overrides it).
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build-mbedtls3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$OUT/root
SUITE=trixie
PKGS_WANTED="libmbedtls-dev libmbedcrypto16 libmbedtls21 libmbedx509-7"

multiarch() {
  gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
    echo "$(uname -m)-linux-gnu"
}

report() {
  lib=$(dirname "$(find "$ROOT/usr/lib" -name 'libmbedtls.so' | head -n 1)")
  echo "mbedTLS $(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' \
    "$ROOT/usr/include/mbedtls/build_info.h") in $ROOT"
  echo "include: $ROOT/usr/include"
  echo "lib: $lib"
}

if [ -f "$ROOT/.unpacked" ] && [ -f "$ROOT/usr/include/mbedtls/build_info.h" ]; then
  report
  exit 0
fi

# The Debian mirror the system already uses (deb822 or one-line format), suite trixie.
MIRROR=${MBEDTLS3_MIRROR:-}
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  MIRROR=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list ]; then
  MIRROR=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/ && $i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list)
fi
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}

APT=$OUT/apt
rm -rf "$APT" "$OUT/pkgs" "$ROOT"
mkdir -p "$APT/etc" "$APT/state/lists/partial" "$APT/cache/archives/partial" "$OUT/pkgs" "$ROOT"
: >"$APT/state/status"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SIGNED=""
[ -f "$KEYRING" ] && SIGNED="[signed-by=$KEYRING] "
echo "deb ${SIGNED}$MIRROR $SUITE main" >"$APT/etc/sources.list"
set -- -o Dir::Etc::SourceList="$APT/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
  -o Dir::State="$APT/state" -o Dir::State::status="$APT/state/status" -o Dir::Cache="$APT/cache" \
  -o APT::Sandbox::User="$(id -un)"

echo "mbedtls3: fetching the $SUITE package index from $MIRROR"
if ! apt-get "$@" -q update >"$APT/update.log" 2>&1 ||
  grep -Eq '^(E:|Err:|W: Failed to fetch|W: Some index files)' "$APT/update.log"; then
  cat "$APT/update.log" >&2
  echo "mbedtls3: cannot fetch $MIRROR/dists/$SUITE/ (Debian 13 trixie): mbedTLS 3.6 not fetched" >&2
  exit 1
fi

# The library package names carry the soname; take them from the -dev package's dependencies
# so a soname bump in trixie does not break this script.
DEPS=$(apt-cache "$@" show libmbedtls-dev 2>/dev/null | awk -F': ' '/^Depends:/ { print $2; exit }' |
  tr ',' '\n' | sed -n 's/^ *\(libmbed[a-z0-9.+-]*\).*/\1/p' | tr '\n' ' ')
if [ -z "$DEPS" ]; then
  echo "mbedtls3: $MIRROR $SUITE has no libmbedtls-dev" >&2
  exit 1
fi
echo "mbedtls3: downloading libmbedtls-dev $DEPS(expected: $PKGS_WANTED)"
(cd "$OUT/pkgs" && apt-get "$@" -q download libmbedtls-dev $DEPS) || {
  echo "mbedtls3: apt-get download from $MIRROR ($SUITE) failed" >&2
  exit 1
}
for deb in "$OUT"/pkgs/*.deb; do
  dpkg -x "$deb" "$ROOT"
  echo "  $(basename "$deb")"
done
[ -f "$ROOT/usr/include/mbedtls/build_info.h" ] || {
  echo "mbedtls3: the unpacked packages hold no mbedTLS 3 headers" >&2
  exit 1
}
touch "$ROOT/.unpacked"
report
