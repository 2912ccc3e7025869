package revocation

import (
	"context"
	"testing"
	"time"
)

func FuzzDecodeIETF(f *testing.F) {
	for _, v := range ietfVectors(f) {
		f.Add(v.JSON.Lst, v.Bits)
	}
	f.Add("eNrbuRgAAhcBXQ==", 1)
	f.Add("", 2)
	f.Add(zlibB64(f, make([]byte, 1<<16), nil), 8)
	f.Fuzz(func(t *testing.T, lst string, bits int) {
		l, err := DecodeIETF(lst, bits, 1<<16)
		if err != nil {
			return
		}
		// A decoded list re-encodes and decodes to the same bytes.
		enc, err := l.EncodeIETF()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeIETF(enc, bits, 1<<16)
		if err != nil || string(back.Bytes()) != string(l.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := l.Get(l.Len() - 1); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeW3C(f *testing.F) {
	for _, v := range w3cVectors(f) {
		f.Add(v.EncodedList, 0)
		f.Add(v.EncodedList, MinW3CEntries)
	}
	f.Add("u", 0)
	f.Add(gzipB64(f, []byte{0x80}, []byte{0}), 0)
	f.Fuzz(func(t *testing.T, enc string, minEntries int) {
		l, err := DecodeW3C(enc, minEntries, 1<<16)
		if err != nil {
			return
		}
		if l.Len() < minEntries || l.Bits() != 1 {
			t.Fatalf("accepted %d entries of %d bits with minimum %d", l.Len(), l.Bits(), minEntries)
		}
		again, err := l.EncodeW3C()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeW3C(again, 0, 1<<16)
		if err != nil || string(back.Bytes()) != string(l.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	v, pub := loadTokenVectors(f)
	f.Add(v.JWT.Serialized)
	f.Add(v.ReferencedSDJWT.Serialized)
	f.Add("a.b.c")
	f.Add("..")
	f.Add(`{"payload":"","signatures":[]}`)
	now := func() time.Time { return vectorNow }
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := VerifyToken(context.Background(), token, VerifyTokenOptions{
			Key:            staticKey("https://example.com", pub),
			ExpectedIssuer: "https://example.com",
			Now:            now,
			MaxBytes:       1 << 16,
		})
		if err == nil && (tok.List == nil || tok.Issuer != "https://example.com") {
			t.Fatalf("accepted token without list or with issuer %q", tok.Issuer)
		}
	})
}
