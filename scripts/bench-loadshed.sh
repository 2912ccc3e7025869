#!/usr/bin/env bash
# Load shedding figures (docs/security.md#load-shedding): the verify class of
# one server, with its default admission settings unless told otherwise,
# driven by loadgen. It measures
#   capacity  closed loop, twice as many clients as the class has slots:
#             verifications/s
#   unloaded  open loop at a quarter of the capacity: p50, p99
#   2x        open loop at twice the capacity: shed fraction (503), p99 of the
#             admitted requests, and the server's peak VmRSS
#   after     the next requests, closed loop with one client
# and, under 2x, the CPU the server and loadgen took per request and how
# much of the machine stayed idle (/proc/PID/stat, /usr/bin/time, /proc/stat),
# and prints "ratio" = admitted p99 at 2x / unloaded p99 (the goal: at most 2).
# It builds the binaries from this checkout unless BIN and LOAD are given.
# Usage: scripts/bench-loadshed.sh [seconds per open-loop run, default 10]
# Settings (unset: the server's defaults): MAXC (max_concurrent), MAXQ
# (max_queue), QT (queue_timeout), OA (overload_after), OW (overload_wait),
# LOGLEVEL (default info, the default); INFLIGHT (loadgen -max-inflight,
# default 256); RUNS (repeat the measurement, default 1); KEEPLOG=FILE (keep
# the server's log, with its per-request durations, in FILE); PIN=1 (the server
# on the last CPU, loadgen on the others, so that the load generator does not
# take the server's CPU, as on separate machines; SRVPROCS sets the server's
# GOMAXPROCS, which serve otherwise raises to 2 on one CPU).
set -euo pipefail
SECS=${1:-10}
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ] || [ -z "${LOAD:-}" ]; then
  mkdir -p /tmp/agentcert-bench
  go build -o /tmp/agentcert-bench/agentcert ./cmd/agentcert
  go build -o /tmp/agentcert-bench/loadgen ./cmd/loadgen
fi
BIN=${BIN:-/tmp/agentcert-bench/agentcert}
LOAD=${LOAD:-/tmp/agentcert-bench/loadgen}
INFLIGHT=${INFLIGHT:-256} LOGLEVEL=${LOGLEVEL:-info} RUNS=${RUNS:-1}
PORT=${PORT:-18711}
URL=http://127.0.0.1:$PORT
AUD=https://cp.example
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; [ -n "${KEEPLOG:-}" ] && cp "$WORK/err" "$KEEPLOG"; rm -rf "$WORK"; }
trap cleanup EXIT

printf 'listen: 127.0.0.1:%s\ndata_dir: %s\nlog_level: %s\n' "$PORT" "$WORK" "$LOGLEVEL" >"$WORK/config.yaml"
SET=()
[ -n "${MAXC:-}" ] && SET+=(AGENTCERT_HTTP_ADMISSION_VERIFY_MAX_CONCURRENT="$MAXC")
[ -n "${MAXQ:-}" ] && SET+=(AGENTCERT_HTTP_ADMISSION_VERIFY_MAX_QUEUE="$MAXQ")
[ -n "${QT:-}" ] && SET+=(AGENTCERT_HTTP_ADMISSION_VERIFY_QUEUE_TIMEOUT="$QT")
[ -n "${OA:-}" ] && SET+=(AGENTCERT_HTTP_ADMISSION_OVERLOAD_AFTER="$OA")
[ -n "${OW:-}" ] && SET+=(AGENTCERT_HTTP_ADMISSION_OVERLOAD_WAIT="$OW")
SP=() LP=()
if [ -n "${PIN:-}" ]; then
  [ "$(nproc)" -ge 2 ] || { echo "PIN needs at least 2 CPUs" >&2; exit 2; }
  LAST=$(($(nproc) - 1))
  SP=(taskset -c "$LAST") LP=(taskset -c "0-$((LAST - 1))")
  [ -n "${SRVPROCS:-}" ] && SET+=(GOMAXPROCS="$SRVPROCS")
fi
env "${SET[@]}" "${SP[@]}" "$BIN" serve --config "$WORK/config.yaml" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' "$WORK/out" || { cat "$WORK/err" >&2; exit 1; }
ADMIN=$(sed -n 's/^bootstrap admin token (shown once, store it now): //p' "$WORK/out")
TOK=$(curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d '{"role":"issuer"}' "$URL/v1/admin/tokens" | jq -r .token)
AGENT=$("$BIN" did create --method key --alg EdDSA --out "$WORK/agent.jwk")
jq -n --arg s "$AGENT" '{subject: $s, valid_for: "24h", selectively_disclosable: ["/permissions/*"],
  claims: {principal: {id: "did:web:acme.example", name: "ACME", type: "organization"},
           agent: {class: "ap-assistant", version: "1.4.0"}, permissions: [{action: "invoices:read"}], autonomy: "supervised"}}' >"$WORK/req.json"
curl -sf -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d @"$WORK/req.json" "$URL/v1/credentials" | jq -r .credential >"$WORK/cred.txt"
"$BIN" present --credential "$WORK/cred.txt" --key "$WORK/agent.jwk" --aud "$AUD" --nonce n1 >"$WORK/pres.txt"
V=(-url "$URL" -mode verify -presentation "$WORK/pres.txt" -aud "$AUD" -nonce n1 -action invoices:read -json)

