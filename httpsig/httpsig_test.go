package httpsig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestParseMalformed(t *testing.T) {
	ok := `s=:AAAA:`
	for _, tc := range []struct{ name, input, sig string }{
		{"not a dictionary", `s=("@method"`, ok},
		{"empty", ``, ``},
		{"signature not a dictionary", `s=("@method")`, `s=:AAAA`},
		{"labels differ", `s=("@method")`, `t=:AAAA:`},
		{"more labels in Signature", `s=("@method")`, `s=:AAAA:, t=:AAAA:`},
		{"input is an item", `s="@method"`, ok},
		{"value not bytes", `s=("@method")`, `s="AAAA"`},
		{"value empty", `s=("@method")`, `s=::`},
		{"component a token", `s=(method)`, ok},
		{"component uppercase", `s=("Content-Type")`, ok},
		{"signature-params covered", `s=("@signature-params")`, ok},
		{"duplicate component", `s=("@method" "@method")`, ok},
		{"created a string", `s=("@method");created="1"`, ok},
		{"created negative", `s=("@method");created=-1`, ok},
		{"keyid an integer", `s=("@method");keyid=1`, ok},
		{"too long", `s=("` + strings.Repeat("a", MaxHeaderLen) + `")`, ok},
		{"too many components", `s=(` + strings.Repeat(`"a" `, 0) + manyComponents(MaxComponents+1) + `)`, ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]string{tc.input}, []string{tc.sig})
			if errcode.CodeOf(err) != errcode.SigMalformed {
				t.Fatalf("got %v, want sig_malformed", err)
			}
		})
	}
}

func manyComponents(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"x-h` + strings.Repeat("a", i) + `"`)
	}
	return b.String()
}

func TestBaseErrors(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://api.example/a?x=1&x=2", nil)
	m := Incoming(req)
	for _, tc := range []struct{ name, input string }{
		{"missing field", `s=("x-absent")`},
		{"query param twice", `s=("@query-param";name="x")`},
		{"query param absent", `s=("@query-param";name="y")`},
		{"query param without name", `s=("@query-param")`},
		{"status on a request", `s=("@status")`},
		{"unknown derived", `s=("@nope")`},
		{"parameters on a derived", `s=("@method";name="x")`},
		{"sf unsupported", `s=("accept";sf)`},
		{"req without a request", `s=("@method";req)`},
		{"key of a non-dictionary", `s=("x-list";key="a")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.Header = http.Header{"X-List": {`(a b`}}
			sigs, err := Parse([]string{tc.input}, []string{`s=:AAAA:`})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sigs[0].Base(m); errcode.CodeOf(err) != errcode.SigMalformed {
				t.Fatalf("got %v, want sig_malformed", err)
			}
		})
	}
}

