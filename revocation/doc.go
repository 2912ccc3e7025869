// Package revocation implements agentcert's status lists: the IETF Token
// Status List (draft-ietf-oauth-status-list) that credentials reference in
// status.status_list {idx, uri}, its W3C Bitstring Status List v1.0 view,
// and the verifier-side client that fetches, verifies and caches lists.
//
// # Lists
//
// A List is an array of 1, 2, 4 or 8-bit entries. agentcert uses 2 bits:
// StatusValid (0), StatusRevoked (1, final) and StatusSuspended (2).
//
//	l, _ := revocation.NewList(1<<20, 2)
//	_ = l.Set(42, revocation.StatusRevoked)
//	v, _ := l.Get(42) // 1
//
// Two encodings, with opposite bit orders (never mix them):
//
//   - IETF (EncodeIETF, DecodeIETF): ZLIB, base64url without padding, entry
//     0 in the least significant bit of byte 0.
//   - W3C (EncodeW3C, DecodeW3C): 1 bit per entry, GZIP, multibase "u" +
//     base64url, entry 0 in the most significant bit of byte 0, at least
//     MinW3CEntries (131,072) entries. A multi-bit list is rendered once per
//     status purpose with Project: "revocation" = entries equal to 1,
//     "suspension" = entries equal to 2.
//
// Decoders inflate at most maxBytes+1 bytes and refuse anything larger with
// too_large, so a zip bomb costs no more memory than an honest list.
// Compressed strings are not canonical: compare decoded lists, not strings.
//
// # Tokens
//
// The issuer publishes each list as a Status List Token (SignToken: a JWT
// with typ statuslist+jwt, sub = the list's own URI, iss, iat, exp, ttl in
// seconds, status_list {bits, lst}) and, per purpose, as a W3C
// BitstringStatusListCredential secured as vc+jwt (SignW3C; its ttl is in
// milliseconds). VerifyToken checks a token step by step: size, form, typ,
// crit, algorithm allow-list (ES256 and EdDSA by default), the issuer's key,
// the signature, then iss, sub, iat, exp and the list itself, each failure
// with its own errcode.
//
// # Client
//
// Verifiers use a Client:
//
//	c := revocation.NewClient(revocation.ClientOptions{
//		Fetch:  fetcher.Fetch,         // the did package's guarded fetcher
//		Key:    keyFunc,               // the same issuer key resolution as the credential
//		MaxAge: policy.MaxStatusAge,   // DefaultMaxStatusAge (5m) unless set; 0 = always fetch
//	})
//	st, err := c.Status(ctx, ref, credentialIssuer)
//
// The list token must be signed by the credential's issuer (iss and key),
// name ref.URI as sub, and not be expired. Any failure to fetch or verify it
// yields status_unavailable (fail closed), wrapping the cause; an idx outside
// the list yields status_invalid. Status carries the list's iat (AsOf),
// the fetch time (FetchedAt) and when the answer stops being usable
// (UsableUntil: exp, or FetchedAt + ttl), so freshness is stated, not
// hidden, and a caller that keeps the answer keeps it no longer. A list is
// cached while now < min(fetched + MaxAge, fetched + ttl, exp); concurrent
// lookups of one list share one fetch, and the cache is bounded (LRU).
// Mapping values 1 and 2 to the revoked and suspended codes is the
// verifier's job.
package revocation
