package revocation

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"io"

	"github.com/agentcert/agentcert/errcode"
)

// EncodeIETF returns the list's "lst" value: the packed bytes compressed with
// DEFLATE in ZLIB format (RFC 1950) at level compressionLevel, then
// base64url-encoded without padding (draft-ietf-oauth-status-list section 4.2).
func (l *List) EncodeIETF() (string, error) {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, compressionLevel)
	if err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "zlib writer")
	}
	if _, err := w.Write(l.b); err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "zlib compress")
	}
	if err := w.Close(); err != nil {
		return "", errcode.Wrap(errcode.Internal, err, "zlib compress")
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeIETF decodes an IETF "lst" value of bits bits per entry. maxBytes
// caps the decompressed size (DefaultMaxBytes when not positive); inflating
// stops at maxBytes+1 bytes, so a zip bomb costs at most that much memory.
//
// Errors: too_large when the decompressed list (or the encoded string)
// exceeds the cap; status_invalid for bad bits, base64url (padding is
// refused), a broken ZLIB stream or checksum, trailing bytes after the
// stream, or an empty list.
func DecodeIETF(lst string, bits, maxBytes int) (*List, error) {
	if !validBits(bits) {
		return nil, errcode.New(errcode.StatusInvalid, "status_list bits must be 1, 2, 4 or 8, got %d", bits)
	}
	raw, err := decompress(lst, bound(maxBytes, DefaultMaxBytes), "status list", "ZLIB", func(r io.Reader) (io.ReadCloser, error) {
		return zlib.NewReader(r)
	})
	if err != nil {
		return nil, err
	}
	return &List{bits: bits, n: len(raw) * 8 / bits, b: raw}, nil
}

// decompress decodes s, base64url without padding, and inflates the one
// stream of format kind it holds (opened by open), refusing more than
// maxBytes bytes, bytes after the stream and an empty result. what names
// the value in errors.
func decompress(s string, maxBytes int, what, kind string, open func(io.Reader) (io.ReadCloser, error)) ([]byte, error) {
	if len(s) > maxEncodedLen(maxBytes) {
		return nil, errcode.New(errcode.TooLarge, "%s of %d characters exceeds the limit", what, len(s))
	}
	z, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "%s is not base64url without padding", what)
	}
	src := bytes.NewReader(z)
	zr, err := open(src)
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "%s is not a %s stream", what, kind)
	}
	raw, err := inflate(zr, maxBytes)
	if err != nil {
		return nil, err
	}
	if src.Len() != 0 {
		return nil, errcode.New(errcode.StatusInvalid, "%d trailing bytes after the %s stream", src.Len(), kind)
	}
	if len(raw) == 0 {
		return nil, errcode.New(errcode.StatusInvalid, "empty %s", what)
	}
	return raw, nil
}

// inflate reads r to its end, refusing more than maxBytes bytes. Only
// maxBytes+1 bytes are ever read, however far the stream would inflate.
func inflate(r io.ReadCloser, maxBytes int) ([]byte, error) {
	defer r.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(maxBytes)+1))
	if n > int64(maxBytes) {
		return nil, errcode.New(errcode.TooLarge, "decompressed status list exceeds %d bytes", maxBytes)
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errcode.Wrap(errcode.StatusInvalid, err, "truncated compressed status list")
		}
		return nil, errcode.Wrap(errcode.StatusInvalid, err, "corrupt compressed status list")
	}
	return buf.Bytes(), nil
}

// maxEncodedLen is a generous upper bound on the base64url length of a
// compressed list whose decompressed size is at most maxBytes: DEFLATE
// stored blocks add 5 bytes per 65,535, plus headers and trailers.
func maxEncodedLen(maxBytes int) int {
	compressed := maxBytes + maxBytes/8192 + 64
	return (compressed*4+2)/3 + 4
}
