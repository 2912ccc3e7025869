// oid4vci-wallet.mjs runs the OpenID4VCI 1.0 pre-authorized code flow as a
// wallet, with the independent client of the OpenWallet Foundation
// (@openid4vc/openid4vci), against agentcert's issuer, for agentcert's interop
// tests (package interop). It reads one JSON request on stdin and writes one
// JSON answer on stdout:
//
//   node oid4vci-wallet.mjs receive < request.json
//
//   receive {offer, tx_code?, holders: [private JWK, ...]}
//   -> {ok: true, credential_issuer, configuration_id, batch_size, credentials: [...]}
//   -> {ok: false, stage, error}   (the flow failed at stage: offer, metadata, token, nonce, credential)
//
// One jwt proof per holder key (in its jwk header), one nonce for the batch.
// Plain http is allowed because the tests run the issuer on a loopback port.

import { createHash, randomBytes } from 'node:crypto';
import { CompactSign, importJWK } from 'jose';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { clientAuthenticationAnonymous } from '@openid4vc/oauth2';
import { setGlobalConfig } from '@openid4vc/utils';

setGlobalConfig({ allowInsecureUrls: true });

function publicOf(jwk) {
  const { d, ...pub } = jwk;
  return pub;
}

function sameKey(a, b) {
  return a.kty === b.kty && a.crv === b.crv && a.x === b.x && (a.y ?? '') === (b.y ?? '');
}

async function main() {
  if (process.argv[2] !== 'receive') throw new Error(`unknown command ${process.argv[2]}; use receive`);
  const req = JSON.parse(await new Promise((res) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => res(s));
  }));
  const holders = req.holders;
  const client = new Openid4vciClient({
    callbacks: {
      fetch,
      hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase()).update(data).digest()),
      generateRandom: (n) => new Uint8Array(randomBytes(n)),
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async (signer, { header, payload }) => {
        const priv = holders.find((h) => signer.method === 'jwk' && sameKey(h, signer.publicJwk));
        if (!priv) throw new Error('no private key for the signer');
        const key = await importJWK(priv, signer.alg);
        const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
        return { jwt, signerJwk: publicOf(priv) };
      },
    },
  });
  let stage = 'offer';
  try {
    const offer = await client.resolveCredentialOffer(req.offer);
    stage = 'metadata';
    const md = await client.resolveIssuerMetadata(offer.credential_issuer);
    const configurationId = offer.credential_configuration_ids[0];
    stage = 'token';
    const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer, issuerMetadata: md, txCode: req.tx_code,
    });
    stage = 'nonce';
    const { c_nonce } = await client.requestNonce({ issuerMetadata: md });
    stage = 'credential';
    const jwts = [];
    for (const h of holders) {
      const { jwt } = await client.createCredentialRequestJwtProof({
        issuerMetadata: md, credentialConfigurationId: configurationId, nonce: c_nonce,
        signer: { method: 'jwk', alg: 'ES256', publicJwk: publicOf(h) },
      });
      jwts.push(jwt);
    }
    const res = await client.retrieveCredentials({
      issuerMetadata: md, accessToken: accessTokenResponse.access_token, credentialConfigurationId: configurationId,
      proofs: { jwt: jwts },
    });
    const credentials = (res.credentialResponse.credentials ?? []).map((c) => (typeof c === 'string' ? c : c.credential));
    return {
      ok: true, credential_issuer: md.credentialIssuer.credential_issuer, configuration_id: configurationId,
      batch_size: md.credentialIssuer.batch_credential_issuance?.batch_size ?? 0,
      version: md.originalDraftVersion, credentials,
    };
  } catch (e) {
    const body = e?.response?.body ?? e?.errorResponse ?? e?.credentialErrorResponseResult ?? null;
    return { ok: false, stage, error: `${e?.message ?? e} ${body ? JSON.stringify(body) : ''}` };
  }
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + '\n'),
  (e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    process.exit(2);
  },
);
