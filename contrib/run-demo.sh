#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: a braid server and client on this machine, with a throwaway key, a client
# secret and both config files in ./run/ (created once, reused afterwards). Ctrl-C stops both.
# Usage: sh contrib/run-demo.sh [PATH-TO-BRAID]   (default build/braid)
# Environment: BRAID_DEMO_PORT (server, default 8443), BRAID_DEMO_SOCKS (SOCKS5, default 1080);
# both are only read when run/ is first written, and the next free port is taken if busy.
set -u

braid=${1:-build/braid}
run="$(pwd)/run"
wait_s=10

say() { printf 'run-demo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$braid" ] || die "$braid not found or not executable; build it first: make build"

# --- files ------------------------------------------------------------------------------------
port_busy() {  # PORT -> true if something listens on it (TCP); false if unknown
  command -v ss >/dev/null 2>&1 || return 1
  [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}
free_port() {  # START -> first free port among START..START+19
  p=$1
  while [ "$p" -lt $(($1 + 20)) ]; do
    port_busy "$p" || { echo "$p"; return 0; }
    p=$((p + 1))
  done
  echo "$1"  # all busy: let braid report the bind error
}
key_of() {  # FILE KEY -> first value of KEY in FILE
  sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\\([^[:space:]]*\\).*/\\1/p" "$1" | head -n 1
}

mkdir -p "$run" || die "cannot create $run"
umask 077

if [ ! -s "$run/server.key" ] || [ ! -s "$run/server.crt" ] || [ ! -s "$run/server.pin" ]; then
  rm -f "$run/server.key" "$run/server.crt" "$run/server.pin" "$run/client.conf"
  out=$("$braid" keygen --out "$run/server") || die "braid keygen failed"
  pin=$(printf '%s\n' "$out" | sed -n 's/^.*pin \(sha256:[0-9a-f]*\).*$/\1/p' | head -n 1)
  [ -n "$pin" ] || die "braid keygen printed no 'pin sha256:...' line: $out"
  echo "$pin" > "$run/server.pin"
  say "wrote $run/server.key, server.crt; $pin"
fi
pin=$(cat "$run/server.pin")

if [ ! -s "$run/alice.secret" ]; then
  rm -f "$run/clients"
  "$braid" secret > "$run/alice.secret" || die "braid secret failed"
  chmod 600 "$run/alice.secret"
  say "wrote $run/alice.secret"
fi

if [ ! -s "$run/clients" ]; then
  printf 'alice %s\n' "$(cat "$run/alice.secret")" > "$run/clients"
  say "wrote $run/clients"
fi

if [ ! -s "$run/server.conf" ]; then
  rm -f "$run/client.conf"  # it must name the same port
  port=$(free_port "${BRAID_DEMO_PORT:-8443}")
  cat > "$run/server.conf" <<EOF
# braid demo server, written by contrib/run-demo.sh; see braid.conf(5).
[server]
listen = 127.0.0.1:$port
cert = $run/server.crt
key = $run/server.key
clients = $run/clients
# Targets on loopback and private networks are refused by default. To let the demo
# reach services on this machine (e.g. a local web server), uncomment:
# allow = 127.0.0.0/8
# allow = ::1/128
EOF
  say "wrote $run/server.conf (listen 127.0.0.1:$port)"
fi
server=$(key_of "$run/server.conf" listen)

if [ ! -s "$run/client.conf" ]; then
  socks_port=$(free_port "${BRAID_DEMO_SOCKS:-1080}")
  cat > "$run/client.conf" <<EOF
# braid demo client, written by contrib/run-demo.sh; see braid.conf(5).
[client]
server = $server
server-pin = $pin
name = alice
secret-file = $run/alice.secret
socks = 127.0.0.1:$socks_port
EOF
  say "wrote $run/client.conf (socks 127.0.0.1:$socks_port)"
fi
socks=$(key_of "$run/client.conf" socks)

for hp in "$server" "$socks"; do
  if port_busy "${hp##*:}"; then
    die "port ${hp##*:} is already in use (another demo running?); stop it, or rm -r run/ to pick free ports"
  fi
done

# --- processes --------------------------------------------------------------------------------
server_pid=""
client_pid=""
tail_pid=""
stop() {
  trap - INT TERM EXIT
  for pid in $client_pid $server_pid; do kill -TERM "$pid" 2>/dev/null; done
  for pid in $client_pid $server_pid; do wait "$pid" 2>/dev/null; done
  if [ -n "$tail_pid" ]; then
    sleep 0.2 2>/dev/null  # let the last log lines through
    kill -TERM "$tail_pid" 2>/dev/null
    wait "$tail_pid" 2>/dev/null
  fi
}
trap 'stop; exit 0' INT TERM
trap 'rc=$?; stop; exit $rc' EXIT

show_log() {  # NAME
  say "--- $run/$1.log ---"
  cat "$run/$1.log" >&2
}
check_alive() {
  kill -0 "$server_pid" 2>/dev/null || { wait "$server_pid"; rc=$?; show_log server
    die "braid server exited (status $rc)"; }
  kill -0 "$client_pid" 2>/dev/null || { wait "$client_pid"; rc=$?; show_log client
    die "braid client exited (status $rc)"; }
}

: > "$run/server.log"
: > "$run/client.log"
"$braid" server -c "$run/server.conf" 2>> "$run/server.log" </dev/null &
server_pid=$!
"$braid" client -c "$run/client.conf" 2>> "$run/client.log" </dev/null &
client_pid=$!
# Both logs on the terminal; tail marks which file each block comes from.
tail -n +1 -f "$run/server.log" "$run/client.log" >&2 &
tail_pid=$!

i=0
while ! grep -q 'session established' "$run/client.log"; do
  check_alive
  i=$((i + 1))
  if [ "$i" -gt $((wait_s * 5)) ]; then
    show_log server
    show_log client
    die "no 'session established' in $run/client.log after ${wait_s}s"
  fi
  sleep 0.2 2>/dev/null || sleep 1
done

cat >&2 <<EOF

run-demo: braid server pid $server_pid listens on $server (logs: run/server.log)
run-demo: braid client pid $client_pid offers SOCKS5 on $socks (logs: run/client.log)
run-demo: try:
    curl --socks5-hostname $socks https://example.org/
run-demo: loopback and private targets are refused unless allowed in run/server.conf.
run-demo: Ctrl-C stops both.

EOF

while :; do
  check_alive
  sleep 1
done
