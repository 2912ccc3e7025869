package sdjwt

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"io"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/jose"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Header typ values of Delegate SD-JWT (draft-gco-oauth-delegate-sd-jwt).
const (
	// TypKBSD is a KB-SD-JWT: a hop whose delegate payload names no key, so
	// it ends a chain presented without a final KB-JWT (a dSD-JWT).
	TypKBSD = "kb+sd-jwt"
	// TypKBSDKB is a KB-SD-JWT+KB: a hop whose delegate payload carries
	// cnf, so the delegate can delegate further or add a final KB-JWT.
	TypKBSDKB = "kb+sd-jwt+kb"
)

// Claim names a KB-SD-JWT adds to a KB-JWT.
const (
	ClaimDelegatePayload = "delegate_payload"
	ClaimIssuerJWTHash   = "issuer_jwt_hash"
	ClaimSDHash          = "sd_hash"
)

// Link says how a hop is tied to the component before it.
type Link string

const (
	// LinkSDHash binds the hop to the preceding JWT and exactly the
	// disclosures sent with it (sd_hash): nobody down the chain can drop
	// or add one.
	LinkSDHash Link = "sd_hash"
	// LinkIssuerJWTHash binds the hop to the preceding JWT alone
	// (issuer_jwt_hash), so that a later presenter may choose which of the
	// preceding component's disclosures to send.
	LinkIssuerJWTHash Link = "issuer_jwt_hash"
)

// IsChain reports whether s looks like a Delegate SD-JWT: a compact SD-JWT
// followed by "~~" and a KB-SD-JWT. A plain SD-JWT never holds "~~" (an
// empty disclosure is malformed), so the two forms cannot be confused.
func IsChain(s string) bool { return strings.Contains(s, "~~") }

// Chain is a parsed, not yet verified, dSD-JWT or dSD-JWT+KB:
//
//	<SD-JWT>~<KB-SD-JWT 1>~...~<KB-SD-JWT n>~[<KB-JWT>]
//
// where every SD-JWT and KB-SD-JWT is "<JWT>~<D1>~...~<Dm>~", so that
// consecutive components are separated by an empty component ("~~").
type Chain struct {
	Root  *Token   // the issuer-signed SD-JWT (its KBJWT is empty)
	Hops  []*Token // the KB-SD-JWTs, in order; Hops[i].IssuerJWT is the hop's JWT
	KBJWT string   // the final KB-JWT of a dSD-JWT+KB; "" for a dSD-JWT
}

// ParseChain splits and decodes a dSD-JWT or dSD-JWT+KB without verifying
// anything. Failures: too_large (total size, or a component's disclosure
// count or JSON depth), delegation_malformed (no "~~", an empty component
// where a JWT belongs, a component that is not a compact JWS with JSON
// header and payload), delegation_depth (more than lim.MaxHops hops),
// disclosure_malformed.
func ParseChain(s string, lim Limits) (*Chain, error) {
	lim = lim.withDefaults()
	if len(s) > lim.MaxPresentationBytes {
		return nil, errcode.New(errcode.TooLarge, "delegation chain is %d bytes, more than %d", len(s), lim.MaxPresentationBytes)
	}
	if !IsChain(s) {
		return nil, errcode.New(errcode.DelegationMalformed, "not a delegation chain: no \"~~\" separates the SD-JWT from a KB-SD-JWT")
	}
	last := strings.LastIndexByte(s, '~')
	c := &Chain{KBJWT: s[last+1:]}
	// body without its final '~': components are separated by "~~".
	parts := strings.Split(s[:last], "~~")
	if n := len(parts) - 1; n > lim.MaxHops {
		return nil, errcode.New(errcode.DelegationDepth, "%d delegation hops, more than the limit of %d", n, lim.MaxHops)
	}
	comp := lim
	for i, p := range parts {
		if p == "" || strings.HasPrefix(p, "~") {
			return nil, errcode.New(errcode.DelegationMalformed, "component %d of the chain is empty", i)
		}
		t, err := Parse(p+"~", comp)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			if c := errcode.CodeOf(err); c == errcode.Malformed {
				return nil, errcode.Wrap(errcode.DelegationMalformed, err, "hop %d does not parse", i)
			}
			return nil, err
		}
		if i == 0 {
			c.Root = t
		} else {
			c.Hops = append(c.Hops, t)
		}
	}
	return c, nil
}