# The verify class's effective bounds, as the server reports them (older
# servers without the gauges: MAXC and MAXQ, or 2 and 2).
srvcpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
idle() { awk '$1 == "cpu" {print $5}' /proc/stat; }
metric() { curl -sf "$URL/metrics" | awk -v m="$1" '$1 == m "{class=\"verify\"}" {print $2}'; }
SLOTS=$(metric agentcert_admission_max_concurrent); SLOTS=${SLOTS:-${MAXC:-2}}
QUEUE=$(metric agentcert_admission_max_queue); QUEUE=${QUEUE:-${MAXQ:-2}}
echo "binary $BIN; verify class: max_concurrent $SLOTS, max_queue $QUEUE${QT:+, queue_timeout $QT}${OA:+, overload_after $OA}${OW:+, overload_wait $OW}; log_level $LOGLEVEL; $(nproc) cores${PIN:+, server pinned to CPU $LAST with GOMAXPROCS ${SRVPROCS:-as serve sets it}, loadgen to the others}"

"${LP[@]}" "$LOAD" "${V[@]}" -n 500 -c 1 >/dev/null || true # warm up: DID document and status list cached
for RUN in $(seq 1 "$RUNS"); do
  echo "-- run $RUN: load average $(cut -d" " -f1-3 /proc/loadavg)"
  "${LP[@]}" "$LOAD" "${V[@]}" -n 100000 -duration 5s -c $((2 * SLOTS)) >"$WORK/cap.json" || true
  CAP=$(jq .succeeded_per_second "$WORK/cap.json")
  jq -r '"capacity: \(.succeeded_per_second | floor)/s closed loop, \(.concurrency) clients (\(.failed) failed)"' "$WORK/cap.json"

  R=$(jq -n "$CAP / 4")
  "${LP[@]}" "$LOAD" "${V[@]}" -rate "$R" -max-inflight "$INFLIGHT" -n 10000000 -duration "${SECS}s" >"$WORK/low.json" || true
  jq -r '"unloaded (\(.offered_rate | floor)/s open loop): \(.requests) requests, \(.failed) failed, p50 \(.p50_ns / 1e6) ms, p99 \(.p99_ns / 1e6) ms, errors \(.errors // {})"' "$WORK/low.json"

  R=$(jq -n "$CAP * 2")
  ( while kill -0 "$PID" 2>/dev/null; do awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; sleep 0.1; done ) >"$WORK/rss" &
  RSSPID=$!
  S0=$(srvcpu); M0=$(idle)
  /usr/bin/time -o "$WORK/ltime" -f '%U %S' "${LP[@]}" "$LOAD" "${V[@]}" -rate "$R" -max-inflight "$INFLIGHT" -n 10000000 -duration "${SECS}s" >"$WORK/high.json" || true
  S1=$(srvcpu); M1=$(idle)
  kill "$RSSPID" 2>/dev/null || true
  wait "$RSSPID" 2>/dev/null || true
  PEAK=$(sort -n "$WORK/rss" | tail -1)
  jq -r '"2x (\(.offered_rate | floor)/s open loop): \(.requests) requests, \(.succeeded) admitted, \(.errors["503"] // 0) shed (\(100 * (.errors["503"] // 0) / .requests | floor)%), other failures \(.failed - (.errors["503"] // 0)), dropped by loadgen \(.dropped); admitted p50 \(.succeeded_p50_ns / 1e6) ms, p99 \(.succeeded_p99_ns / 1e6) ms"' "$WORK/high.json"
  echo "server VmRSS peak under 2x: $((PEAK / 1024)) MiB"
  N=$(jq .requests "$WORK/high.json")
  awk -v s0="$S0" -v s1="$S1" -v m0="$M0" -v m1="$M1" -v n="$N" -v secs="$SECS" -v cores="$(nproc)" 'END {
    tick = 1e6 / 100; l = ($1 + $2) * 1e6
    printf "CPU under 2x: server %.0f us/request, loadgen %.0f us/request, machine idle %.0f%%\n", (s1 - s0) * tick / n, l / n, 100 * (m1 - m0) / (secs * 100 * cores) }' "$WORK/ltime"
  "${LP[@]}" "$LOAD" "${V[@]}" -n 50 -c 1 >"$WORK/after.json" || true
  jq -r '"after: \(.succeeded) of \(.requests) served at once, p99 \(.p99_ns / 1e6) ms"' "$WORK/after.json"
  jq -rn --slurpfile lo "$WORK/low.json" --slurpfile hi "$WORK/high.json" --arg la "$(cut -d" " -f1-3 /proc/loadavg)" \
    '"ratio: \($hi[0].succeeded_p99_ns / $lo[0].p99_ns * 100 | round / 100) (admitted p99 at 2x \($hi[0].succeeded_p99_ns / 1e4 | round / 100) ms / unloaded p99 \($lo[0].p99_ns / 1e4 | round / 100) ms; goal <= 2); load average \($la)"'
done
curl -sf "$URL/metrics" | grep '^agentcert_admission_' | grep 'class="verify"'
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
