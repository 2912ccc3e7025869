// httpsig-tool.mjs drives the independent HTTP Message Signatures
// implementation (npm http-message-signatures, RFC 9421) for agentcert's
// interop tests (package interop). It reads one JSON request on stdin and
// writes one JSON answer on stdout:
//
//   node httpsig-tool.mjs COMMAND < request.json
//
// Commands:
//   verify {method, url, headers, public_jwk, alg}
//          -> {verified, keyid, error}
//   send   {method, url, headers, body, private_jwk, alg, keyid, label, fields, created, expires, nonce, tag}
//          signs the request with the library and sends it with fetch
//          -> {status, headers, body, signature_input, signature}
//
// Times are Unix seconds. Exit status 0 means the command ran (its verdict
// is in the JSON); 2 means a bad request.

import { createPublicKey, createPrivateKey } from 'node:crypto';
import { httpbis, createSigner, createVerifier } from 'http-message-signatures';

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function verify(req) {
  const key = createPublicKey({ key: req.public_jwk, format: 'jwk' });
  let keyid = null;
  const message = { method: req.method, url: req.url, headers: req.headers };
  try {
    const verified = await httpbis.verifyMessage({
      keyLookup: async (params) => {
        keyid = params.keyid ?? null;
        return { id: params.keyid, algs: [req.alg], verify: createVerifier(key, req.alg) };
      },
      tolerance: 60,
    }, message);
    return { verified, keyid, error: null };
  } catch (e) {
    return { verified: false, keyid, error: String(e && e.message || e) };
  }
}

async function send(req) {
  const key = createPrivateKey({ key: req.private_jwk, format: 'jwk' });
  const headers = { ...req.headers };
  const message = { method: req.method, url: req.url, headers };
  const paramValues = {};
  const params = [];
  for (const p of ['created', 'expires', 'nonce', 'alg', 'keyid', 'tag']) {
    const v = p === 'alg' ? req.alg : req[p];
    if (v === undefined || v === null) continue;
    params.push(p);
    paramValues[p] = (p === 'created' || p === 'expires') ? new Date(v * 1000) : v;
  }
  const signed = await httpbis.signMessage({
    key: createSigner(key, req.alg, req.keyid),
    name: req.label || 'sig1',
    fields: req.fields,
    params,
    paramValues,
  }, message);
  const resp = await fetch(req.url, {
    method: req.method,
    headers: signed.headers,
    body: req.body === undefined || req.body === '' ? undefined : req.body,
  });
  const out = {};
  resp.headers.forEach((v, k) => { out[k] = v; });
  return {
    status: resp.status,
    headers: out,
    body: await resp.text(),
    signature_input: signed.headers['Signature-Input'],
    signature: signed.headers['Signature'],
  };
}

const commands = { verify, send };

const cmd = process.argv[2];
if (!commands[cmd]) {
  process.stderr.write(`unknown command ${cmd}\n`);
  process.exit(2);
}
try {
  const req = await readStdin();
  process.stdout.write(JSON.stringify(await commands[cmd](req)));
} catch (e) {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(2);
}