// ChainOptions configures VerifyChain. The embedded VerifyOptions apply to
// the root SD-JWT (IssuerKey, AcceptTyp, times) and to the final KB-JWT
// (RequireKB, Audience, Nonce, NonceCheck, MaxKBAge); Algorithms is the
// allow-list of every signature in the chain.
type ChainOptions struct {
	VerifyOptions
	// RootDelegatePayload says the root SD-JWT carries its claims in a
	// delegate_payload array of its own, as AP2 mandates signed directly by
	// a user or an agent provider do: exactly one element must be
	// disclosed, and its cnf.jwk signs the first hop.
	RootDelegatePayload bool
}

// Hop is one verified KB-SD-JWT.
type Hop struct {
	Header      map[string]any // protected header
	Payload     map[string]any // processed JWT payload (iat, aud, nonce, sd_hash or issuer_jwt_hash, delegate_payload)
	Delegate    map[string]any // the one disclosed delegate payload, processed: the hop's claims
	Disclosures []*Disclosure  // every disclosure sent with the hop
	Link        Link           // how the hop is tied to the component before it
	Key         jwk.Key        // the delegate's cnf.jwk, parsed; nil for a kb+sd-jwt hop
	// DelegatePayload is the delegate payload as disclosed, before its
	// own disclosures were applied (digests in place); do not modify it.
	DelegatePayload map[string]any
	// DelegateDisclosure is the disclosure that carried DelegatePayload,
	// its exact bytes in Raw; nil when the payload is in clear in the
	// hop's JWT.
	DelegateDisclosure *Disclosure
}

// ChainResult is a verified delegation chain.
type ChainResult struct {
	Root       *Result        // the issuer-signed SD-JWT, processed (its KeyBinding is the final KB-JWT's payload, if any)
	Hops       []*Hop         // in order; the last one holds the effective delegate
	KeyBinding map[string]any // the final KB-JWT payload, or nil for a dSD-JWT
	// RootDelegate is the root's own disclosed delegate payload when
	// ChainOptions.RootDelegatePayload is set, else nil.
	RootDelegate map[string]any
}

