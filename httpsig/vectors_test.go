package httpsig

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// vectorFile is testdata/vectors/rfc9421/vectors.json (see PROVENANCE.md).
type vectorFile struct {
	Keys         map[string]json.RawMessage `json:"keys"`
	TestRequest  rawMessage                 `json:"test_request"`
	TestResponse rawMessage                 `json:"test_response"`
	Cases        []struct {
		Source         string      `json:"source"`
		Message        string      `json:"message"`
		Alg            string      `json:"alg"`
		Key            string      `json:"key"`
		ExtraHeaders   [][2]string `json:"extra_headers"`
		SignatureBase  string      `json:"signature_base"`
		SignatureInput string      `json:"signature_input"`
		Signature      string      `json:"signature"`
		Deterministic  bool        `json:"deterministic"`
	} `json:"cases"`
	QueryParamExamples []struct {
		Source  string   `json:"source"`
		Request string   `json:"request"`
		Lines   []string `json:"lines"`
	} `json:"query_param_examples"`
	DirectoryResponse struct {
		Request        []string `json:"request"`
		Body           string   `json:"body"`
		ContentDigest  string   `json:"content_digest"`
		SignatureBase  string   `json:"signature_base"`
		SignatureInput string   `json:"signature_input"`
		Signature      string   `json:"signature"`
	} `json:"directory_response"`
	ContentDigestExamples map[string]string `json:"content_digest_examples"`
}

type rawMessage struct {
	StartLine string      `json:"start_line"`
	Headers   [][2]string `json:"headers"`
	Body      string      `json:"body"`
}

func loadVectors(t testing.TB) *vectorFile {
	t.Helper()
	var v vectorFile
	testkit.LoadVector(t, "rfc9421/vectors.json", &v)
	if len(v.Cases) != 8 {
		t.Fatalf("want 8 cases, have %d", len(v.Cases))
	}
	return &v
}

