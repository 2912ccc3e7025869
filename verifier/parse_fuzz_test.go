package verifier

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/agentcert/agentcert/errcode"
)

// FuzzIssuerMetadata checks that any body gives either key material or a
// source for it, or a failure with one of the two documented codes.
func FuzzIssuerMetadata(f *testing.F) {
	const iss = "https://issuer.example"
	for _, s := range []string{
		`{"issuer":"https://issuer.example","jwks":{"keys":[]}}`,
		`{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/jwks"}`,
		`{"issuer":"https://issuer.example","jwks_uri":"http://issuer.example/jwks"}`,
		`{"issuer":"https://issuer.example","jwks":{},"jwks_uri":"https://x"}`,
		`{"issuer":"https://other.example","jwks":{}}`,
		`[]`, `null`, `{`, ``,
		`{"issuer":"https://other.example","Issuer":"https://issuer.example","jwks":{"keys":[]}}`,
		`{"issuer":"https://other.example","issuer":"https://issuer.example","jwks":{"keys":[]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, uri, err := parseIssuerMetadata(body, iss)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.FetchFailed && c != errcode.KeyNotFound {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if (len(raw) > 0) == (uri != "") {
			t.Fatalf("jwks %q and jwks_uri %q: want exactly one", raw, uri)
		}
		if uri != "" && uri[:8] != "https://" {
			t.Fatalf("jwks_uri %q is not https", uri)
		}
		var md struct {
			Issuer string `json:"issuer"`
		}
		if json.Unmarshal(body, &md) != nil || md.Issuer != iss {
			t.Fatalf("accepted metadata of issuer %q", md.Issuer)
		}
	})
}

// FuzzStatusIndex checks the parsing of a status reference's idx: what it
// accepts is a non-negative integer written as such.
func FuzzStatusIndex(f *testing.F) {
	for _, s := range []string{"0", "7", "-1", "1.5", "1e3", "01", "99999999999999999999", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := toIndex(json.Number(s))
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("toIndex(%q) = %d", s, n)
		}
		if m, err := strconv.Atoi(s); err != nil || m != n {
			t.Fatalf("toIndex(%q) = %d, not the integer written", s, n)
		}
		if f, err := toIndex(float64(n)); n < 1<<53 && (err != nil || f != n) {
			t.Fatalf("toIndex(float64(%d)) = %d, %v", n, f, err)
		}
	})
}

// TestIssuerMetadataMembersOnce: metadata giving issuer twice, or in two
// cases, is refused rather than read as its last value.
func TestIssuerMetadataMembersOnce(t *testing.T) {
	const iss = "https://issuer.example"
	if _, _, err := parseIssuerMetadata([]byte(`{"issuer":"https://issuer.example","jwks":{"keys":[]}}`), iss); err != nil {
		t.Fatalf("plain metadata: %v", err)
	}
	for _, s := range []string{
		`{"issuer":"https://other.example","issuer":"https://issuer.example","jwks":{"keys":[]}}`,
		`{"issuer":"https://other.example","Issuer":"https://issuer.example","jwks":{"keys":[]}}`,
		`{"ISSUER":"https://issuer.example","jwks":{"keys":[]},"JWKS":{"keys":[]}}`,
	} {
		if _, _, err := parseIssuerMetadata([]byte(s), iss); errcode.CodeOf(err) != errcode.FetchFailed {
			t.Errorf("%s: %v, want fetch_failed", s, err)
		}
	}
}