// VerifyChain runs every step of the draft's verification section on a
// dSD-JWT or dSD-JWT+KB:
//
//  1. ParseChain splits it into the SD-JWT, the KB-SD-JWTs and an optional
//     final KB-JWT.
//  2. The SD-JWT is verified and processed as by Verify (RFC 9901 section
//     7.1), without its own KB-JWT: the first KB-SD-JWT plays that role.
//  3. Each KB-SD-JWT is verified by VerifyHop against the component before
//     it: typ (kb+sd-jwt+kb for every hop but the last; the last one is
//     kb+sd-jwt for a dSD-JWT and kb+sd-jwt+kb for a dSD-JWT+KB), alg,
//     crit, the signature with the preceding cnf.jwk, the KB-JWT claims
//     iat, aud and nonce, the sd_hash or issuer_jwt_hash link, its
//     disclosures, exactly one disclosed delegate_payload element, and the
//     times (exp, nbf, iat) of that delegate payload.
//  4. A final KB-JWT is verified as an RFC 9901 KB-JWT with the last
//     delegate payload's cnf.jwk, its sd_hash over the last KB-SD-JWT and
//     its disclosures. Without one, opts.RequireKB gives kb_missing.
//
// Any failure stops processing; hop failures name the hop (1-based).
func VerifyChain(ctx context.Context, s string, opts ChainOptions) (*ChainResult, error) {
	c, err := ParseChain(s, opts.Limits)
	if err != nil {
		return nil, err
	}
	hdr, payload, err := c.Root.VerifyIssuer(ctx, opts.VerifyOptions)
	if err != nil {
		return nil, err
	}
	claims, byDigest, err := processDisclosures(payload, c.Root.Disclosures, c.Root.limits)
	if err != nil {
		return nil, err
	}
	// byDigest too: a caller checking which root claims are in clear
	// (Result.Disclosure) must see the disclosures the root was sent with.
	res := &ChainResult{Root: &Result{Header: hdr, Claims: claims, Disclosures: c.Root.Disclosures, IssuerPayload: payload, byDigest: byDigest}}
	prev, prevClaims := c.Root, claims
	if opts.RootDelegatePayload {
		list, _ := claims[ClaimDelegatePayload].([]any)
		if len(list) != 1 {
			return nil, errcode.New(errcode.DelegationPayloadCount, "the root discloses %d delegate_payload elements; exactly one must be", len(list))
		}
		m, ok := list[0].(map[string]any)
		if !ok {
			return nil, errcode.New(errcode.DelegationMalformed, "the root's delegate payload is not a JSON object")
		}
		res.RootDelegate, prevClaims = m, m
	}
	// Each key is parsed once: the one a hop names signs the next hop.
	rootClaims := prevClaims
	prevKey := func() (jwk.Key, error) { return HolderKey(rootClaims) }
	for i, t := range c.Hops {
		want := TypKBSDKB
		if i == len(c.Hops)-1 && c.KBJWT == "" {
			want = TypKBSD
		}
		h, err := verifyHop(t, prev, prevKey, want, opts.VerifyOptions)
		if err != nil {
			return nil, errcode.Prefix(err, "delegation hop %d", i+1)
		}
		res.Hops = append(res.Hops, h)
		prev, prevClaims = t, h.Delegate
		if h.Key != nil {
			k := h.Key
			prevKey = func() (jwk.Key, error) { return k, nil }
		} else {
			d := h.Delegate
			prevKey = func() (jwk.Key, error) { return HolderKey(d) }
		}
	}
	// The final KB-JWT: an RFC 9901 KB-JWT over the last KB-SD-JWT.
	final := &Token{KBJWT: c.KBJWT, sdHashInput: prev.sdHashInput, limits: prev.limits}
	kb, err := final.verifyKeyBinding(prevKey, opts.VerifyOptions)
	if err != nil {
		return nil, err
	}
	res.KeyBinding, res.Root.KeyBinding = kb, kb
	return res, nil
}

// VerifyHop verifies hop against the component before it: prev is the
// parsed preceding SD-JWT or KB-SD-JWT and prevClaims its processed claims
// (for a KB-SD-JWT, its delegate payload), whose cnf.jwk must have signed
// the hop. wantTyp is the typ the hop's position requires. Codes:
// delegation_wrong_typ, unsupported_alg, unknown_crit, kb_no_holder_key
// (prevClaims has no usable cnf.jwk), delegation_bad_signature,
// delegation_malformed (iat, aud or nonce missing; delegate_payload not an
// array of objects, or several elements not all disclosures),
// not_yet_valid (iat in the future), delegation_bad_link, the disclosure
// codes of ProcessDisclosures, delegation_payload_count, and expired /
// not_yet_valid for the delegate payload's times.
func VerifyHop(hop, prev *Token, prevClaims map[string]any, wantTyp string, opts VerifyOptions) (*Hop, error) {
	return verifyHop(hop, prev, func() (jwk.Key, error) { return HolderKey(prevClaims) }, wantTyp, opts)
}

