// sdjwt-tool.mjs drives the independent SD-JWT implementation
// (@sd-jwt/sd-jwt-vc, @sd-jwt/jwt-status-list, jose) for agentcert's interop
// tests (package interop). It reads one JSON request on stdin and writes one
// JSON answer on stdout:
//
//   node sdjwt-tool.mjs COMMAND < request.json
//
// Commands:
//   issue        {issuer_jwk, kid, payload, frame}               -> {credential}
//   present      {credential, frame, holder_jwk, aud, nonce, iat} -> {presentation}
//   verify       {presentation, issuer_jwk, aud, nonce, now, max_kb_age, status_jwk?}
//                -> {library: {ok, error, payload, kb}, harness: {ok, errors}}
//   kb           {presentation, holder_jwk, aud, nonce, iat, sd_hash_input?} -> {presentation}
//   lst-encode   {bits, size, set: [[idx, value], ...]}            -> {lst}
//   lst-decode   {bits, lst, idx: [...]}                            -> {values}
//   status-token {token, issuer_jwk, idx: [...]}                   -> {header, payload, values}
//   receipt      {receipt, did_document, verifier, presentation}
//                -> {ok, error, header, payload, reference}
//
// "library" is what sd-jwt-js itself decides. "harness" adds the checks
// sd-jwt-js leaves to its caller (see docs/interop.md): the issuer typ, the
// KB-JWT aud and iat age, and repeated disclosures. Exit status 0 means the
// command ran (its verdict is in the JSON); 2 means a bad request.

