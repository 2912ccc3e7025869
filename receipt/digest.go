package receipt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentcert/agentcert/sdjwt"
	"github.com/gowebpki/jcs"
)

// Digest is base64url (no padding) of the SHA-256 of b, the form of every
// digest a receipt carries.
func Digest(b []byte) string {
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Reference is the receipt's reference to a presentation, computed like a
// KB-JWT's sd_hash: the digest of the SD-JWT up to and including its last
// '~', without the KB-JWT. For a delegation chain
// (<SD-JWT>~~<KB-SD-JWT>~...) it is taken over the final element.
func Reference(presentation string) string {
	return Digest([]byte(finalSDJWT(presentation)))
}

// CredentialID is the base64url credential digest (sdjwt.CredentialDigest:
// SHA-256 of the exact issuer-signed JWT's signing input, as the
// presentation carries it), which identifies the credential whichever
// disclosures were presented and whatever encoding of its signature. For a
// delegation chain it is the root credential's. It is "" when the
// presentation has no compact issuer JWT.
func CredentialID(presentation string) string {
	d, err := sdjwt.CredentialDigest(presentation)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// finalSDJWT returns the last element of a chain (the whole presentation
// when it is no chain), cut after its last '~'.
func finalSDJWT(p string) string {
	if i := strings.LastIndex(p, "~~"); i >= 0 {
		p = p[i+2:]
	}
	if i := strings.LastIndex(p, "~"); i >= 0 {
		return p[:i+1]
	}
	return p
}

// Canonical returns the JSON Canonicalization Scheme (RFC 8785) form of v,
// which is first encoded with encoding/json.
func Canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("receipt: encode for JCS: %w", err)
	}
	out, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("receipt: JCS: %w", err)
	}
	return out, nil
}

// JSONDigest is the Digest of the JCS form of v: equal JSON values have
// equal digests however their members were ordered or their numbers
// written. A nil v has no digest ("").
func JSONDigest(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := Canonical(v)
	if err != nil {
		return "", err
	}
	return Digest(b), nil
}