// verifyHop is VerifyHop with the signer's key found by prevKey, called
// only once the hop's header has passed.
func verifyHop(hop, prev *Token, prevKey func() (jwk.Key, error), wantTyp string, opts VerifyOptions) (*Hop, error) {
	typ, _ := hop.header["typ"].(string)
	if !jose.TypIs(typ, wantTyp) {
		return nil, errcode.New(errcode.DelegationWrongTyp, "typ %q where %s is required", typ, wantTyp)
	}
	alg, _ := hop.header["alg"].(string)
	if !jose.Allowed(alg, opts.Algorithms) {
		return nil, errcode.New(errcode.UnsupportedAlg, "alg %q is not allowed", alg)
	}
	if _, ok := hop.header["crit"]; ok {
		return nil, errcode.New(errcode.UnknownCrit, "the KB-SD-JWT has a crit header")
	}
	holder, err := prevKey()
	if err != nil {
		return nil, errcode.Wrap(errcode.KBNoHolderKey, err, "the component before the hop names no usable cnf.jwk")
	}
	if err := jose.Verify(jwa.SignatureAlgorithm(alg), holder, []byte(hop.signingInput), hop.signature); err != nil {
		return nil, errcode.Wrap(errcode.DelegationBadSignature, err, "the hop is not signed by the cnf key of the component before it")
	}
	p := hop.payload
	iat, ok := jose.NumericDate(p["iat"])
	if !ok {
		return nil, errcode.New(errcode.DelegationMalformed, "the KB-SD-JWT iat is missing or not a NumericDate")
	}
	if opts.now().Add(opts.Leeway).Before(iat) {
		return nil, errcode.New(errcode.NotYetValid, "the KB-SD-JWT is issued in the future")
	}
	if aud, ok := p["aud"]; !ok || !nonEmptyAudience(aud) {
		return nil, errcode.New(errcode.DelegationMalformed, "the KB-SD-JWT aud is missing")
	}
	if n, _ := p["nonce"].(string); n == "" {
		return nil, errcode.New(errcode.DelegationMalformed, "the KB-SD-JWT nonce is missing")
	}
	link, err := checkLink(p, prev)
	if err != nil {
		return nil, err
	}
	raw, ok := p[ClaimDelegatePayload].([]any)
	if !ok {
		return nil, errcode.New(errcode.DelegationMalformed, "delegate_payload is missing or not an array")
	}
	if len(raw) > 1 {
		for i, e := range raw {
			if !isPlaceholder(e) {
				return nil, errcode.New(errcode.DelegationMalformed, "delegate_payload has %d elements and element %d is not a disclosure", len(raw), i)
			}
		}
	}
	processed, err := ProcessDisclosures(p, hop.Disclosures, hop.limits)
	if err != nil {
		return nil, err
	}
	list, _ := processed[ClaimDelegatePayload].([]any)
	if len(list) != 1 {
		return nil, errcode.New(errcode.DelegationPayloadCount, "%d delegate_payload elements are disclosed; exactly one must be", len(list))
	}
	delegate, ok := list[0].(map[string]any)
	if !ok {
		return nil, errcode.New(errcode.DelegationMalformed, "the delegate payload is not a JSON object")
	}
	if err := jose.CheckTimes(delegate, opts.now(), opts.Leeway, errcode.Malformed); err != nil {
		return nil, err
	}
	var key jwk.Key
	if wantTyp == TypKBSDKB {
		if key, err = HolderKey(delegate); err != nil {
			return nil, errcode.Wrap(errcode.KBNoHolderKey, err, "a %s hop's delegate payload must carry cnf.jwk", TypKBSDKB)
		}
	}
	dp, dd := rawDelegate(raw, hop.Disclosures)
	return &Hop{
		Header: hop.header, Payload: processed, Delegate: delegate, Disclosures: hop.Disclosures, Key: key,
		Link: link, DelegatePayload: dp, DelegateDisclosure: dd,
	}, nil
}

