package jose

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func decodedHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHeadersOfReadsLikeJWX: for headers of string members and for the
// others, every accessor answers what jwx's own decoding of the same text
// answers, also after a change through Set.
func TestHeadersOfReadsLikeJWX(t *testing.T) {
	for _, raw := range []string{
		`{"alg":"ES256","typ":"dc+sd-jwt","kid":"did:web:i.example#k1"}`,
		`{"alg":"EdDSA","cty":"json","jku":"https://i.example/jwks","x5u":"https://i.example/c","x5t":"AAA","x5t#S256":"BBB","x-private":"p"}`,
		`{"alg":"ES256","kid":"k","x-number":7}`,
		`{"alg":"ES256","crit":["exp"],"exp":1}`,
		`{"alg":"ES257","kid":"k"}`, // an alg jwx does not know: its decoding keeps it
		`{}`,
	} {
		m := decodedHeader(t, raw)
		got, err := HeadersOf(m, []byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		want := jws.NewHeaders()
		if err := json.Unmarshal([]byte(raw), want); err != nil {
			t.Fatal(err)
		}
		compare := func(stage string) {
			t.Helper()
			if got.Algorithm() != want.Algorithm() || got.KeyID() != want.KeyID() || got.Type() != want.Type() ||
				got.ContentType() != want.ContentType() || got.JWKSetURL() != want.JWKSetURL() || got.X509URL() != want.X509URL() ||
				got.X509CertThumbprint() != want.X509CertThumbprint() || got.X509CertThumbprintS256() != want.X509CertThumbprintS256() ||
				len(got.Critical()) != len(want.Critical()) || (got.JWK() == nil) != (want.JWK() == nil) || (got.X509CertChain() == nil) != (want.X509CertChain() == nil) {
				t.Errorf("%s %s: accessors differ from jwx", raw, stage)
			}
			for k := range m {
				gv, gok := got.Get(k)
				wv, wok := want.Get(k)
				gj, _ := json.Marshal(gv)
				wj, _ := json.Marshal(wv)
				if gok != wok || string(gj) != string(wj) {
					t.Errorf("%s %s: Get(%q) = %v %v, jwx %v %v", raw, stage, k, gv, gok, wv, wok)
				}
			}
			gm, err1 := got.AsMap(context.Background())
			wm, err2 := want.AsMap(context.Background())
			gj, _ := json.Marshal(gm)
			wj, _ := json.Marshal(wm)
			if err1 != nil || err2 != nil || string(gj) != string(wj) {
				t.Errorf("%s %s: AsMap %s, jwx %s (%v, %v)", raw, stage, gj, wj, err1, err2)
			}
		}
		compare("read")
		for _, h := range []jws.Headers{got, want} {
			if err := h.Set(jws.KeyIDKey, "changed"); err != nil {
				t.Fatal(err)
			}
		}
		compare("after Set")
		if got.KeyID() != "changed" {
			t.Errorf("%s: KeyID after Set = %q", raw, got.KeyID())
		}
	}
}

// TestHeadersOfRefusesWhatJWXRefuses: a standard member of the wrong type
// is an error, as with jwx's decoding.
func TestHeadersOfRefusesWhatJWXRefuses(t *testing.T) {
	for _, raw := range []string{`{"alg":"ES256","kid":7}`, `{"alg":"ES256","typ":["a"]}`, `{"alg":"ES256","jwk":"not a key"}`} {
		if _, err := HeadersOf(decodedHeader(t, raw), []byte(raw)); err == nil {
			t.Errorf("%s: no error", raw)
		}
	}
}

// TestHeadersOfAllocations: reading kid and alg of a header of string
// members costs one allocation (the view), not a copy of the header (8
// allocations with jws.NewHeaders and one Set per member).
func TestHeadersOfAllocations(t *testing.T) {
	raw := `{"alg":"ES256","typ":"dc+sd-jwt","kid":"did:web:i.example#k1"}`
	m, b := decodedHeader(t, raw), []byte(raw)
	allocs := testing.AllocsPerRun(100, func() {
		h, err := HeadersOf(m, b)
		if err != nil || h.KeyID() == "" || h.Algorithm() != jwa.ES256 {
			t.Fatal("header not read")
		}
	})
	if allocs > 1 {
		t.Errorf("HeadersOf and two reads: %v allocations, want at most 1", allocs)
	}
}
