package revocation

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// setEntries returns the indices of the set entries of a 1-bit list.
func setEntries(l *List) []int {
	var out []int
	for i := 0; i < l.Len(); i++ {
		if v, _ := l.Get(i); v != 0 {
			out = append(out, i)
		}
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestW3CVectors(t *testing.T) {
	vs := w3cVectors(t)

	t.Run("REC all-zero 16KB", func(t *testing.T) {
		v := vs["rec-example-all-zero-16KB"]
		l, err := DecodeW3C(v.EncodedList, MinW3CEntries, 0)
		if err != nil {
			t.Fatal(err)
		}
		if l.Len() != MinW3CEntries || l.Len() != v.UncLen*8 || len(setEntries(l)) != 0 {
			t.Fatalf("Len %d, set %v", l.Len(), setEntries(l))
		}
	})
	t.Run("FPWD without multibase u", func(t *testing.T) {
		_, err := DecodeW3C(vs["fpwd-2023-no-multibase-prefix"].EncodedList, MinW3CEntries, 0)
		testkit.WantCode(t, err, errcode.StatusInvalid)
	})
	t.Run("100k too short", func(t *testing.T) {
		v := vs["digitalbazaar-100k-all-zero"]
		_, err := DecodeW3C(v.EncodedList, MinW3CEntries, 0)
		testkit.WantCode(t, err, errcode.StatusInvalid)
		// With the length rule relaxed, it decodes to 100,000 zero entries.
		l, err := DecodeW3C(v.EncodedList, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if l.Len() != v.Entries || len(setEntries(l)) != 0 {
			t.Fatalf("Len %d, set %v", l.Len(), setEntries(l))
		}
	})
	t.Run("index 50000 set, MSB first", func(t *testing.T) {
		v := vs["digitalbazaar-100k-index-50000-revoked (spec test encoding)"]
		_, err := DecodeW3C(v.EncodedList, MinW3CEntries, 0)
		testkit.WantCode(t, err, errcode.StatusInvalid)
		l, err := DecodeW3C(v.EncodedList, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := setEntries(l); !equalInts(got, v.SetIndices) || !equalInts(got, []int{50000}) {
			t.Fatalf("set entries %v, want %v", got, v.SetIndices)
		}
	})
	t.Run("legacy right-to-left reads 50007", func(t *testing.T) {
		v := vs["digitalbazaar-mock-credential-legacy-right-to-left"]
		l, err := DecodeW3C(v.EncodedList, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := setEntries(l); !equalInts(got, v.SpecIndices) || !equalInts(got, []int{50007}) {
			t.Fatalf("set entries %v, want %v (not the legacy reading %v)", got, v.SpecIndices, v.RTLIndices)
		}
	})
}

func gzipB64(t testing.TB, raw, trailing []byte) string {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(trailing)
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

func gunzipW3C(t testing.TB, enc string) []byte {
	t.Helper()
	z, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(enc, "u"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestW3CBitOrderFacts checks the digitalbazaar/bitstring unit facts.
func TestW3CBitOrderFacts(t *testing.T) {
	// 0b10000000: left-to-right (spec) reading has index 0 set.
	l, err := DecodeW3C(gzipB64(t, []byte{0x80}, nil), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := setEntries(l); !equalInts(got, []int{0}) {
		t.Fatalf("0x80 reads as %v, want [0]", got)
	}
	// Length 8, set index 4: the byte is 0b00001000.
	enc, err := mustList(t, 8, 1, map[int]uint8{4: 1}).EncodeW3C()
	if err != nil {
		t.Fatal(err)
	}
	if b := gunzipW3C(t, enc); !bytes.Equal(b, []byte{0x08}) {
		t.Fatalf("index 4 of 8 encodes as %08b, want 00001000", b)
	}
	// The same index in the IETF layout is the mirror image.
	if b := mustList(t, 8, 1, map[int]uint8{4: 1}).Bytes(); !bytes.Equal(b, []byte{0x10}) {
		t.Fatalf("IETF layout %08b, want 00010000", b)
	}
}

func TestW3CRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	set := map[int]uint8{0: 1, MinW3CEntries - 1: 1}
	for len(set) < 500 {
		set[r.IntN(MinW3CEntries)] = 1
	}
	l := mustList(t, MinW3CEntries, 1, set)
	enc, err := l.EncodeW3C()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "u") || strings.ContainsAny(enc[1:], "=+/") {
		t.Fatalf("not multibase base64url: %.20q", enc)
	}
	back, err := DecodeW3C(enc, MinW3CEntries, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Bytes(), l.Bytes()) {
		t.Fatal("round trip changed the list")
	}
	_, err = mustList(t, 8, 2, nil).EncodeW3C()
	testkit.WantCode(t, err, errcode.InvalidInput)
}

func TestDecodeW3CErrors(t *testing.T) {
	good := gzipB64(t, []byte{0x80}, nil)
	z, _ := base64.RawURLEncoding.DecodeString(good[1:])
	// A bomb past a 1 MiB cap (TestDecodeIETFZipBomb covers the default cap).
	bomb, n := gzipBomb((2<<20)/258 + 1)
	if n <= 1<<20 || len(bomb)*100 > n {
		t.Fatalf("bomb of %d bytes inflating to %d is not a bomb", len(bomb), n)
	}
	for _, tc := range []struct {
		name       string
		enc        string
		minEntries int
		maxBytes   int
		code       errcode.Code
	}{
		{"no prefix", good[1:], 0, 0, errcode.StatusInvalid},
		{"base64url-pad prefix U", "U" + good[1:], 0, 0, errcode.StatusInvalid},
		{"padding", good + "=", 0, 0, errcode.StatusInvalid},
		{"not base64", "u!!!!", 0, 0, errcode.StatusInvalid},
		{"not gzip", "u" + base64.RawURLEncoding.EncodeToString([]byte("hello world")), 0, 0, errcode.StatusInvalid},
		{"truncated gzip", "u" + base64.RawURLEncoding.EncodeToString(z[:len(z)-2]), 0, 0, errcode.StatusInvalid},
		{"trailing bytes", gzipB64(t, []byte{0x80}, []byte{1, 2}), 0, 0, errcode.StatusInvalid},
		{"second gzip member", gzipB64(t, []byte{0x80}, z), 0, 0, errcode.StatusInvalid},
		{"empty list", gzipB64(t, nil, nil), 0, 0, errcode.StatusInvalid},
		{"shorter than minEntries", good, 9, 0, errcode.StatusInvalid},
		{"over the cap", gzipB64(t, make([]byte, 11), nil), 0, 10, errcode.TooLarge},
		{"encoded string over the cap", "u" + strings.Repeat("A", maxEncodedLen(10)+1), 0, 10, errcode.TooLarge},
		{"zip bomb", "u" + base64.RawURLEncoding.EncodeToString(bomb), MinW3CEntries, 1 << 20, errcode.TooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeW3C(tc.enc, tc.minEntries, tc.maxBytes)
			testkit.WantCode(t, err, tc.code)
		})
	}
}

func TestW3CCredentialID(t *testing.T) {
	if got := W3CCredentialID("https://ex.com/statuslists/1", "revocation"); got != "https://ex.com/statuslists/1?format=w3c&purpose=revocation" {
		t.Error(got)
	}
	if got := W3CCredentialID("https://ex.com/s?id=1", "suspension"); got != "https://ex.com/s?id=1&format=w3c&purpose=suspension" {
		t.Error(got)
	}
}

func TestSignW3C(t *testing.T) {
	key := testkeys.New(t, jwa.ES256, "did:web:issuer.example#key-1")
	l := mustList(t, 1000, 2, map[int]uint8{1: StatusRevoked, 2: StatusSuspended, 999: StatusRevoked, 500: 3})
	iat := time.Unix(1760000000, 0).UTC()
	c := TokenClaims{
		Subject: "https://issuer.example/statuslists/1", Issuer: "did:web:issuer.example",
		IssuedAt: iat, Expires: iat.Add(24 * time.Hour), TTL: 5 * time.Minute,
	}
	for _, tc := range []struct {
		purpose string
		want    []int
	}{
		{PurposeRevocation, []int{1, 999}},
		{PurposeSuspension, []int{2}},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			vcjwt, err := SignW3C(l, tc.purpose, c, key)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := jws.Parse([]byte(vcjwt), jws.WithCompact())
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.Type() != "vc+jwt" || h.ContentType() != "vc" || h.KeyID() != key.KeyID() || h.Algorithm() != jwa.ES256 {
				t.Fatalf("header typ %q cty %q kid %q alg %q", h.Type(), h.ContentType(), h.KeyID(), h.Algorithm())
			}
			payload, err := jws.Verify([]byte(vcjwt), jws.WithKey(jwa.ES256, publicOf(t, key)))
			if err != nil {
				t.Fatal(err)
			}
			var vc struct {
				Context    []string `json:"@context"`
				ID         string   `json:"id"`
				Type       []string `json:"type"`
				Issuer     string   `json:"issuer"`
				ValidFrom  string   `json:"validFrom"`
				ValidUntil string   `json:"validUntil"`
				Iss        string   `json:"iss"`
				Iat, Exp   int64
				Subject    struct {
					ID            string `json:"id"`
					Type          string `json:"type"`
					StatusPurpose string `json:"statusPurpose"`
					EncodedList   string `json:"encodedList"`
					TTL           int64  `json:"ttl"`
				} `json:"credentialSubject"`
			}
			if err := json.Unmarshal(payload, &vc); err != nil {
				t.Fatal(err)
			}
			wantID := c.Subject + "?format=w3c&purpose=" + tc.purpose
			switch {
			case len(vc.Context) != 1 || vc.Context[0] != "https://www.w3.org/ns/credentials/v2":
				t.Errorf("@context %v", vc.Context)
			case vc.ID != wantID || vc.Subject.ID != wantID+"#list":
				t.Errorf("id %q, subject id %q", vc.ID, vc.Subject.ID)
			case len(vc.Type) != 2 || vc.Type[1] != "BitstringStatusListCredential" || vc.Subject.Type != "BitstringStatusList":
				t.Errorf("types %v %q", vc.Type, vc.Subject.Type)
			case vc.Issuer != c.Issuer || vc.Iss != c.Issuer:
				t.Errorf("issuer %q iss %q", vc.Issuer, vc.Iss)
			case vc.ValidFrom != "2025-10-09T08:53:20Z" || vc.ValidUntil != "2025-10-10T08:53:20Z":
				t.Errorf("validFrom %q validUntil %q", vc.ValidFrom, vc.ValidUntil)
			case vc.Iat != iat.Unix() || vc.Exp != c.Expires.Unix():
				t.Errorf("iat %d exp %d", vc.Iat, vc.Exp)
			case vc.Subject.StatusPurpose != tc.purpose:
				t.Errorf("statusPurpose %q", vc.Subject.StatusPurpose)
			case vc.Subject.TTL != 300000:
				t.Errorf("ttl %d ms, want 300000", vc.Subject.TTL)
			}
			bits, err := DecodeW3C(vc.Subject.EncodedList, MinW3CEntries, 0)
			if err != nil {
				t.Fatal(err)
			}
			if bits.Len() != MinW3CEntries {
				t.Errorf("padded to %d entries, want %d", bits.Len(), MinW3CEntries)
			}
			if got := setEntries(bits); !equalInts(got, tc.want) {
				t.Errorf("set entries %v, want %v", got, tc.want)
			}
		})
	}
	_, err := SignW3C(l, "refresh", c, key)
	testkit.WantCode(t, err, errcode.InvalidInput)
	_, err = SignW3C(nil, PurposeRevocation, c, key)
	testkit.WantCode(t, err, errcode.InvalidInput)
	_, err = SignW3C(l, PurposeRevocation, TokenClaims{Issuer: "x", IssuedAt: iat}, key)
	testkit.WantCode(t, err, errcode.InvalidInput)
}
