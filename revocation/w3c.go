package revocation

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"math/bits"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// W3C status purposes this package renders (BSL v1.0 section 2.1).
const (
	PurposeRevocation = "revocation" // entries whose IETF status is 1 (INVALID)
	PurposeSuspension = "suspension" // entries whose IETF status is 2 (SUSPENDED)
)

// EncodeW3C returns the W3C "encodedList" of a 1-bit list: the bitstring
// with entry 0 in the left-most (most significant) bit of byte 0, compressed
// with GZIP (RFC 1952), base64url-encoded without padding and prefixed with
// the multibase code "u" (BSL v1.0 section 2.2). Lists of other widths are
// refused with invalid_input: the W3C view is per purpose, see Project.
// EncodeW3C does not pad; SignW3C pads to MinW3CEntries.
func (l *List) EncodeW3C() (string, error) {
	if l.bits != 1 {
		return "", errcode.New(errcode.InvalidInput, "the W3C encoding takes a 1-bit list, got %d bits (use Project)", l.bits)
	}
	msb := make([]byte, len(l.b))
	for i, v := range l.b {
		msb[i] = bits.Reverse8(v)
	}
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, compressionLevel)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "gzip writer")
	}
	if _, err := w.Write(msb); err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "gzip compress")
	}
	if err := w.Close(); err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "gzip compress")
	}
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeW3C decodes a W3C "encodedList" into a 1-bit list whose entry i is
// the W3C bit at statusListIndex i (statusSize 1, left-most bit first).
// minEntries is the minimum list length the caller accepts (MinW3CEntries
// for BSL v1.0 conformance; 0 accepts any non-empty list); maxBytes caps
// the decompressed size (DefaultMaxBytes when not positive).
//
// Errors: status_invalid when the multibase prefix "u" is missing, the rest
// is not base64url without padding, the GZIP stream is broken or followed by
// trailing bytes, or the list is shorter than minEntries (the spec's
// STATUS_LIST_LENGTH_ERROR); too_large past maxBytes.
func DecodeW3C(encoded string, minEntries, maxBytes int) (*List, error) {
	maxBytes = bound(maxBytes, DefaultMaxBytes)
	rest, ok := strings.CutPrefix(encoded, "u")
	if !ok {
		return nil, errcode.New(errcode.StatusInvalid, `encodedList lacks the multibase base64url prefix "u"`)
	}
	raw, err := decompress(rest, maxBytes, "encodedList", "GZIP", func(r io.Reader) (io.ReadCloser, error) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return zr, nil
	})
	if err != nil {
		return nil, err
	}
	if len(raw)*8 < minEntries {
		return nil, errcode.New(errcode.StatusInvalid, "status list has %d entries, fewer than the minimum %d (STATUS_LIST_LENGTH_ERROR)", len(raw)*8, minEntries)
	}
	for i, v := range raw {
		raw[i] = bits.Reverse8(v)
	}
	return &List{bits: 1, n: len(raw) * 8, b: raw}, nil
}

// W3CCredentialID is the id SignW3C gives the BitstringStatusListCredential
// of the list at statusListURI for purpose: the URL the status list service
// serves it at, statusListURI + "?format=w3c&purpose=" + purpose. Credentials
// name this URL as statusListCredential in their BitstringStatusListEntry.
func W3CCredentialID(statusListURI, purpose string) string {
	sep := "?"
	if strings.Contains(statusListURI, "?") {
		sep = "&"
	}
	return statusListURI + sep + "format=w3c&purpose=" + purpose
}

// w3cView returns the 1-bit list for purpose, padded with zero entries to at
// least MinW3CEntries.
func w3cView(l *List, purpose string) (*List, error) {
	var p *List
	switch purpose {
	case PurposeRevocation:
		p = l.Project(StatusRevoked)
	case PurposeSuspension:
		p = l.Project(StatusSuspended)
	default:
		return nil, errcode.New(errcode.InvalidInput, "status purpose must be %q or %q, got %q", PurposeRevocation, PurposeSuspension, purpose)
	}
	if p.n < MinW3CEntries {
		b := make([]byte, MinW3CEntries/8)
		copy(b, p.b)
		p = &List{bits: 1, n: MinW3CEntries, b: b}
	}
	return p, nil
}
