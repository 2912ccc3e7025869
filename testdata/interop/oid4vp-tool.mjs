// oid4vp-tool.mjs drives OpenID for Verifiable Presentations 1.0 with the
// independent implementation of the OpenWallet Foundation
// (@openid4vc/openid4vp) and sd-jwt-js, for agentcert's interop tests
// (package interop). It reads one JSON request on stdin.
//
//   node oid4vp-tool.mjs wallet < request.json
//     {link, credential, holder (private ES256 JWK), frame, issuer_jwk}
//     The library's client resolves agentcert's request (request_uri, the
//     request object's signature checked with the verifier's DID document),
//     sd-jwt-js presents the credential with the disclosure frame and a
//     KB-JWT (aud the client_id, nonce, transaction_data_hashes), and the
//     library builds (direct_post.jwt: encrypts) and submits the response.
//     -> {ok, stage?, error?, client_id, status, body, transaction_data}
//
//   node oid4vp-tool.mjs verifier < request.json
//     {signer (private ES256 JWK), signer_did, response_mode, dcql_query,
//      transaction_data?: [objects], issuer_jwk}
//     Serves a request object signed by the library's verifier under
//     decentralized_identifier:<signer_did> on a loopback port, prints
//     {link} on a line of its own, waits for the wallet's response, checks it
//     with the library (parse, decrypt, state, transaction data) and
//     sd-jwt-js (issuer signature, key binding aud and nonce), answers the
//     wallet, and prints {ok, error?, claims, kb, transaction_data_verified}.
//
// Plain http is allowed because the tests run on loopback.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { CompactEncrypt, CompactSign, compactDecrypt, compactVerify, exportJWK, generateKeyPair, importJWK } from 'jose';
import { Openid4vpClient, Openid4vpVerifier } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';

setGlobalConfig({ allowInsecureUrls: true });

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const hash = (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase()).update(data).digest());

function publicOf(jwk) {
  const { d, ...pub } = jwk;
  return pub;
}

function algOf(jwk) {
  if (jwk.alg && jwk.alg !== 'ECDH-ES') return jwk.alg;
  return jwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
}

function verifierFor(jwk) {
  return async (data, sig) => {
    try {
      await compactVerify(`${data}.${sig}`, await importJWK(publicOf(jwk), algOf(jwk)), { algorithms: [algOf(jwk)] });
      return true;
    } catch {
      return false;
    }
  };
}

// didDocument resolves did:web (over http on loopback, as the tests run it)
// and did:jwk; did:key P-256 keys are not needed by the tests.
async function didDocument(did) {
  if (did.startsWith('did:web:')) {
    const host = decodeURIComponent(did.slice('did:web:'.length).split(':')[0]);
    const res = await fetch(`http://${host}/.well-known/did.json`);
    if (!res.ok) throw new Error(`did:web ${did}: status ${res.status}`);
    return res.json();
  }
  if (did.startsWith('did:jwk:')) {
    const jwk = JSON.parse(Buffer.from(did.slice('did:jwk:'.length), 'base64url').toString());
    return { id: did, verificationMethod: [{ id: `${did}#0`, publicKeyJwk: jwk }] };
  }
  throw new Error(`unsupported DID ${did}`);
}

async function verifyJwt(signer, { header, compact }) {
  try {
    let jwk = signer.publicJwk;
    if (signer.method === 'did') {
      const did = signer.didUrl.split('#')[0];
      const doc = await didDocument(did);
      const vm = (doc.verificationMethod ?? []).find((m) => m.id === signer.didUrl || `${did}${m.id}` === signer.didUrl);
      if (!vm) return { verified: false };
      jwk = vm.publicKeyJwk;
    }
    await compactVerify(compact, await importJWK(publicOf(jwk), header.alg), { algorithms: [header.alg] });
    return { verified: true, signerJwk: jwk };
  } catch {
    return { verified: false };
  }
}

