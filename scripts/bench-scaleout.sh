#!/usr/bin/env bash
# Durable issuance/s over HTTP: SQLite (one node), PostgreSQL one node and
# PostgreSQL two nodes, in one run, 32 clients each time (two nodes: 16 on
# each). Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and
# the binaries built into /tmp:
#   go build -o /tmp/agentcert ./cmd/agentcert && go build -o /tmp/loadgen ./cmd/loadgen
# Usage: scripts/bench-scaleout.sh [requests per configuration, default 5000]
set -euo pipefail
N=${1:-5000}
BIN=${BIN:-/tmp/agentcert}
LOAD=${LOAD:-/tmp/loadgen}
PSQL="psql -h 127.0.0.1 -U postgres -d postgres -qtA"
DB=agentcert_bench_$$
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $PSQL -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export AGENTCERT_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)

# start NAME PORT PUBLIC_PORT [env...]: a node with its own data directory.
start() {
  local name=$1 port=$2 pub=$3; shift 3
  mkdir -p "$WORK/$name"
  printf 'listen: 127.0.0.1:%s\npublic_url: http://127.0.0.1:%s\ndata_dir: %s\nlog_level: warn\n' \
    "$port" "$pub" "$WORK/$name" >"$WORK/$name/config.yaml"
  env "$@" "$BIN" serve --config "$WORK/$name/config.yaml" >"$WORK/$name/out" 2>"$WORK/$name/err" &
  PIDS+=($!)
  for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/$name/out" 2>/dev/null && return 0; sleep 0.1; done
  echo "$name did not start:" >&2; cat "$WORK/$name/err" >&2; exit 1
}
admin() { sed -n 's/^bootstrap admin token (shown once, store it now): //p' "$WORK/$1/out"; }
issuer_token() {
  curl -sf -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d '{"role":"issuer"}' "http://127.0.0.1:$1/v1/admin/tokens" | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
stop_all() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }

echo "== SQLite, one node, 32 clients"
start sqlite 18701 18701
TOK=$(issuer_token 18701 "$(admin sqlite)")
$LOAD -url http://127.0.0.1:18701 -token "$TOK" -mode issue -n "$N" -c 32
stop_all

$PSQL -c "CREATE DATABASE $DB" >/dev/null
PG="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"

echo "== PostgreSQL, one node, 32 clients"
start pg1 18702 18702 AGENTCERT_STORE_URL="$PG"
TOK=$(issuer_token 18702 "$(admin pg1)")
$LOAD -url http://127.0.0.1:18702 -token "$TOK" -mode issue -n "$N" -c 32

echo "== PostgreSQL, two nodes, 16 clients on each"
start pg2 18703 18702 AGENTCERT_STORE_URL="$PG"
$LOAD -url http://127.0.0.1:18702 -token "$TOK" -mode issue -n $((N / 2)) -c 16 >"$WORK/a.txt" &
LA=$!
$LOAD -url http://127.0.0.1:18703 -token "$TOK" -mode issue -n $((N / 2)) -c 16 >"$WORK/b.txt" &
LB=$!
wait $LA $LB
cat "$WORK/a.txt" "$WORK/b.txt"
awk '/^requests\/s:/ {sum += $2} END {printf "two nodes together: %.1f credentials/s\n", sum}' "$WORK/a.txt" "$WORK/b.txt"
echo "credentials stored: $($PSQL -d "$DB" -c 'SELECT count(*) FROM credentials')," \
  "distinct (list, idx): $($PSQL -d "$DB" -c 'SELECT count(DISTINCT (list_id, idx)) FROM credentials')"
