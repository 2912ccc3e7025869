package revocation

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

type ietfVector struct {
	Title       string `json:"title"`
	Bits        int    `json:"bits"`
	SizeEntries int    `json:"size_entries"`
	JSON        struct {
		Bits int    `json:"bits"`
		Lst  string `json:"lst"`
	} `json:"json"`
	ExpectedStatus       map[string]uint8 `json:"expected_status"`
	UncompressedBytesHex string           `json:"uncompressed_bytes_hex"`
	Witness              *struct {
		Index    int   `json:"index"`
		LSBFirst uint8 `json:"expected_lsb_first"`
		MSBFirst uint8 `json:"wrong_if_read_msb_first"`
	} `json:"bit_order_witness_DERIVED"`
}

func ietfVectors(t testing.TB) []ietfVector {
	var f struct {
		Vectors []ietfVector `json:"vectors"`
	}
	testkit.LoadVector(t, "status-list-ietf/encoding-vectors.json", &f)
	if len(f.Vectors) != 6 {
		t.Fatalf("want 6 IETF encoding vectors, got %d", len(f.Vectors))
	}
	return f.Vectors
}

type tokenVectors struct {
	SigningKey json.RawMessage `json:"signing_key_private_jwk"`
	JWT        struct {
		Serialized string `json:"serialized"`
		Payload    struct {
			Exp int64  `json:"exp"`
			Iat int64  `json:"iat"`
			Iss string `json:"iss"`
			Sub string `json:"sub"`
			TTL int64  `json:"ttl"`
		} `json:"payload"`
	} `json:"status_list_token_jwt"`
	ReferencedSDJWT struct {
		Serialized string `json:"serialized"`
	} `json:"referenced_token_sd_jwt"`
	EndToEnd struct {
		Idx           int   `json:"idx"`
		ExpectedValue uint8 `json:"expected_status_value"`
	} `json:"end_to_end"`
}

func loadTokenVectors(t testing.TB) (tokenVectors, jwk.Key) {
	var v tokenVectors
	testkit.LoadVector(t, "status-list-ietf/token-vectors.json", &v)
	priv, err := jwk.ParseKey(v.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return v, pub
}

type w3cVector struct {
	Name        string `json:"name"`
	EncodedList string `json:"encodedList"`
	Entries     int    `json:"entries"`
	SetIndices  []int  `json:"set_indices"`
	SpecIndices []int  `json:"set_indices_per_spec_left_to_right"`
	RTLIndices  []int  `json:"set_indices_if_read_right_to_left"`
	ValidLength bool   `json:"valid_length"`
	UncLen      int    `json:"uncompressed_length_bytes"`
}

func w3cVectors(t testing.TB) map[string]w3cVector {
	var f struct {
		Vectors []w3cVector `json:"vectors"`
	}
	testkit.LoadVector(t, "bitstring-status-list/encoded-list-vectors.json", &f)
	m := make(map[string]w3cVector)
	for _, v := range f.Vectors {
		m[v.Name] = v
	}
	if len(m) != 5 {
		t.Fatalf("want 5 W3C vectors, got %d", len(m))
	}
	return m
}

func publicOf(t testing.TB, k jwk.Key) jwk.Key {
	t.Helper()
	p, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// staticKey is a KeyFunc that returns pub for issuer iss and key_not_found
// for any other issuer.
func staticKey(iss string, pub jwk.Key) KeyFunc {
	return func(_ context.Context, got string, _ jws.Headers) (jwk.Key, error) {
		if got != iss {
			return nil, errcode.New(errcode.KeyNotFound, "unknown issuer %q", got)
		}
		return pub, nil
	}
}

// mustList returns a list of n entries with the given statuses.
func mustList(t testing.TB, n, bits int, set map[int]uint8) *List {
	t.Helper()
	l, err := NewList(n, bits)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range set {
		if err := l.Set(i, v); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// bitWriter packs bits LSB first, as DEFLATE (RFC 1951 section 3.1.1) does.
type bitWriter struct {
	out   []byte
	acc   uint32
	nbits uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// huff writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) huff(code uint32, n uint) {
	var r uint32
	for i := uint(0); i < n; i++ {
		r = r<<1 | (code>>i)&1
	}
	w.bits(r, n)
}

// deflateZeros returns a raw DEFLATE stream (one block, fixed Huffman codes)
// that inflates to 1+258*matches zero bytes: a literal 0, then matches of
// length 258 at distance 1, 13 bits each. It is a zip bomb built by hand,
// so that tests need not compress many megabytes.
func deflateZeros(matches int) []byte {
	var w bitWriter
	w.bits(1, 1)    // BFINAL
	w.bits(1, 2)    // BTYPE 01: fixed Huffman
	w.huff(0x30, 8) // literal 0
	for i := 0; i < matches; i++ {
		w.huff(0xC5, 8) // length symbol 285 (258)
		w.huff(0, 5)    // distance code 0 (1)
	}
	w.huff(0, 7) // end of block (256)
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.acc))
	}
	return w.out
}

// zlibBomb wraps deflateZeros in ZLIB (RFC 1950); it inflates to n bytes.
func zlibBomb(matches int) (stream []byte, n int) {
	n = 1 + 258*matches
	b := append([]byte{0x78, 0x01}, deflateZeros(matches)...)
	// Adler-32 of n zero bytes: A stays 1, B = n mod 65521.
	sum := uint32(n%65521)<<16 | 1
	return binary.BigEndian.AppendUint32(b, sum), n
}

// gzipBomb wraps deflateZeros in GZIP (RFC 1952); it inflates to n bytes.
func gzipBomb(matches int) (stream []byte, n int) {
	n = 1 + 258*matches
	b := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, deflateZeros(matches)...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(make([]byte, n)))
	return binary.LittleEndian.AppendUint32(b, uint32(n)), n
}
