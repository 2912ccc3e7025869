package httpsig

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// baseLines returns the signature base of the one signature in input over
// a request with header h, without the @signature-params line.
func baseLines(t *testing.T, input string, h http.Header) (string, error) {
	t.Helper()
	sigs, err := Parse([]string{input}, []string{`s=:AAAA:`})
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Method: "GET", Scheme: "https", Authority: "api.example", Header: h}
	b, err := sigs[0].Base(m)
	if err != nil {
		return "", err
	}
	s := string(b)
	return s[:strings.LastIndex(s, `"@signature-params"`)], nil
}

// TestFieldValueTrimsOnlyOWS: RFC 9421 section 2.1 strips the whitespace
// HTTP allows around a field value (SP and HTAB) and nothing else, so a
// non-ASCII space such as U+00A0 (obs-text, which net/http passes on) stays
// in the value: appending one to a covered field must break the signature.
func TestFieldValueTrimsOnlyOWS(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{" \t100\t ", "100"},
		{"100\u00a0", "100\u00a0"},
		{"\u0085100", "\u0085100"},
		{"a\r\n \tb", "a b"}, // obs-fold becomes one space
	} {
		got, err := baseLines(t, `s=("x-amount")`, http.Header{"X-Amount": {tc.value}})
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if want := `"x-amount": ` + tc.want + "\n"; got != want {
			t.Errorf("%q: base %q, want %q", tc.value, got, want)
		}
	}

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.FromRaw(priv)
	pub, _ := k.PublicKey()
	m := &Message{Method: "POST", Scheme: "https", Authority: "api.example", Path: "/pay",
		Header: http.Header{"X-Amount": {"100"}}}
	in, sig, err := Sign(m, "s", Components("@method", "x-amount"), Params{Created: time.Unix(1, 0), Alg: AlgEd25519}, k)
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := Parse([]string{in}, []string{sig})
	if err != nil {
		t.Fatal(err)
	}
	m.Header.Set("X-Amount", "100\u00a0")
	if err := Verify(m, sigs[0], AlgEd25519, pub); errcode.CodeOf(err) != errcode.SigInvalid {
		t.Fatalf("a covered field changed by a trailing U+00A0 still verifies: %v", err)
	}
}

// TestDictionaryMemberValue: with the key parameter the component value is
// the member's value serialized as a structured field (RFC 9421 section
// 2.1.2), so a bare true member is ?1, and a member true cannot be taken
// for a member whose token value spells the key.
func TestDictionaryMemberValue(t *testing.T) {
	for _, tc := range []struct{ field, want string }{
		{`a=1, b=2;x=1;y=2, c=(a b c)`, `1`},
		{`a`, `?1`},
		{`a;p=1`, `?1;p=1`},
		{`a=a`, `a`},
		{`a=("x" 1);q`, `("x" 1);q`},
		{`a=?0`, `?0`},
	} {
		got, err := baseLines(t, `s=("x-dict";key="a")`, http.Header{"X-Dict": {tc.field}})
		if err != nil {
			t.Fatalf("%s: %v", tc.field, err)
		}
		if want := `"x-dict";key="a": ` + tc.want + "\n"; got != want {
			t.Errorf("%s: base %q, want %q", tc.field, got, want)
		}
	}
}

// TestUnknownComponentParameter: a component identifier with a parameter
// the implementation does not understand is an error (RFC 9421 section
// 2.5), not a silent stand-in for the bare field.
func TestUnknownComponentParameter(t *testing.T) {
	h := http.Header{"X-H": {"v"}, "X-Dict": {"a=1"}}
	for _, input := range []string{
		`s=("x-h";foo)`,
		`s=("x-h";name="a")`,
		`s=("x-dict";key="a";foo=1)`,
		`s=("x-dict";key=1)`,
		`s=("@query-param";name="a";foo)`,
		`s=("@path";foo)`,
	} {
		if _, err := baseLines(t, input, h); errcode.CodeOf(err) != errcode.SigMalformed {
			t.Errorf("%s: %v, want sig_malformed", input, err)
		}
	}
	for _, input := range []string{`s=("x-h")`, `s=("x-dict";key="a")`} {
		if _, err := baseLines(t, input, h); err != nil {
			t.Errorf("%s: %v", input, err)
		}
	}
}
