package receipt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jsonstrict"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// KeyFunc returns the public key of verifier iss named by kid.
type KeyFunc func(ctx context.Context, iss, kid string) (jwk.Key, error)

// DIDKeys finds a verifier's key in its DID document: kid must be one of
// the document's verification methods (a did:web verifier lists its receipt
// key there; a did:key verifier's key is its DID).
func DIDKeys(r did.Resolver) KeyFunc {
	return func(ctx context.Context, _, kid string) (jwk.Key, error) {
		return did.MethodKey(ctx, r, kid)
	}
}

// StaticKey always returns k (agentcert receipt verify --jwk).
func StaticKey(k jwk.Key) KeyFunc {
	return func(context.Context, string, string) (jwk.Key, error) { return k, nil }
}

// VerifyOptions say how to check a receipt.
type VerifyOptions struct {
	Keys KeyFunc // required
	// Verifier, when set, is the only accepted iss.
	Verifier string
	// Algorithms is the allow-list (default ES256, EdDSA).
	Algorithms []jwa.SignatureAlgorithm
}

// Verify checks a compact receipt: typ, alg allow-list, a kid that is a
// DID URL of iss, the signature with the key Keys returns (its own alg,
// never the header's alone), and the claims. It returns the claims.
//
// Errors: receipt_malformed, receipt_bad_signature, receipt_key_unavailable
// (wrapping the cause).
func Verify(ctx context.Context, receipt string, o VerifyOptions) (*Claims, error) {
	if o.Keys == nil {
		return nil, errcode.New(errcode.Internal, "receipt: Verify needs a key function")
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}
	}
	malformed := func(f string, a ...any) error { return errcode.New(errcode.ReceiptMalformed, f, a...) }
	if len(receipt) > MaxReceiptBytes {
		return nil, malformed("a receipt is at most %d bytes", MaxReceiptBytes)
	}
	parts := strings.Split(receipt, ".")
	if len(parts) != 3 || parts[2] == "" {
		return nil, malformed("a receipt is a compact JWS (three parts)")
	}
	msg, err := jws.Parse([]byte(receipt))
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, malformed("the receipt does not parse as a compact JWS")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if hdr.Type() != Typ {
		return nil, malformed("typ is %q, not %q", hdr.Type(), Typ)
	}
	if !slices.Contains(algs, hdr.Algorithm()) {
		return nil, malformed("alg %q is not allowed", hdr.Algorithm())
	}
	if len(hdr.Critical()) > 0 {
		return nil, malformed("the receipt names critical extensions")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, malformed("the payload is not base64url")
	}
	// A member given twice or in two cases would read differently in
	// other tools (an auditor's): such a receipt is malformed.
	if err := jsonstrict.Check(payload); err != nil {
		return nil, malformed("the payload is not plain JSON: %s", err)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || dec.More() {
		return nil, malformed("the payload is not a receipt's JSON")
	}
	if !strings.HasPrefix(c.Issuer, "did:") || (o.Verifier != "" && c.Issuer != o.Verifier) {
		return nil, malformed("the receipt's iss %q is not the expected verifier", c.Issuer)
	}
	kid := hdr.KeyID()
	if !strings.HasPrefix(kid, c.Issuer+"#") {
		return nil, malformed("kid %q is not a DID URL of the receipt's iss %s", kid, c.Issuer)
	}
	key, err := o.Keys(ctx, c.Issuer, kid)
	if err != nil {
		return nil, errcode.Wrap(errcode.ReceiptKeyUnavailable, err, "the key %s could not be obtained", kid)
	}
	alg, err := keyutil.AlgOf(key)
	if err != nil {
		return nil, errcode.Wrap(errcode.ReceiptKeyUnavailable, err, "the key %s is not a receipt key", kid)
	}
	if alg != hdr.Algorithm() {
		return nil, errcode.New(errcode.ReceiptBadSignature, "the receipt's alg %s is not its key's (%s)", hdr.Algorithm(), alg)
	}
	if _, err := jws.Verify([]byte(receipt), jws.WithKey(alg, key)); err != nil {
		return nil, errcode.Wrap(errcode.ReceiptBadSignature, err, "the receipt's signature does not verify with %s", kid)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Unverified decodes the claims of a receipt without checking its
// signature: for a receipt this process has just signed (to log it), never
// for one received.
func Unverified(receipt string) (*Claims, error) {
	parts := strings.Split(receipt, ".")
	if len(parts) != 3 {
		return nil, errcode.New(errcode.ReceiptMalformed, "a receipt is a compact JWS (three parts)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errcode.New(errcode.ReceiptMalformed, "the payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errcode.New(errcode.ReceiptMalformed, "the payload is not a receipt's JSON")
	}
	return &c, nil
}