// TestRoundTrip signs an outgoing request with each supported key type and
// verifies it as the server receives it; changing any covered part fails.
func TestRoundTrip(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, raw := range []any{edPriv, ecPriv} {
		k, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		alg, err := KeyAlg(k)
		if err != nil {
			t.Fatal(err)
		}
		kid, _ := Thumbprint(k)
		t.Run(alg, func(t *testing.T) {
			out, _ := http.NewRequest(http.MethodPost, "https://API.example:443/v1/pay%2Fx?b=2&a=1", strings.NewReader("{}"))
			cd, _ := ContentDigest([]byte("{}"), DigestSHA256)
			out.Header.Set("Content-Digest", cd)
			now := time.Unix(1700000000, 0)
			in, sig, err := Sign(Outgoing(out), "sig1", Components("@method", "@authority", "@path", "@query", "content-digest"),
				Params{Created: now, Expires: now.Add(time.Minute), Nonce: "n1", Alg: alg, KeyID: kid, Tag: "agentcert"}, k)
			if err != nil {
				t.Fatal(err)
			}
			recv := httptest.NewRequest(http.MethodPost, "/v1/pay%2Fx?b=2&a=1", nil)
			recv.Host = "api.example"
			recv.TLS = out.TLS
			recv.Header.Set("Content-Digest", cd)
			recv.Header.Set("Signature-Input", in)
			recv.Header.Set("Signature", sig)
			sigs, err := Parse(recv.Header.Values("Signature-Input"), recv.Header.Values("Signature"))
			if err != nil {
				t.Fatal(err)
			}
			s := sigs[0]
			if s.Params.KeyID != kid || s.Params.Nonce != "n1" || s.Params.Tag != "agentcert" || !s.Params.Created.Equal(now) || !s.HasExpires {
				t.Fatalf("params %+v", s.Params)
			}
			pub, _ := k.PublicKey()
			m := Incoming(recv)
			m.Scheme = "https"
			if err := Verify(m, s, alg, pub); err != nil {
				t.Fatal(err)
			}
			for name, change := range map[string]func(m *Message){
				"method": func(m *Message) { m.Method = "PUT" },
				"path":   func(m *Message) { m.Path = "/v1/pay/x" },
				"query":  func(m *Message) { m.RawQuery = "a=1&b=2" },
				"host":   func(m *Message) { m.Authority = "api.example:8443" },
				"digest": func(m *Message) { m.Header = http.Header{"Content-Digest": {"sha-256=:AAAA:"}} },
			} {
				c := *m
				change(&c)
				if err := Verify(&c, s, alg, pub); errcode.CodeOf(err) != errcode.SigInvalid {
					t.Fatalf("%s changed: %v", name, err)
				}
			}
			other := AlgECDSAP256
			if alg == other {
				other = AlgEd25519
			}
			if err := Verify(m, s, other, pub); errcode.CodeOf(err) != errcode.SigInvalid {
				t.Fatalf("alg mismatch: %v", err)
			}
		})
	}
}

func TestContentDigestErrors(t *testing.T) {
	for _, tc := range []struct {
		field string
		code  errcode.Code
	}{
		{`sha-256=:AAAA:`, errcode.DigestMismatch},
		{`md5=:AAAA:`, errcode.SigMalformed},
		{`sha-256="x"`, errcode.SigMalformed},
		{`sha-256=:AAAA`, errcode.SigMalformed},
		{`sha-256=(:AAAA:)`, errcode.SigMalformed},
	} {
		if err := CheckContentDigest([]string{tc.field}, []byte("x")); errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.field, err, tc.code)
		}
	}
	if _, err := ContentDigest(nil, "md5"); errcode.CodeOf(err) != errcode.UnsupportedAlg {
		t.Fatal(err)
	}
}

func TestKeyAlgRefusesOtherKeys(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k, _ := jwk.FromRaw(p384)
	if _, err := KeyAlg(k); errcode.CodeOf(err) != errcode.UnsupportedAlg {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`sig1=("@method" "@authority" "@path" "@query" "content-digest");created=1;expires=2;nonce="n";keyid="k";tag="t"`, `sig1=:AAAA:`)
	f.Add(`a=("signature-agent";key="a" "@query-param";name="x")`, `a=:AAAA:`)
	f.Fuzz(func(t *testing.T, in, sig string) {
		sigs, err := Parse([]string{in}, []string{sig})
		if err != nil {
			if errcode.CodeOf(err) != errcode.SigMalformed {
				t.Fatalf("code %s", errcode.CodeOf(err))
			}
			return
		}
		m := Incoming(httptest.NewRequest(http.MethodGet, "/p?x=1", nil))
		for _, s := range sigs {
			_, _ = s.Base(m)
		}
	})
}

func FuzzCheckContentDigest(f *testing.F) {
	f.Add(`sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`, []byte(`{"hello": "world"}`))
	f.Add(`sha-512=:AAAA:, md5=:AAAA:`, []byte{})
	f.Fuzz(func(t *testing.T, field string, body []byte) {
		err := CheckContentDigest([]string{field}, body)
		if c := errcode.CodeOf(err); err != nil && c != errcode.SigMalformed && c != errcode.DigestMismatch {
			t.Fatalf("code %s", c)
		}
	})
}
