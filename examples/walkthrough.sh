#!/usr/bin/env bash
# agentcert walkthrough, end to end (docs/walkthrough.md explains each step).
#
# Starts an issuer+verifier on 127.0.0.1:$PORT with a short status-list ttl,
# certifies an agent for ACME, lets it present one permission to a
# counterparty, revokes it as an auditor, and shows the revocation taking
# effect and the audit trail. Needs the agentcert binary and curl.
#
#   make build && examples/walkthrough.sh
#
# Environment: AGENTCERT (binary, default bin/agentcert), PORT (default 8080),
# WORK (working directory, default a new temporary one).
set -euo pipefail

AC=$(realpath "${AGENTCERT:-bin/agentcert}")
PORT=${PORT:-8080}
WORK=${WORK:-$(mktemp -d)}
BASE=http://127.0.0.1:$PORT
AUD=https://invoices.example
cd "$WORK"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "WALKTHROUGH FAILED: $*" >&2; exit 1; }
# field NAME: the first string value of NAME in the JSON on stdin.
field() { grep -o "\"$1\": *\"[^\"]*\"" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'; }

step "1. Start agentcert (status lists live 3 s, verifier nonces are single-use)"
cat > walkthrough.yaml <<EOF
listen: 127.0.0.1:$PORT
public_url: $BASE
data_dir: $WORK/data
status: {ttl: 3s}
verifier: {require_nonce: true, max_status_age: 3s}
EOF
"$AC" serve --config walkthrough.yaml > server.out 2> server.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do grep -q '^listening on' server.out 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' server.out || fail "server did not start: $(cat server.log)"
ISSUER_DID=$(sed -n 's/^issuer DID: //p' server.out)
echo "issuer: $ISSUER_DID"
ADMIN_TOKEN=$(sed -n 's/^bootstrap admin token.*: //p' server.out)
ISSUER_TOKEN=$("$AC" token create --role issuer --name acme-issuing-service --server "$BASE" --token "$ADMIN_TOKEN")
AUDITOR_TOKEN=$("$AC" token create --role auditor --name acme-security-team --server "$BASE" --token "$ADMIN_TOKEN")

step "2. The agent instance gets a DID and a key"
AGENT_DID=$("$AC" did create --method key --alg EdDSA --out agent.jwk)
echo "agent:  $AGENT_DID"

step "3. ACME certifies the agent: may read and list invoices, may not initiate payments"
cat > request.json <<EOF
{"subject": "$AGENT_DID",
 "claims": {
   "principal": {"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
   "agent": {"class": "accounts-payable-assistant", "version": "1.4.0", "operator": "ACME IT"},
   "permissions": [{"action": "invoices:read"}, {"action": "invoices:list"}],
   "prohibitions": ["payments:initiate"],
   "autonomy": "supervised"}}
EOF
curl -sS -f -X POST "$BASE/v1/credentials" -H "Authorization: Bearer $ISSUER_TOKEN" \
  -H 'Content-Type: application/json' --data @request.json > issued.json
CRED_ID=$(field id < issued.json)
field credential < issued.json > credential.txt
echo "credential $CRED_ID issued ($(wc -c < credential.txt) bytes)"

# present_to_counterparty: a fresh nonce, then a presentation disclosing
# only invoices:read, bound to the counterparty's audience and that nonce.
present_to_counterparty() {
  NONCE=$(curl -sS -f "$BASE/v1/nonce" | field nonce)
  "$AC" present --credential credential.txt --key agent.jwk --aud "$AUD" --nonce "$NONCE" \
    --disclose /permissions/0 > presentation.txt
}

step "4. The agent presents only invoices:read; the counterparty asks agentcert"
present_to_counterparty
"$AC" verify --server "$BASE" --presentation presentation.txt --aud "$AUD" --nonce "$NONCE" \
  --action invoices:read || fail "invoices:read should be allowed"

step "5. The same agent asking to initiate a payment is denied"
present_to_counterparty
if "$AC" verify --server "$BASE" --presentation presentation.txt --aud "$AUD" --nonce "$NONCE" \
  --action payments:initiate --json > denied.json; then fail "payments:initiate should be denied"; fi
grep -q '"code": "action_prohibited"' denied.json || fail "expected action_prohibited: $(cat denied.json)"
echo "payments:initiate: denied (action_prohibited)"

step "6. An auditor revokes the certification, citing the incident"
"$AC" revoke "$CRED_ID" --reason policy_violation --incident INC-2026-042 \
  --server "$BASE" --token "$AUDITOR_TOKEN" > revoked.json
grep -q '"status": "revoked"' revoked.json || fail "revoke did not answer a revoked record: $(cat revoked.json)"

step "7. After the status ttl, the same presentation (fresh nonce) no longer verifies"
sleep 4
present_to_counterparty
if "$AC" verify --server "$BASE" --presentation presentation.txt --aud "$AUD" --nonce "$NONCE" \
  --json > after.json; then fail "a revoked credential verified"; fi
grep -q '"code": "revoked"' after.json || fail "expected revoked: $(cat after.json)"
echo "verification now fails: revoked"

step "8. The audit log shows who revoked what and why, and its hash chain holds"
curl -sS -f "$BASE/v1/audit?action=credential.revoke" -H "Authorization: Bearer $AUDITOR_TOKEN" > audit.json
grep -q "INC-2026-042" audit.json && grep -q "$CRED_ID" audit.json || fail "revocation missing from the audit log"
ACTOR=$(field actor < audit.json)
echo "revoked by token $ACTOR: $(grep -o '"reason":"[^"]*"' audit.json | head -n 1), incident INC-2026-042"
"$AC" audit verify --config walkthrough.yaml

echo
echo "walkthrough complete"