async function encryptJwe(encryptor, data) {
  const key = await importJWK(encryptor.publicJwk, 'ECDH-ES');
  const header = { alg: encryptor.alg ?? 'ECDH-ES', enc: encryptor.enc };
  if (encryptor.publicJwk.kid) header.kid = encryptor.publicJwk.kid;
  const kdf = {};
  if (encryptor.apu) kdf.apu = Buffer.from(encryptor.apu, 'base64url');
  if (encryptor.apv) kdf.apv = Buffer.from(encryptor.apv, 'base64url');
  const jwe = await new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(header).setKeyManagementParameters(kdf).encrypt(key);
  return { jwe, encryptionJwk: encryptor.publicJwk };
}

async function readStdin() {
  return JSON.parse(await new Promise((res) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => res(s));
  }));
}

async function wallet(req) {
  const out = { ok: false };
  let stage = 'resolve';
  try {
    const client = new Openid4vpClient({ callbacks: { fetch, hash, verifyJwt, encryptJwe, generateRandom: (n) => new Uint8Array(randomBytes(n)) } });
    const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: req.link });
    const resolved = await client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params });
    const ar = resolved.authorizationRequestPayload;
    out.client_id = ar.client_id;
    out.client_prefix = resolved.client.prefix;
    out.signed = !!resolved.jar;
    out.transaction_data = (resolved.transactionData ?? []).map((t) => t.transactionData);
    stage = 'present';
    const queryId = resolved.dcql.query.credentials[0].id;
    const hashes = (resolved.transactionData ?? [])
      .filter((t) => t.transactionData.credential_ids.includes(queryId))
      .map((t) => b64url(createHash('sha256').update(t.encoded, 'ascii').digest()));
    const { kid, alg, ...bare } = req.holder;
    const sd = new SDJwtVcInstance({ hasher: digest, saltGenerator: generateSalt, kbSigner: await ES256.getSigner(bare), kbSignAlg: 'ES256' });
    const kb = { iat: Math.floor(Date.now() / 1000), aud: ar.client_id, nonce: ar.nonce };
    if (hashes.length > 0) Object.assign(kb, { transaction_data_hashes: hashes, transaction_data_hashes_alg: 'sha-256' });
    const presentation = await sd.present(req.credential, req.frame, { kb: { payload: kb } });
    stage = 'respond';
    const jwt = ar.response_mode === 'direct_post.jwt';
    const response = await client.createOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: ar,
      authorizationResponsePayload: { vp_token: { [queryId]: [presentation] } },
      ...(jwt ? { jarm: { encryption: { nonce: b64url(randomBytes(16)) }, serverMetadata: {
        authorization_signing_alg_values_supported: ['ES256'],
        authorization_encryption_alg_values_supported: ['ECDH-ES'],
        authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
      } } } : {}),
    });
    stage = 'submit';
    const submitted = await client.submitOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: ar, authorizationResponsePayload: response.authorizationResponsePayload, jarm: response.jarm,
    });
    out.status = submitted.response.status;
    out.body = await submitted.response.text();
    out.encrypted = !!response.jarm;
    out.ok = submitted.response.ok;
  } catch (e) {
    Object.assign(out, { stage, error: e?.message ?? String(e) });
  }
  return out;
}

