package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"

	"github.com/agentcert/agentcert/errcode"
	"github.com/dunglas/httpsfv"
)

// Content-Digest algorithms (RFC 9530) this package computes and checks.
const (
	DigestSHA256 = "sha-256"
	DigestSHA512 = "sha-512"
)

func newHash(alg string) hash.Hash {
	switch alg {
	case DigestSHA256:
		return sha256.New()
	case DigestSHA512:
		return sha512.New()
	}
	return nil
}

// ContentDigest returns the Content-Digest field value for body under alg
// (sha-256 or sha-512), e.g. sha-256=:X48E...=:.
func ContentDigest(body []byte, alg string) (string, error) {
	h := newHash(alg)
	if h == nil {
		return "", errcode.New(errcode.UnsupportedAlg, "digest algorithm %q is not supported", alg)
	}
	h.Write(body)
	d := httpsfv.NewDictionary()
	d.Add(alg, httpsfv.NewItem(h.Sum(nil)))
	return httpsfv.Marshal(d)
}

// CheckContentDigest checks a Content-Digest field (its lines) against
// body. Every member with an algorithm this package knows must match, at
// least one must be there, and members with other algorithms are ignored
// (RFC 9530 section 2). A field that does not parse is sig_malformed; a
// digest that differs is digest_mismatch.
func CheckContentDigest(field []string, body []byte) error {
	if total(field) > MaxHeaderLen {
		return malformed("Content-Digest is longer than %d bytes", MaxHeaderLen)
	}
	d, err := httpsfv.UnmarshalDictionary(field)
	if err != nil {
		return errcode.Wrap(errcode.SigMalformed, err, "Content-Digest is not a structured dictionary")
	}
	checked := 0
	for _, alg := range d.Names() {
		h := newHash(alg)
		if h == nil {
			continue
		}
		m, _ := d.Get(alg)
		it, ok := m.(httpsfv.Item)
		if !ok {
			return malformed("Content-Digest %s is not a byte sequence", alg)
		}
		want, ok := it.Value.([]byte)
		if !ok {
			return malformed("Content-Digest %s is not a byte sequence", alg)
		}
		h.Write(body)
		if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
			return errcode.New(errcode.DigestMismatch, "Content-Digest %s does not match the body", alg)
		}
		checked++
	}
	if checked == 0 {
		return malformed("Content-Digest names no supported algorithm (sha-256, sha-512)")
	}
	return nil
}
