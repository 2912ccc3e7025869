package sdjwt

import (
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Token is a parsed, not yet verified, SD-JWT or SD-JWT+KB in compact form:
//
//	<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~[<KB-JWT>]
//
// Parse decodes the issuer JWT's header and payload and every disclosure
// once; the verification steps (VerifyIssuer, ProcessDisclosures,
// VerifyKeyBinding) work from these decoded values.
type Token struct {
	IssuerJWT   string        // the issuer-signed JWT, compact
	Disclosures []*Disclosure // in the order sent
	KBJWT       string        // "" when absent

	header       map[string]any // issuer JWT protected header
	hdrJSON      []byte         // its JSON text, for jose.HeadersOf
	payload      map[string]any // issuer JWT payload
	signingInput string         // "<b64 header>.<b64 payload>"
	signature    []byte
	sdHashInput  string // the presentation up to and including the last '~'
	limits       Limits
	holder       jwk.Key // the clear cnf.jwk, set by VerifyIssuer when it parsed or cached it
	kbKey        jwk.Key // the holder key VerifyKeyBinding verified the KB-JWT with
}

// Parse splits and decodes a compact SD-JWT without verifying anything.
// Failures: too_large (size, disclosure count, JSON depth), malformed (not
// compact form, issuer JWT header or payload not base64url JSON objects),
// disclosure_malformed. The JWS JSON serialization is not supported.
// A zero Limits field takes its default.
func Parse(s string, lim Limits) (*Token, error) {
	lim = lim.withDefaults()
	if len(s) > lim.MaxPresentationBytes {
		return nil, errcode.New(errcode.TooLarge, "presentation is %d bytes, more than %d", len(s), lim.MaxPresentationBytes)
	}
	last := strings.LastIndexByte(s, '~')
	if last < 0 {
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			return nil, errcode.New(errcode.Malformed, "JWS JSON serialization is not supported; use the compact form")
		}
		return nil, errcode.New(errcode.Malformed, "not an SD-JWT: no '~' separator")
	}
	t := &Token{sdHashInput: s[:last+1], KBJWT: s[last+1:], limits: lim}
	body := s[:last] // "<JWT>~<D1>~...~<Dn>" or "<JWT>"
	first := strings.IndexByte(body, '~')
	if first < 0 {
		t.IssuerJWT = body
	} else {
		t.IssuerJWT = body[:first]
		rest := body[first+1:]
		n := strings.Count(rest, "~") + 1
		if n > lim.MaxDisclosures {
			return nil, errcode.New(errcode.TooLarge, "%d disclosures, more than %d", n, lim.MaxDisclosures)
		}
		t.Disclosures = make([]*Disclosure, 0, n)
		for {
			i := strings.IndexByte(rest, '~')
			raw := rest
			if i >= 0 {
				raw = rest[:i]
			}
			if raw == "" {
				return nil, errcode.New(errcode.Malformed, "empty disclosure between '~' separators")
			}
			d, err := parseDisclosure(raw, lim.MaxDepth)
			if err != nil {
				return nil, err
			}
			t.Disclosures = append(t.Disclosures, d)
			if i < 0 {
				break
			}
			rest = rest[i+1:]
		}
	}
	h, p, sig, ok := splitJWS(t.IssuerJWT)
	if !ok {
		return nil, errcode.New(errcode.Malformed, "issuer-signed JWT is not a compact JWS")
	}
	hb, ok := decodeB64(h)
	if !ok {
		return nil, errcode.New(errcode.Malformed, "issuer-signed JWT header is not base64url")
	}
	hv, err := decodeJSON(hb, lim.MaxDepth, errcode.Malformed, "issuer-signed JWT header")
	if err != nil {
		return nil, err
	}
	if t.header, ok = hv.(map[string]any); !ok {
		return nil, errcode.New(errcode.Malformed, "issuer-signed JWT header is not a JSON object")
	}
	t.hdrJSON = hb
	if t.payload, err = decodeObject(p, lim.MaxDepth, errcode.Malformed, "issuer-signed JWT payload"); err != nil {
		return nil, err
	}
	// An empty signature (alg "none") parses; VerifyIssuer refuses the alg.
	if t.signature, ok = decodeB64(sig); !ok && sig != "" {
		return nil, errcode.New(errcode.Malformed, "issuer-signed JWT signature is not base64url")
	}
	t.signingInput = t.IssuerJWT[:len(h)+1+len(p)]
	return t, nil
}

// UnverifiedHeader returns the issuer JWT's protected header as parsed.
// Nothing in it has been verified; do not modify it.
func (t *Token) UnverifiedHeader() map[string]any { return t.header }

// UnverifiedPayload returns the issuer JWT's payload as parsed, before
// disclosures are applied. Nothing in it has been verified; do not modify it.
func (t *Token) UnverifiedPayload() map[string]any { return t.payload }

// SDHashInput returns the presentation up to and including its last '~',
// the input of the KB-JWT's sd_hash.
func (t *Token) SDHashInput() string { return t.sdHashInput }