// requestLine turns "POST /foo?a=b HTTP/1.1" plus a Host into a Message.
func requestLine(t testing.TB, line, host string, h http.Header) *Message {
	t.Helper()
	parts := strings.Fields(line)
	u, err := url.ParseRequestURI(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return fromURL(parts[0], "https", host, u, h)
}

func (r rawMessage) message(t testing.TB) *Message {
	h := http.Header{}
	host := ""
	for _, kv := range r.Headers {
		h.Add(kv[0], kv[1])
		if kv[0] == "Host" {
			host = kv[1]
		}
	}
	if strings.HasPrefix(r.StartLine, "HTTP/") {
		return &Message{Status: 200, Header: h}
	}
	return requestLine(t, r.StartLine, host, h)
}

func (v *vectorFile) jwk(t testing.TB, name string) jwk.Key {
	t.Helper()
	k, err := jwk.ParseKey(v.Keys[name])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRFC9421Vectors rebuilds every Appendix B.2 signature base (and the
// Web Bot Auth draft's) byte for byte, verifies every published
// signature with the published key, and reproduces the deterministic ones.
func TestRFC9421Vectors(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Cases {
		t.Run(c.Source, func(t *testing.T) {
			raw := v.TestRequest
			if c.Message == "test_response" {
				raw = v.TestResponse
			}
			m := raw.message(t)
			for _, kv := range c.ExtraHeaders {
				m.Header.Add(kv[0], kv[1])
			}
			sigs, err := Parse([]string{c.SignatureInput}, []string{c.Signature})
			if err != nil {
				t.Fatal(err)
			}
			if len(sigs) != 1 {
				t.Fatalf("%d signatures", len(sigs))
			}
			s := sigs[0]
			got, err := s.Base(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.SignatureBase {
				t.Fatalf("signature base\n got: %q\nwant: %q", got, c.SignatureBase)
			}
			switch c.Alg {
			case AlgEd25519, AlgECDSAP256:
				pub, err := v.jwk(t, c.Key).PublicKey()
				if err != nil {
					t.Fatal(err)
				}
				if err := Verify(m, s, c.Alg, pub); err != nil {
					t.Fatalf("verify: %v", err)
				}
				// One flipped bit in what is signed, and it fails.
				m.Header.Set("Content-Type", "text/plain")
				m.Authority = "example.org"
				if err := Verify(m, s, c.Alg, pub); errcode.CodeOf(err) != errcode.SigInvalid {
					t.Fatalf("tampered message: %v, want sig_invalid", err)
				}
			case "rsa-pss-sha512":
				blk, _ := pem.Decode([]byte(mustString(t, v.Keys[c.Key], "public_pem")))
				pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				h := sha512.Sum512(got)
				if err := rsa.VerifyPSS(pk.(*rsa.PublicKey), crypto.SHA512, h[:], s.Value, nil); err != nil {
					t.Fatalf("RSA-PSS: %v", err)
				}
			case "hmac-sha256":
				secret, _ := base64.StdEncoding.DecodeString(mustString(t, v.Keys[c.Key], "base64"))
				mac := hmac.New(sha256.New, secret)
				mac.Write(got)
				if !hmac.Equal(mac.Sum(nil), s.Value) {
					t.Fatal("HMAC differs")
				}
			default:
				t.Fatalf("alg %s", c.Alg)
			}
			if c.Deterministic && c.Alg == AlgEd25519 {
				m := raw.message(t)
				for _, kv := range c.ExtraHeaders {
					m.Header.Add(kv[0], kv[1])
				}
				in, sig, err := signList(m, s.Label, s.Components, s.input, c.Alg, v.jwk(t, c.Key))
				if err != nil {
					t.Fatal(err)
				}
				if in != c.SignatureInput || sig != c.Signature {
					t.Fatalf("signing reproduced\n%s\n%s\nwant\n%s\n%s", in, sig, c.SignatureInput, c.Signature)
				}
			}
		})
	}
}

// TestRFC9421SignB26 signs B.2.6 through the public Sign with the
// parameters the RFC names and gets its exact fields.
func TestRFC9421SignB26(t *testing.T) {
	v := loadVectors(t)
	c := v.Cases[5]
	m := v.TestRequest.message(t)
	sigs, err := Parse([]string{c.SignatureInput}, []string{c.Signature})
	if err != nil {
		t.Fatal(err)
	}
	p := sigs[0].Params
	p.Alg = AlgEd25519
	in, sig, err := Sign(m, "sig-b26", Components("date", "@method", "@path", "@authority", "content-type", "content-length"),
		Params{Created: p.Created, KeyID: p.KeyID, Alg: ""}, v.jwk(t, c.Key))
	if errcode.CodeOf(err) != errcode.UnsupportedAlg {
		t.Fatalf("no alg: %v, want unsupported_alg", err)
	}
	// The RFC's fields carry no alg parameter: sign with the inner list
	// Sign would build without one.
	il := innerList(sigs[0].Components, Params{Created: p.Created, KeyID: p.KeyID})
	in, sig, err = signList(m, "sig-b26", sigs[0].Components, il, AlgEd25519, v.jwk(t, c.Key))
	if err != nil {
		t.Fatal(err)
	}
	if in != c.SignatureInput || sig != c.Signature {
		t.Fatalf("got\n%s\n%s", in, sig)
	}
}

func TestDirectoryResponseVector(t *testing.T) {
	v := loadVectors(t)
	d := v.DirectoryResponse
	req := requestLine(t, d.Request[0], strings.TrimPrefix(d.Request[1], "Host: "), http.Header{})
	resp := &Message{Status: 200, Header: http.Header{"Content-Digest": {d.ContentDigest}}, Request: req}
	if err := CheckContentDigest([]string{d.ContentDigest}, []byte(d.Body)); err != nil {
		t.Fatal(err)
	}
	got, err := ContentDigest([]byte(d.Body), DigestSHA256)
	if err != nil || got != d.ContentDigest {
		t.Fatalf("digest %q, %v", got, err)
	}
	sigs, err := Parse([]string{d.SignatureInput}, []string{d.Signature})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sigs[0].Base(resp)
	if err != nil || string(b) != d.SignatureBase {
		t.Fatalf("base %q, %v", b, err)
	}
	set, err := jwk.Parse([]byte(d.Body))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := set.Key(0)
	var pub any
	if err := k.Raw(&pub); err != nil {
		t.Fatal(err)
	}
	if err := Verify(resp, sigs[0], AlgEd25519, pub); err != nil {
		t.Fatal(err)
	}
	// The thumbprint the directory names is the key's RFC 7638 thumbprint.
	tp, err := Thumbprint(k)
	if err != nil || tp != sigs[0].Params.KeyID || tp != k.KeyID() {
		t.Fatalf("thumbprint %q (%v), keyid %q", tp, err, sigs[0].Params.KeyID)
	}
	if err := CheckContentDigest([]string{d.ContentDigest}, []byte(d.Body+" ")); errcode.CodeOf(err) != errcode.DigestMismatch {
		t.Fatalf("changed body: %v", err)
	}
}

func TestQueryParamVectors(t *testing.T) {
	v := loadVectors(t)
	for _, ex := range v.QueryParamExamples {
		m := requestLine(t, ex.Request, "www.example.com", http.Header{})
		for _, line := range ex.Lines {
			line = strings.ReplaceAll(line, "(SP)", " ")
			id, want, _ := strings.Cut(line, ": ")
			sigs, err := Parse([]string{"s=(" + id + ")"}, []string{"s=:AA==:"})
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			got, err := componentValues(m, sigs[0].Components[0])
			if err != nil || len(got) != 1 || got[0] != want {
				t.Fatalf("%s: %q, %v; want %q", id, got, err, want)
			}
		}
	}
}

func TestContentDigestVectors(t *testing.T) {
	v := loadVectors(t)
	body := []byte(v.ContentDigestExamples["body"])
	for _, alg := range []string{DigestSHA256, DigestSHA512} {
		got, err := ContentDigest(body, alg)
		if err != nil || got != alg+"=:"+v.ContentDigestExamples[alg]+":" {
			t.Fatalf("%s: %q, %v", alg, got, err)
		}
	}
	// The B.2 request's field checks against its body.
	h := v.TestRequest.message(t).Header
	if err := CheckContentDigest(h.Values("Content-Digest"), []byte(v.TestRequest.Body)); err != nil {
		t.Fatal(err)
	}
}

func mustString(t testing.TB, raw json.RawMessage, field string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[field]
}
