#!/usr/bin/env bash
# OpenID4VCI by hand, with curl (docs/oid4vci.md shows and explains the
# transcript this prints).
#
# Starts an issuer on 127.0.0.1:$PORT, makes an offer with a transaction
# code, and runs the pre-authorized code flow step by step with curl: offer by
# reference, metadata, token, nonce, a jwt key proof (signed by
# `agentcert wallet proof`), credential. Then the same offer is refused, and
# `agentcert wallet receive` runs the whole flow for a second offer.
#
#   make build && examples/oid4vci.sh
#
# Environment: AGENTCERT (binary, default bin/agentcert), PORT (default 8080),
# WORK (working directory, default a new temporary one).
set -euo pipefail

AC=$(realpath "${AGENTCERT:-bin/agentcert}")
PORT=${PORT:-8080}
WORK=${WORK:-$(mktemp -d)}
BASE=http://127.0.0.1:$PORT
cd "$WORK"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "OID4VCI EXAMPLE FAILED: $*" >&2; exit 1; }
# field NAME: the first string value of NAME in the JSON on stdin.
field() { grep -o "\"$1\": *\"[^\"]*\"" | sed -n '1s/.*: *"\(.*\)"/\1/p'; }
show() { echo "\$ $*"; }

step "1. Start agentcert and make an issuer token and an agent key"
printf 'listen: 127.0.0.1:%s\npublic_url: %s\ndata_dir: %s/data\n' "$PORT" "$BASE" "$WORK" > oid4vci.yaml
"$AC" serve --config oid4vci.yaml > server.out 2> server.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do grep -q '^listening on' server.out 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' server.out || fail "server did not start: $(cat server.log)"
ADMIN_TOKEN=$(sed -n 's/^bootstrap admin token.*: //p' server.out)
ISSUER_TOKEN=$("$AC" token create --role issuer --name oid4vci --server "$BASE" --token "$ADMIN_TOKEN")
ISSUER_DID=$(sed -n 's/^issuer DID: //p' server.out)
AGENT_DID=$("$AC" did create --method key --alg ES256 --out agent.jwk)
echo "agent: $AGENT_DID"

step "2. The operator offers a prepared certification, protected by a transaction code"
cat > offer.json <<'JSON'
{"claims": {"principal": {"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
            "agent": {"class": "accounts-payable-assistant", "version": "1.4.0"},
            "permissions": [{"action": "invoices:read"}, {"action": "invoices:list"}],
            "prohibitions": ["payments:initiate"],
            "autonomy": "supervised"},
 "tx_code": {"length": 6, "description": "the code your operator sent you"}}
JSON
curl -s -X POST "$BASE/v1/offers" -H "Authorization: Bearer $ISSUER_TOKEN" -H 'Content-Type: application/json' --data @offer.json > offer-created.json
cat offer-created.json; echo
OFFER_URI=$(field credential_offer_uri < offer-created.json)
TX_CODE=$(field tx_code < offer-created.json)
[ -n "$OFFER_URI" ] && [ -n "$TX_CODE" ] || fail "no offer"

step "3. The agent fetches the offer and the metadata"
curl -s "$OFFER_URI" > offer.txt
cat offer.txt; echo
CODE=$(field pre-authorized_code < offer.txt)
curl -s "$BASE/.well-known/openid-credential-issuer" > issuer-metadata.json
grep -q '"dc+sd-jwt"' issuer-metadata.json || fail "no dc+sd-jwt configuration"
echo "credential configuration: $(grep -o '"agent_certification":{"format":"dc+sd-jwt"' issuer-metadata.json), proof types: $(grep -o '"proof_types_supported":{"jwt"' issuer-metadata.json)"
curl -s "$BASE/.well-known/oauth-authorization-server"; echo

step "4. Token: the pre-authorized code and the transaction code"
curl -s -X POST "$BASE/oid4vci/token" --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code" \
  --data-urlencode "pre-authorized_code=$CODE" --data-urlencode "tx_code=$TX_CODE" > token.json
cat token.json; echo
ACCESS_TOKEN=$(field access_token < token.json)
[ -n "$ACCESS_TOKEN" ] || fail "no access token"

step "5. Nonce, and a key proof over it"
curl -s -X POST "$BASE/oid4vci/nonce" > nonce.json
cat nonce.json; echo
C_NONCE=$(field c_nonce < nonce.json)
PROOF=$("$AC" wallet proof --key agent.jwk --aud "$BASE" --nonce "$C_NONCE")
echo "proof header: $(echo "$PROOF" | cut -d. -f1 | tr '_-' '/+' | base64 -d 2>/dev/null || true)"

step "6. Credential: one per proof, bound to the proven key"
curl -s -X POST "$BASE/oid4vci/credential" -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \
  --data "{\"credential_configuration_id\":\"agent_certification\",\"proofs\":{\"jwt\":[\"$PROOF\"]}}" > credential.json
CREDENTIAL=$(field credential < credential.json)
[ -n "$CREDENTIAL" ] || fail "no credential: $(cat credential.json)"
echo "credential: ${CREDENTIAL:0:60}..."
echo "sub: $(echo "$CREDENTIAL" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null | grep -o '"sub":"[^"]*"' || true)"

step "7. The code is single use"
curl -s -X POST "$BASE/oid4vci/token" --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code" \
  --data-urlencode "pre-authorized_code=$CODE" --data-urlencode "tx_code=$TX_CODE"; echo

step "8. agentcert wallet receive runs the whole flow"
curl -s -X POST "$BASE/v1/offers" -H "Authorization: Bearer $ISSUER_TOKEN" -H 'Content-Type: application/json' --data @offer.json > offer2.json
"$AC" wallet receive "$(field offer_uri_link < offer2.json)" --key agent.jwk --tx-code "$(field tx_code < offer2.json)" --out received.txt
"$AC" present --credential received.txt --key agent.jwk --aud https://invoices.example --nonce n-1 --disclose /permissions/0 > presentation.txt
"$AC" verify --config oid4vci.yaml --presentation presentation.txt --aud https://invoices.example --nonce n-1 --trust "$ISSUER_DID" --action invoices:read > verify.txt
grep -E '^(VERIFIED|action:)' verify.txt

step "oid4vci example complete"