import { createHash } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { StatusList, getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { Jwt } from '@sd-jwt/core';
import { SignJWT, compactVerify, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';

// publicOf drops the private member of an EC or OKP JWK.
function publicOf(jwk) {
  const { d, ...pub } = jwk;
  return pub;
}

function algOf(jwk) {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'ES256';
}

// verifierFor returns an sd-jwt-js Verifier for a public JWK (jose checks the
// signature over "header.payload").
function verifierFor(jwk) {
  const alg = algOf(jwk);
  return async (data, sig) => {
    try {
      const key = await importJWK(publicOf(jwk), alg);
      await compactVerify(`${data}.${sig}`, key, { algorithms: [alg] });
      return true;
    } catch {
      return false;
    }
  };
}

// signerFor returns an sd-jwt-js Signer for a private ES256 JWK.
async function signerFor(jwk) {
  if (algOf(jwk) !== 'ES256') throw new Error(`only ES256 signing keys, got ${algOf(jwk)}`);
  const { kid, alg, ...bare } = jwk;
  return ES256.getSigner(bare);
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

async function instance(cfg) {
  return new SDJwtVcInstance({ hasher: digest, saltGenerator: generateSalt, ...cfg });
}

const commands = {
  // receipt checks an agentcert verification receipt with jose alone: the
  // key is the verification method its kid names in the verifier's DID
  // document; typ, alg allow-list and iss are enforced by jwtVerify. It
  // also computes the reference of the presentation the way the receipt
  // claims it (SHA-256 of the SD-JWT through its last '~', base64url).
  async receipt(req) {
    const out = { ok: false };
    const sdjwt = req.presentation.slice(0, req.presentation.lastIndexOf('~') + 1);
    out.reference = b64url(createHash('sha256').update(sdjwt, 'ascii').digest());
    try {
      const header = decodeProtectedHeader(req.receipt);
      out.header = header;
      const vm = (req.did_document.verificationMethod ?? []).find((m) => m.id === header.kid);
      if (!vm) throw new Error(`no verification method ${header.kid}`);
      const key = await importJWK(vm.publicKeyJwk, header.alg);
      const { payload } = await jwtVerify(req.receipt, key, {
        algorithms: ['ES256', 'EdDSA'],
        typ: 'agentcert-receipt+jwt',
        issuer: req.verifier,
      });
      Object.assign(out, { ok: true, payload });
    } catch (e) {
      out.error = e.code ?? e.message;
    }
    return out;
  },

  async issue(req) {
    const sd = await instance({ signer: await signerFor(req.issuer_jwk), signAlg: 'ES256' });
    const credential = await sd.issue(req.payload, req.frame, { header: { kid: req.kid } });
    return { credential };
  },

  async present(req) {
    const sd = await instance({ kbSigner: await signerFor(req.holder_jwk), kbSignAlg: 'ES256' });
    const presentation = await sd.present(req.credential, req.frame, {
      kb: { payload: { iat: req.iat, aud: req.aud, nonce: req.nonce } },
    });
    return { presentation };
  },

  // kb signs a KB-JWT over a presentation that has none, with sd_hash over
  // sd_hash_input when given (tests use it to build a wrong sd_hash).
  async kb(req) {
    const input = req.sd_hash_input ?? req.presentation;
    const sdHash = b64url(createHash('sha256').update(input, 'ascii').digest());
    const { kid, alg, ...bare } = req.holder_jwk;
    const key = await importJWK(bare, 'ES256');
    const jwt = await new SignJWT({ iat: req.iat, aud: req.aud, nonce: req.nonce, sd_hash: sdHash })
      .setProtectedHeader({ alg: 'ES256', typ: 'kb+jwt' })
      .sign(key);
    return { presentation: req.presentation + jwt };
  },

  async verify(req) {
    const statusJWK = req.status_jwk ?? req.issuer_jwk;
    const sd = await instance({
      verifier: verifierFor(req.issuer_jwk),
      statusVerifier: verifierFor(statusJWK),
      // The KB-JWT is checked with the holder key the credential names.
      kbVerifier: async (data, sig, payload) => {
        const jwk = payload?.cnf?.jwk;
        if (!jwk) return false;
        return verifierFor(jwk)(data, sig);
      },
    });
    const library = { ok: false };
    try {
      const res = await sd.verify(req.presentation, {
        keyBindingNonce: req.nonce,
        currentDate: req.now,
        disableStatusVerification: !!req.no_status,
      });
      Object.assign(library, { ok: true, payload: res.payload, kb: res.kb?.payload ?? null, header: res.header });
    } catch (e) {
      library.error = e?.message ?? String(e);
    }
    const errors = library.ok ? harnessChecks(req, library) : [library.error];
    return { library, harness: { ok: errors.length === 0, errors } };
  },

  async 'lst-encode'(req) {
    const list = new StatusList(new Array(req.size).fill(0), req.bits);
    for (const [idx, value] of req.set) list.setStatus(idx, value);
    return { lst: list.compressStatusList() };
  },

  async 'lst-decode'(req) {
    const list = StatusList.decompressStatusList(req.lst, req.bits);
    return { values: req.idx.map((i) => list.getStatus(i)) };
  },

  // status-token verifies a Status List Token with the issuer key and reads
  // entries through @sd-jwt/jwt-status-list.
  async 'status-token'(req) {
    const jwt = Jwt.fromEncode(req.token);
    await jwt.verify(verifierFor(req.issuer_jwk));
    const list = getListFromStatusListJWT(req.token);
    return { header: jwt.header, payload: jwt.payload, values: req.idx.map((i) => list.getStatus(i)) };
  },
};

// harnessChecks are the checks a verifier must add to sd-jwt-js 0.20.
function harnessChecks(req, library) {
  const errors = [];
  const typ = library.header?.typ;
  if (typ !== 'dc+sd-jwt' && typ !== 'vc+sd-jwt') errors.push(`issuer JWT typ ${typ}`);
  const parts = req.presentation.split('~');
  const disclosures = parts.slice(1, -1);
  if (new Set(disclosures).size !== disclosures.length) errors.push('repeated disclosure');
  const kb = library.kb;
  if (!kb) {
    errors.push('no KB-JWT');
  } else {
    if (kb.aud !== req.aud) errors.push(`KB-JWT aud ${kb.aud}, want ${req.aud}`);
    const now = req.now ?? Math.floor(Date.now() / 1000);
    if (typeof kb.iat !== 'number' || kb.iat > now + 30 || now - kb.iat > req.max_kb_age) {
      errors.push(`KB-JWT iat ${kb.iat} outside [now-${req.max_kb_age}s, now+30s]`);
    }
  }
  return errors;
}

async function main() {
  const cmd = commands[process.argv[2]];
  if (!cmd) {
    process.stderr.write(`usage: node sdjwt-tool.mjs ${Object.keys(commands).join('|')} < request.json\n`);
    process.exit(2);
  }
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  let req;
  try {
    req = JSON.parse(input);
  } catch (e) {
    process.stderr.write(`request is not JSON: ${e.message}\n`);
    process.exit(2);
  }
  const out = await cmd(req);
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