// checkLink verifies sd_hash (over the preceding JWT and its disclosures)
// and issuer_jwt_hash (over the preceding JWT alone); at least one must be
// present, and each one present must match.
func checkLink(p map[string]any, prev *Token) (Link, error) {
	sdv, hasSD := p[ClaimSDHash]
	ijv, hasIJ := p[ClaimIssuerJWTHash]
	if !hasSD && !hasIJ {
		return "", errcode.New(errcode.DelegationBadLink, "the hop has neither sd_hash nor issuer_jwt_hash")
	}
	link := LinkIssuerJWTHash
	if hasSD {
		got, _ := sdv.(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(SDHash(prev.sdHashInput))) != 1 {
			return "", errcode.New(errcode.DelegationBadLink, "sd_hash does not cover the component before the hop and its disclosures")
		}
		link = LinkSDHash
	}
	if hasIJ {
		got, _ := ijv.(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(SDHash(prev.IssuerJWT))) != 1 {
			return "", errcode.New(errcode.DelegationBadLink, "issuer_jwt_hash does not match the JWT before the hop")
		}
	}
	return link, nil
}

func isPlaceholder(e any) bool {
	m, ok := e.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, ok = m["..."].(string)
	return ok
}

// rawDelegate returns the delegate payload element as signed or disclosed,
// before its own nested disclosures are applied, and the disclosure that
// carried it (nil for an element in clear).
func rawDelegate(raw []any, ds []*Disclosure) (map[string]any, *Disclosure) {
	byDigest := make(map[string]*Disclosure, len(ds))
	for _, d := range ds {
		byDigest[d.Digest] = d
	}
	for _, e := range raw {
		if isPlaceholder(e) {
			if d, ok := byDigest[e.(map[string]any)["..."].(string)]; ok {
				m, _ := d.Value.(map[string]any)
				return m, d
			}
			continue
		}
		m, _ := e.(map[string]any)
		return m, nil
	}
	return nil, nil
}

func nonEmptyAudience(aud any) bool {
	switch a := aud.(type) {
	case string:
		return a != ""
	case []any:
		for _, e := range a {
			if s, ok := e.(string); !ok || s == "" {
				return false
			}
		}
		return len(a) > 0
	}
	return false
}

// DelegateOptions configures Delegate.
type DelegateOptions struct {
	// Key is the delegator's private key: the one named by cnf.jwk of the
	// credential or hop being delegated. ES256 or EdDSA.
	Key jwk.Key
	// Audience is the KB-SD-JWT aud; default: the delegate payload's sub.
	Audience string
	// Nonce is the KB-SD-JWT nonce; default: 128 random bits.
	Nonce string
	// IssuedAt is the KB-SD-JWT iat; zero = time.Now().
	IssuedAt time.Time
	// Link chooses sd_hash (the default) or issuer_jwt_hash.
	Link Link
	// Rand is the source of the salt and the default nonce; default crypto/rand.
	Rand io.Reader
}

// Delegate appends one KB-SD-JWT to prev and returns the longer dSD-JWT.
//
// prev is an SD-JWT without KB-JWT ("<JWT>~<D1>~...~<Dn>~", the
// disclosures the delegator chooses to pass on; with LinkSDHash they are
// fixed from now on) or a dSD-JWT whose last hop is a KB-SD-JWT+KB. payload
// becomes the single element of delegate_payload, sent as an array-element
// disclosure; it must follow the rules of an issuer payload (no _sd, ...,
// _sd_alg). The hop's typ is kb+sd-jwt+kb when payload carries cnf and
// kb+sd-jwt otherwise. opts.Key must be the private key of prev's holder
// (the cnf.jwk of the root, or of the last hop's delegate payload).
//
// Nothing in prev is verified beyond what finding the holder key needs:
// delegating does not make a bad credential good.
func Delegate(prev string, payload map[string]any, opts DelegateOptions) (string, error) {
	return delegate(prev, []map[string]any{payload}, opts)
}

