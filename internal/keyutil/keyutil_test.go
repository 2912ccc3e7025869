package keyutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

func TestGenerateWriteRead(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		k, err := Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := AlgOf(k); err != nil || got != alg || !IsPrivate(k) {
			t.Fatalf("%s: AlgOf %v %v, private %v", alg, got, err, IsPrivate(k))
		}
		path := filepath.Join(t.TempDir(), "k.jwk")
		if err := WriteFile(path, k); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
		}
		if err := WriteFile(path, k); err == nil {
			t.Fatal("WriteFile overwrote an existing key file")
		}
		back, err := ReadPrivateFile(path)
		if err != nil || back.Algorithm() != alg {
			t.Fatalf("read back: %v %v", back, err)
		}
		pub, err := Public(k)
		if err != nil || IsPrivate(pub) {
			t.Fatalf("Public: %v private=%v", err, IsPrivate(pub))
		}
		pubPath := filepath.Join(t.TempDir(), "pub.jwk")
		if err := WriteFile(pubPath, pub); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPrivateFile(pubPath); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Fatalf("a public key read as private: %v", err)
		}
	}
}

func TestRefusedKeysAndAlgs(t *testing.T) {
	for _, a := range []string{"RS256", "HS256", "none", "ES384"} {
		if _, err := ParseAlg(a); errcode.CodeOf(err) != errcode.UnsupportedAlg {
			t.Errorf("ParseAlg(%q) = %v", a, err)
		}
	}
	if a, err := ParseAlg(""); err != nil || a != jwa.ES256 {
		t.Errorf("the default algorithm is ES256, got %v %v", a, err)
	}
	for name, j := range map[string]string{
		"symmetric": `{"kty":"oct","k":"c2VjcmV0"}`,
		"P-384":     `{"kty":"EC","crv":"P-384","x":"iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7","y":"iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7"}`,
		"not JSON":  `{`,
		"empty":     ``,
	} {
		if _, err := Parse([]byte(j)); err == nil {
			t.Errorf("%s key accepted", name)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.jwk")); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParse: any input is refused or yields a P-256 or Ed25519 key with an
// allowed algorithm; never a panic.
func FuzzParse(f *testing.F) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		k, _ := Generate(alg)
		b, _ := Marshal(k)
		f.Add(b)
		pub, _ := Public(k)
		b, _ = Marshal(pub)
		f.Add(b)
	}
	f.Add([]byte(`{"kty":"oct","k":"c2VjcmV0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err != nil {
			return
		}
		if a, err := AlgOf(k); err != nil || (a != jwa.ES256 && a != jwa.EdDSA) {
			t.Fatalf("Parse accepted a key of algorithm %v (%v)", a, err)
		}
	})
}

func TestAlgMustFitKey(t *testing.T) {
	k, _ := Generate(jwa.EdDSA)
	_ = k.Set("alg", "ES256")
	if _, err := AlgOf(k); errcode.CodeOf(err) != errcode.UnsupportedAlg {
		t.Fatalf("an Ed25519 key labelled ES256: %v", err)
	}
	b, _ := Marshal(k)
	if _, err := Parse(b); err == nil {
		t.Fatal("Parse accepted an Ed25519 key labelled ES256")
	}
}

// TestCurveMustFitKeyType: a curve names its algorithm only with its own key
// type (P-256 with EC, Ed25519 with OKP), and the key material must be a
// key of that curve; anything else is refused, however its alg is labelled.
func TestCurveMustFitKeyType(t *testing.T) {
	const (
		x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" // 32 bytes
		y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" // 32 bytes
	)
	for name, c := range map[string]struct {
		jwk  string
		code errcode.Code
	}{
		"OKP with crv P-256":        {`{"kty":"OKP","crv":"P-256","x":"` + x + `"}`, errcode.UnsupportedAlg},
		"EC with crv Ed25519":       {`{"kty":"EC","crv":"Ed25519","x":"` + x + `","y":"` + y + `"}`, errcode.UnsupportedAlg},
		"OKP P-256 labelled ES256":  {`{"kty":"OKP","crv":"P-256","x":"` + x + `","alg":"ES256"}`, errcode.UnsupportedAlg},
		"Ed25519 x of 3 bytes":      {`{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`, errcode.InvalidInput},
		"P-256 short coordinates":   {`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`, errcode.InvalidInput},
		"P-256 point off the curve": {`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + x + `"}`, errcode.InvalidInput},
	} {
		k, err := Parse([]byte(c.jwk))
		if errcode.CodeOf(err) != c.code {
			t.Errorf("%s: Parse = %v, %v; want %s", name, k, err, c.code)
		}
	}
	// A P-256 private key whose d is another key's.
	a, _ := Generate(jwa.ES256)
	b, _ := Generate(jwa.ES256)
	am, _ := ToMap(a)
	bm, _ := ToMap(b)
	am["d"] = bm["d"]
	mixed, _ := json.Marshal(am)
	if _, err := Parse(mixed); errcode.CodeOf(err) != errcode.InvalidInput {
		t.Errorf("a P-256 key with another key's d: %v", err)
	}
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		k, _ := Generate(alg)
		pub, _ := Public(k)
		for _, key := range []any{k, pub} {
			b, _ := json.Marshal(key)
			if _, err := Parse(b); err != nil {
				t.Errorf("%s: a generated key is refused: %v", alg, err)
			}
		}
	}
}
