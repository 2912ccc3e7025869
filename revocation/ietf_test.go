package revocation

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

// checkStatuses verifies that l holds exactly the listed statuses and 0
// everywhere else: listed entries are read with Get, and every entry of
// every non-zero byte must be listed.
func checkStatuses(t *testing.T, l *List, want map[string]uint8) {
	t.Helper()
	idx := make(map[int]uint8, len(want))
	for k, v := range want {
		i, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		idx[i] = v
		if got, err := l.Get(i); err != nil || got != v {
			t.Fatalf("entry %d = %d (%v), want %d", i, got, err, v)
		}
	}
	per := 8 / l.Bits()
	for bi, b := range l.Bytes() {
		if b == 0 {
			continue
		}
		for i := bi * per; i < (bi+1)*per; i++ {
			if got, _ := l.Get(i); got != idx[i] {
				t.Fatalf("entry %d = %d, want %d", i, got, idx[i])
			}
		}
	}
}

func TestIETFVectorsDecode(t *testing.T) {
	for _, v := range ietfVectors(t) {
		t.Run(v.Title, func(t *testing.T) {
			if v.JSON.Bits != v.Bits {
				t.Fatalf("vector bits %d vs json bits %d", v.Bits, v.JSON.Bits)
			}
			l, err := DecodeIETF(v.JSON.Lst, v.Bits, 0)
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != v.SizeEntries || l.Bits() != v.Bits {
				t.Fatalf("decoded %d entries of %d bits, want %d of %d", l.Len(), l.Bits(), v.SizeEntries, v.Bits)
			}
			checkStatuses(t, l, v.ExpectedStatus)
			if v.UncompressedBytesHex != "" {
				if got := hex.EncodeToString(l.Bytes()); got != v.UncompressedBytesHex {
					t.Errorf("bytes %s, want %s", got, v.UncompressedBytesHex)
				}
			}
			if w := v.Witness; w != nil {
				got, _ := l.Get(w.Index)
				if got != w.LSBFirst || got == w.MSBFirst {
					t.Errorf("bit-order witness: entry %d = %d, want %d (MSB-first reading gives %d)", w.Index, got, w.LSBFirst, w.MSBFirst)
				}
			}
		})
	}
}

func TestIETFVectorsEncodeRoundTrip(t *testing.T) {
	for _, v := range ietfVectors(t) {
		t.Run(v.Title, func(t *testing.T) {
			set := make(map[int]uint8)
			for k, s := range v.ExpectedStatus {
				i, _ := strconv.Atoi(k)
				set[i] = s
			}
			l := mustList(t, v.SizeEntries, v.Bits, set)
			lst, err := l.EncodeIETF()
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(lst, "=+/") {
				t.Fatalf("lst is not unpadded base64url: %q", lst)
			}
			back, err := DecodeIETF(lst, v.Bits, 0)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := DecodeIETF(v.JSON.Lst, v.Bits, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Compressed strings are not canonical: compare decoded bytes.
			if !bytes.Equal(back.Bytes(), ref.Bytes()) {
				t.Fatal("our encoding decodes to different bytes than the vector")
			}
		})
	}
}

func zlibB64(t testing.TB, raw []byte, trailing []byte) string {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(trailing)
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

func TestDecodeIETFErrors(t *testing.T) {
	good := zlibB64(t, []byte{0xb9, 0xa3}, nil)
	z, _ := base64.RawURLEncoding.DecodeString(good)
	badSum := append([]byte(nil), z...)
	badSum[len(badSum)-1] ^= 0xff
	for _, tc := range []struct {
		name     string
		lst      string
		bits     int
		maxBytes int
		code     errcode.Code
	}{
		{"bits 3", good, 3, 0, errcode.StatusInvalid},
		{"bits 0", good, 0, 0, errcode.StatusInvalid},
		{"padding", "eNrbuRgAAhcBXQ==", 1, 0, errcode.StatusInvalid},
		{"standard base64 alphabet", good[:len(good)-1] + "+", 1, 0, errcode.StatusInvalid},
		{"not base64", "!!!!", 1, 0, errcode.StatusInvalid},
		{"empty string", "", 1, 0, errcode.StatusInvalid},
		{"not zlib", base64.RawURLEncoding.EncodeToString([]byte("hello world")), 1, 0, errcode.StatusInvalid},
		{"truncated zlib", base64.RawURLEncoding.EncodeToString(z[:len(z)-3]), 1, 0, errcode.StatusInvalid},
		{"bad checksum", base64.RawURLEncoding.EncodeToString(badSum), 1, 0, errcode.StatusInvalid},
		{"trailing bytes", zlibB64(t, []byte{0xb9, 0xa3}, []byte{0}), 1, 0, errcode.StatusInvalid},
		{"empty list", zlibB64(t, nil, nil), 1, 0, errcode.StatusInvalid},
		{"one byte over the cap", zlibB64(t, make([]byte, 101), nil), 1, 100, errcode.TooLarge},
		{"encoded string over the cap", strings.Repeat("A", maxEncodedLen(100)+1), 1, 100, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeIETF(tc.lst, tc.bits, tc.maxBytes)
			testkit.WantCode(t, err, tc.code)
		})
	}
	// Exactly at the cap is fine.
	l, err := DecodeIETF(zlibB64(t, make([]byte, 100), nil), 2, 100)
	if err != nil || l.Len() != 400 {
		t.Fatalf("list at the cap: %v, %v", l, err)
	}
}

// bombMatches makes a hand-built bomb inflate to just over 20 MiB, past
// DefaultMaxBytes.
const bombMatches = (20<<20)/258 + 1

// TestBombHelpers: the hand-built streams are valid and inflate to n zeros.
func TestBombHelpers(t *testing.T) {
	z, n := zlibBomb(1000)
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || len(got) != n || !bytes.Equal(got, make([]byte, n)) {
		t.Fatalf("zlib bomb: %d bytes, %v", len(got), err)
	}
	g, n := gzipBomb(1000)
	gr, err := gzip.NewReader(bytes.NewReader(g))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(gr)
	if err != nil || len(got) != n || !bytes.Equal(got, make([]byte, n)) {
		t.Fatalf("gzip bomb: %d bytes, %v", len(got), err)
	}
	// The same lengths decode as lists when the cap allows them.
	if l, err := DecodeIETF(base64.RawURLEncoding.EncodeToString(z), 8, n); err != nil || l.Len() != n {
		t.Fatalf("DecodeIETF: %v", err)
	}
	if l, err := DecodeW3C("u"+base64.RawURLEncoding.EncodeToString(g), 0, n); err != nil || l.Len() != 8*n {
		t.Fatalf("DecodeW3C: %v", err)
	}
}

// TestDecodeIETFZipBomb: a tiny stream that inflates past the default cap
// is refused with too_large after inflating at most cap+1 bytes.
func TestDecodeIETFZipBomb(t *testing.T) {
	z, n := zlibBomb(bombMatches)
	if n <= DefaultMaxBytes || len(z)*100 > n {
		t.Fatalf("bomb of %d bytes inflating to %d is not a bomb", len(z), n)
	}
	_, err := DecodeIETF(base64.RawURLEncoding.EncodeToString(z), 2, 0)
	testkit.WantCode(t, err, errcode.TooLarge)
}