func delegate(prev string, payloads []map[string]any, opts DelegateOptions) (string, error) {
	if len(payloads) == 0 {
		return "", errcode.New(errcode.InvalidInput, "no delegate payload")
	}
	alg, err := jose.SigningAlg(opts.Key)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(prev, "~") {
		return "", errcode.New(errcode.InvalidInput, "only an SD-JWT or dSD-JWT without a final KB-JWT can be delegated")
	}
	last, holderClaims, err := lastComponent(prev)
	if err != nil {
		return "", err
	}
	holder, err := HolderKey(holderClaims)
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "the credential being delegated names no holder key")
	}
	if !keyutil.SameKey(holder, opts.Key) {
		return "", errcode.New(errcode.InvalidInput, "the signing key is not the holder key (cnf.jwk) of the credential being delegated")
	}
	r := opts.Rand
	if r == nil {
		r = rand.Reader
	}
	b := &builder{rand: r}
	typ := ""
	elems := make([]any, 0, len(payloads))
	var discs []string
	for i, pl := range payloads {
		norm, err := Normalize(pl)
		if err != nil {
			return "", err
		}
		checked, _, err := b.buildPayload(norm, nil, 0) // refuses the reserved names
		if err != nil {
			return "", err
		}
		t := TypKBSD
		if _, ok := checked["cnf"]; ok {
			t = TypKBSDKB
		}
		if i > 0 && t != typ {
			return "", errcode.New(errcode.InvalidInput, "delegate payloads must all carry cnf, or none")
		}
		typ = t
		salt, err := b.random()
		if err != nil {
			return "", err
		}
		raw, err := newDisclosure(b64.EncodeToString(salt), "", true, checked)
		if err != nil {
			return "", err
		}
		discs = append(discs, raw)
		elems = append(elems, map[string]any{"...": SDHash(raw)})
	}
	aud := opts.Audience
	if aud == "" {
		aud, _ = payloads[0]["sub"].(string)
		if aud == "" {
			return "", errcode.New(errcode.InvalidInput, "no audience: set DelegateOptions.Audience or the payload's sub")
		}
	}
	nonce := opts.Nonce
	if nonce == "" {
		n, err := b.random()
		if err != nil {
			return "", err
		}
		nonce = b64.EncodeToString(n)
	}
	iat := opts.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	body := map[string]any{
		"iat": iat.Unix(), "aud": aud, "nonce": nonce,
		"_sd_alg": SDAlgSHA256, ClaimDelegatePayload: elems,
	}
	switch opts.Link {
	case "", LinkSDHash:
		body[ClaimSDHash] = SDHash(last.sdHashInput)
	case LinkIssuerJWTHash:
		body[ClaimIssuerJWTHash] = SDHash(last.IssuerJWT)
	default:
		return "", errcode.New(errcode.InvalidInput, "unknown link %q", opts.Link)
	}
	enc, err := marshalJSON(body)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "KB-SD-JWT payload")
	}
	signed, err := jose.Sign(enc, alg, opts.Key, map[string]any{jws.TypeKey: typ})
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "KB-SD-JWT signing failed")
	}
	return joinSDJWT(prev, signed, discs), nil
}

// lastComponent parses prev and returns its last component (the SD-JWT or
// the last KB-SD-JWT) with the claims that name the next signer: the root's
// processed payload, or the last hop's delegate payload. Signatures are not
// checked.
func lastComponent(prev string) (*Token, map[string]any, error) {
	if !IsChain(prev) {
		t, err := Parse(prev, Limits{})
		if err != nil {
			return nil, nil, err
		}
		claims, err := ProcessDisclosures(t.payload, t.Disclosures, t.limits)
		if err != nil {
			return nil, nil, err
		}
		return t, claims, nil
	}
	c, err := ParseChain(prev, Limits{})
	if err != nil {
		return nil, nil, err
	}
	last := c.Hops[len(c.Hops)-1]
	if typ, _ := last.header["typ"].(string); !jose.TypIs(typ, TypKBSDKB) {
		return nil, nil, errcode.New(errcode.InvalidInput, "the last hop is %q: its delegate holds no key and cannot delegate further", typ)
	}
	p, err := ProcessDisclosures(last.payload, last.Disclosures, last.limits)
	if err != nil {
		return nil, nil, err
	}
	list, _ := p[ClaimDelegatePayload].([]any)
	if len(list) != 1 {
		return nil, nil, errcode.New(errcode.InvalidInput, "the last hop discloses %d delegate payloads; exactly one must be", len(list))
	}
	claims, _ := list[0].(map[string]any)
	return last, claims, nil
}