async function verifier(req) {
  const callbacks = {
      fetch, hash, verifyJwt,
      signJwt: async (signer, { header, payload }) => {
        const key = await importJWK(req.signer, 'ES256');
        const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key);
        return { jwt, signerJwk: publicOf(req.signer) };
      },
      decryptJwe: async (jwe) => {
        try {
          const { plaintext } = await compactDecrypt(jwe, encKey.privateKey);
          return { decrypted: true, decryptionJwk: encJwk, payload: new TextDecoder().decode(plaintext) };
        } catch {
          return { decrypted: false };
        }
      },
  };
  const verifierLib = new Openid4vpVerifier({ callbacks });
  const encKey = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  const encJwk = { ...(await exportJWK(encKey.publicKey)), kid: 'enc-1', use: 'enc', alg: 'ECDH-ES' };
  const server = http.createServer();
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const base = `http://127.0.0.1:${server.address().port}`;
  const clientId = `decentralized_identifier:${req.signer_did}`;
  const nonce = b64url(randomBytes(16));
  const state = b64url(randomBytes(16));
  const transactionData = (req.transaction_data ?? []).map((t) => b64url(Buffer.from(JSON.stringify(t))));
  const payload = {
    response_type: 'vp_token', client_id: clientId, response_mode: req.response_mode, response_uri: `${base}/response`,
    nonce, state, dcql_query: req.dcql_query,
    client_metadata: {
      vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256'], 'kb-jwt_alg_values': ['ES256'] } },
      ...(req.response_mode === 'direct_post.jwt' ? { jwks: { keys: [encJwk] }, encrypted_response_enc_values_supported: ['A128GCM'] } : {}),
    },
    ...(transactionData.length > 0 ? { transaction_data: transactionData } : {}),
  };
  const created = await verifierLib.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: payload,
    jar: { requestUri: `${base}/request`, jwtSigner: { method: 'did', didUrl: req.signer.kid, alg: 'ES256' }, expiresInSeconds: 300 },
  });
  const requestJwt = created.jar.authorizationRequestJwt;
  const done = new Promise((resolve) => {
    server.on('request', async (r, w) => {
      if (r.method === 'GET' && r.url === '/request') {
        w.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt' }).end(requestJwt);
        return;
      }
      if (r.method !== 'POST' || r.url !== '/response') {
        w.writeHead(404).end();
        return;
      }
      let body = '';
      for await (const c of r) body += c;
      const out = { ok: false };
      try {
        const form = Object.fromEntries(new URLSearchParams(body));
        const parsed = await verifierLib.parseOpenid4vpAuthorizationResponse({
          authorizationResponse: form, authorizationRequestPayload: created.authorizationRequestPayload, callbacks,
        });
        if (parsed.authorizationResponsePayload.state !== state) throw new Error('state mismatch');
        out.encrypted = !!parsed.jarm;
        const [queryId] = Object.keys(parsed.dcql.presentations);
        const presentation = parsed.dcql.presentations[queryId][0];
        const sd = new SDJwtVcInstance({
          hasher: digest, saltGenerator: generateSalt, verifier: verifierFor(req.issuer_jwk), statusVerifier: verifierFor(req.issuer_jwk),
          kbVerifier: async (data, sig, p) => (p?.cnf?.jwk ? verifierFor(p.cnf.jwk)(data, sig) : false),
        });
        const res = await sd.verify(presentation, { keyBindingNonce: nonce });
        if (res.kb?.payload?.aud !== clientId) throw new Error(`KB aud ${res.kb?.payload?.aud} is not ${clientId}`);
        out.claims = res.payload;
        out.kb = res.kb.payload;
        if (transactionData.length > 0) {
          const verified = await verifierLib.verifyTransactionData({
            transactionData, credentials: { [queryId]: [res.kb.payload] },
          });
          out.transaction_data_verified = verified.length;
        }
        out.ok = true;
        w.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      } catch (e) {
        out.error = e?.message ?? String(e);
        w.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request', error_description: out.error }));
      }
      resolve(out);
    });
  });
  process.stdout.write(JSON.stringify({ link: created.authorizationRequest, client_id: clientId }) + '\n');
  const out = await done;
  server.close();
  return out;
}

async function main() {
  const cmd = process.argv[2];
  const req = await readStdin();
  let out;
  if (cmd === 'wallet') out = await wallet(req);
  else if (cmd === 'verifier') out = await verifier(req);
  else throw new Error(`unknown command ${cmd}; use wallet or verifier`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
