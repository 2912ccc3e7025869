#!/usr/bin/env bash
# Load shedding figures (docs/security.md#load-shedding): the verify class of
# one server with small admission bounds, driven by loadgen. It measures
#   capacity  closed loop, as many clients as the class has slots and queue
#             places (so nothing is shed): verifications/s
#   unloaded  open loop at a quarter of the capacity: p50, p99
#   2x        open loop at twice the capacity: shed fraction (503), p99 of the
#             admitted requests, and the server's peak VmRSS
#   after     the next requests, closed loop with one client
# Build the binaries first:
#   go build -o /tmp/agentcert ./cmd/agentcert && go build -o /tmp/loadgen ./cmd/loadgen
# Usage: scripts/bench-loadshed.sh [seconds per open-loop run, default 10]
# Bounds: MAXC (max_concurrent, default 2), MAXQ (max_queue, default 2),
# QT (queue_timeout, default 100ms); INFLIGHT (loadgen -max-inflight, default 256).
set -euo pipefail
SECS=${1:-10}
BIN=${BIN:-/tmp/agentcert}
LOAD=${LOAD:-/tmp/loadgen}
MAXC=${MAXC:-2} MAXQ=${MAXQ:-2} QT=${QT:-100ms} INFLIGHT=${INFLIGHT:-256}
PORT=${PORT:-18711}
URL=http://127.0.0.1:$PORT
AUD=https://cp.example
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

printf 'listen: 127.0.0.1:%s\ndata_dir: %s\nlog_level: warn\n' "$PORT" "$WORK" >"$WORK/config.yaml"
AGENTCERT_HTTP_ADMISSION_VERIFY_MAX_CONCURRENT=$MAXC AGENTCERT_HTTP_ADMISSION_VERIFY_MAX_QUEUE=$MAXQ \
  AGENTCERT_HTTP_ADMISSION_VERIFY_QUEUE_TIMEOUT=$QT \
  "$BIN" serve --config "$WORK/config.yaml" >"$WORK/out" 2>"$WORK/err" &
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

"$LOAD" "${V[@]}" -n 500 -c 1 >/dev/null || true # warm up: DID document and status list cached
"$LOAD" "${V[@]}" -n 100000 -duration 5s -c $((MAXC + MAXQ)) >"$WORK/cap.json" || true
CAP=$(jq .succeeded_per_second "$WORK/cap.json")
echo "limits: max_concurrent $MAXC, max_queue $MAXQ, queue_timeout $QT; load average $(cut -d" " -f1-3 /proc/loadavg)"
jq -r '"capacity: \(.succeeded_per_second | floor)/s closed loop, \(.concurrency) clients (\(.failed) failed)"' "$WORK/cap.json"

R=$(jq -n "$CAP / 4")
"$LOAD" "${V[@]}" -rate "$R" -max-inflight "$INFLIGHT" -n 10000000 -duration "${SECS}s" >"$WORK/low.json" || true
jq -r '"unloaded (\(.offered_rate | floor)/s open loop): \(.requests) requests, \(.failed) failed, p50 \(.p50_ns / 1e6) ms, p99 \(.p99_ns / 1e6) ms"' "$WORK/low.json"

R=$(jq -n "$CAP * 2")
PEAK=0
( while kill -0 "$PID" 2>/dev/null; do awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; sleep 0.1; done ) >"$WORK/rss" &
RSSPID=$!
"$LOAD" "${V[@]}" -rate "$R" -max-inflight "$INFLIGHT" -n 10000000 -duration "${SECS}s" >"$WORK/high.json" || true
kill "$RSSPID" 2>/dev/null || true
PEAK=$(sort -n "$WORK/rss" | tail -1)
jq -r '"2x (\(.offered_rate | floor)/s open loop): \(.requests) requests, \(.succeeded) admitted, \(.errors["503"] // 0) shed (\(100 * (.errors["503"] // 0) / .requests | floor)%), other failures \(.failed - (.errors["503"] // 0)), dropped by loadgen \(.dropped); admitted p50 \(.succeeded_p50_ns / 1e6) ms, p99 \(.succeeded_p99_ns / 1e6) ms"' "$WORK/high.json"
echo "server VmRSS peak under 2x: $((PEAK / 1024)) MiB"
"$LOAD" "${V[@]}" -n 50 -c 1 >"$WORK/after.json" || true
jq -r '"after: \(.succeeded) of \(.requests) served at once, p99 \(.p99_ns / 1e6) ms"' "$WORK/after.json"
curl -sf "$URL/metrics" | grep '^agentcert_admission_' | grep 'class="verify"'
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