// PresentChain adds a final KB-JWT, signed with the last delegate's key
// (kb.Key, the cnf.jwk of the last hop's delegate payload), to a dSD-JWT
// and returns the dSD-JWT+KB. When the first hop is linked with
// issuer_jwt_hash, rootDisclose (JSON Pointers as for Present; nil keeps
// every root disclosure) selects which of the root's disclosures are sent;
// with sd_hash the root's disclosures are fixed and rootDisclose must be
// nil.
func PresentChain(chain string, rootDisclose []string, kb *KBOptions) (string, error) {
	c, err := ParseChain(chain, Limits{})
	if err != nil {
		return "", err
	}
	if c.KBJWT != "" {
		return "", errcode.New(errcode.InvalidInput, "the chain already ends in a KB-JWT")
	}
	last := c.Hops[len(c.Hops)-1]
	if typ, _ := last.header["typ"].(string); !jose.TypIs(typ, TypKBSDKB) {
		return "", errcode.New(errcode.InvalidInput, "the last hop is %q: its delegate holds no key to present with", typ)
	}
	out := chain
	if rootDisclose != nil {
		if _, ok := c.Hops[0].payload[ClaimSDHash]; ok {
			return "", errcode.New(errcode.InvalidInput, "the first hop binds the credential's disclosures with sd_hash; they cannot be changed")
		}
		root, err := Present(c.Root.IssuerJWT+"~"+joinDisclosures(c.Root.Disclosures), rootDisclose, nil)
		if err != nil {
			return "", err
		}
		out = root + chain[len(c.Root.sdHashInput):]
	}
	if kb == nil {
		return "", errcode.New(errcode.InvalidInput, "a chain is presented with a KB-JWT")
	}
	kbJWT, err := signKB(last.sdHashInput, kb)
	if err != nil {
		return "", err
	}
	return out + kbJWT, nil
}

// ChainRoot returns the root of a delegation chain (not verified): the
// certification as it travels in the chain, with the disclosures the chain
// carries, and whether its first hop binds them with sd_hash, so that
// PresentChain must send them all as they are (rootDisclose nil).
func ChainRoot(chain string) (root *Token, fixed bool, err error) {
	c, err := ParseChain(chain, Limits{})
	if err != nil {
		return nil, false, err
	}
	_, fixed = c.Hops[0].payload[ClaimSDHash]
	return c.Root, fixed, nil
}

func joinDisclosures(ds []*Disclosure) string {
	var sb strings.Builder
	for _, d := range ds {
		sb.WriteString(d.Raw)
		sb.WriteByte('~')
	}
	return sb.String()
}

// HolderClaims returns, without verifying anything, the claims that name
// the holder of an SD-JWT or dSD-JWT (without a final KB-JWT): the root's
// processed payload, or the last hop's delegate payload. hops is the
// number of KB-SD-JWTs. It is what a delegator reads to build the next
// hop; a verifier never relies on it.
func HolderClaims(prev string) (claims map[string]any, hops int, err error) {
	if IsChain(prev) {
		c, err := ParseChain(prev, Limits{})
		if err != nil {
			return nil, 0, err
		}
		hops = len(c.Hops)
	}
	_, claims, err = lastComponent(prev)
	return claims, hops, err
}
