package receipt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// offline resolves did:key and did:jwk without any network.
var offline = did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) { return did.DocumentFor(id) })

func newSigner(t *testing.T, alg jwa.SignatureAlgorithm) (*receipt.Signer, jwk.Key) {
	t.Helper()
	k, id := testkeys.DIDKey(t, alg)
	s, err := receipt.SignerFromJWK(id, k, receipt.WithClock(func() time.Time { return time.Unix(1_800_000_000, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func sample() receipt.Claims {
	return receipt.Claims{
		Result: receipt.Error, Reference: "ref", Error: "action_prohibited", ErrorDescription: "payments:initiate is prohibited",
		Credential: &receipt.Credential{Issuer: "did:web:issuer.example", ID: "cid", VCT: "urn:agentcert:agent-certification:v1",
			StatusList: &receipt.StatusRef{URI: "https://issuer.example/statuslists/a", Idx: 7}},
		Subject: "did:key:zAgent", Principal: "did:web:acme.example", Action: "payments:initiate",
		Decision: &receipt.Decision{Allowed: false, Reason: "action_prohibited"},
		Status:   &receipt.Status{Checked: true, Value: "valid", AsOf: 1_799_999_000, FetchedAt: 1_799_999_100},
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			s, _ := newSigner(t, alg)
			jwt, err := s.Sign(sample())
			if err != nil {
				t.Fatal(err)
			}
			c, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline), Verifier: s.Issuer()})
			if err != nil {
				t.Fatal(err)
			}
			want := sample()
			if c.Issuer != s.Issuer() || c.IssuedAt != 1_800_000_000 || c.ID == "" || c.Result != want.Result || c.Error != want.Error ||
				c.Credential.StatusList.Idx != 7 || c.Decision.Reason != "action_prohibited" || c.Status.AsOf != want.Status.AsOf {
				t.Fatalf("claims %+v", c)
			}
			msg, _ := jws.Parse([]byte(jwt))
			h := msg.Signatures()[0].ProtectedHeaders()
			if h.Type() != receipt.Typ || h.KeyID() != s.PublicKey().KeyID() || h.Algorithm() != alg {
				t.Fatalf("header typ %q kid %q alg %q", h.Type(), h.KeyID(), h.Algorithm())
			}
		})
	}
}

// A crypto.Signer that is not a jwk.Key (the seam for KMS/HSM keys).
type opaqueSigner struct{ *ecdsa.PrivateKey }

func TestSignWithCryptoSigner(t *testing.T) {
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := jwk.FromRaw(pk.Public())
	id, err := did.KeyDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := did.VerificationMethodID(id)
	s, err := receipt.NewSigner(id, kid, opaqueSigner{pk})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := s.Sign(receipt.Claims{Result: receipt.Success, Reference: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline)}); err != nil {
		t.Fatal(err)
	}
}

// resign signs payload with key and the given header members.
func resign(t *testing.T, key jwk.Key, alg jwa.SignatureAlgorithm, hdr map[string]any, payload []byte) string {
	t.Helper()
	return testkeys.SignJWS(t, testkeys.Raw(t, key), alg, hdr, payload)
}

func TestVerifyRejects(t *testing.T) {
	s, key := newSigner(t, jwa.ES256)
	good, err := s.Sign(sample())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(payload, &m)
	withClaim := func(k string, v any) []byte {
		c := map[string]any{}
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return b
	}
	kid := key.KeyID()
	other, otherID := testkeys.DIDKey(t, jwa.ES256)
	otherKid, _ := did.VerificationMethodID(otherID)
	hdr := map[string]any{"typ": receipt.Typ, "kid": kid}
	tamperedPayload := base64.RawURLEncoding.EncodeToString(withClaim("result", "success"))
	hmacKey, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	for name, tc := range map[string]struct {
		jwt  string
		code errcode.Code
	}{
		"tampered payload":      {parts[0] + "." + tamperedPayload + "." + parts[2], errcode.ReceiptBadSignature},
		"tampered signature":    {parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64)), errcode.ReceiptBadSignature},
		"signed by another key": {resign(t, other, jwa.ES256, hdr, payload), errcode.ReceiptBadSignature},
		"kid of another DID":    {resign(t, other, jwa.ES256, map[string]any{"typ": receipt.Typ, "kid": otherKid}, payload), errcode.ReceiptMalformed},
		"no kid":                {resign(t, key, jwa.ES256, map[string]any{"typ": receipt.Typ}, payload), errcode.ReceiptMalformed},
		"wrong typ":             {resign(t, key, jwa.ES256, map[string]any{"typ": "JWT", "kid": kid}, payload), errcode.ReceiptMalformed},
		"hmac":                  {resign(t, hmacKey, jwa.HS256, hdr, payload), errcode.ReceiptMalformed},
		"alg none":              {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"`+receipt.Typ+`","kid":"`+kid+`"}`)) + "." + parts[1] + ".", errcode.ReceiptMalformed},
		"not a JWS":             {"not-a-receipt", errcode.ReceiptMalformed},
		"JSON serialization":    {`{"payload":"` + parts[1] + `","signatures":[]}`, errcode.ReceiptMalformed},
		"bad result":            {resign(t, key, jwa.ES256, hdr, withClaim("result", "maybe")), errcode.ReceiptMalformed},
		"no jti":                {resign(t, key, jwa.ES256, hdr, withClaim("jti", nil)), errcode.ReceiptMalformed},
		"no iat":                {resign(t, key, jwa.ES256, hdr, withClaim("iat", nil)), errcode.ReceiptMalformed},
		"error without code":    {resign(t, key, jwa.ES256, hdr, withClaim("error", nil)), errcode.ReceiptMalformed},
		"iss not a DID":         {resign(t, key, jwa.ES256, map[string]any{"typ": receipt.Typ, "kid": "https://v.example#k"}, withClaim("iss", "https://v.example")), errcode.ReceiptMalformed},
		"payload not JSON":      {resign(t, key, jwa.ES256, hdr, []byte("[1,2")), errcode.ReceiptMalformed},
		"too large":             {strings.Repeat("a", receipt.MaxReceiptBytes+1), errcode.ReceiptMalformed},
		"crit":                  {resign(t, key, jwa.ES256, map[string]any{"typ": receipt.Typ, "kid": kid, "crit": []string{"x"}, "x": 1}, payload), errcode.ReceiptMalformed},
		// Read as its last value by one tool, its first by another.
		"a member twice":        {resign(t, key, jwa.ES256, hdr, append(append([]byte(`{"result":"error",`), payload[1:len(payload)-1]...), '}')), errcode.ReceiptMalformed},
		"a member in two cases": {resign(t, key, jwa.ES256, hdr, append(append([]byte(`{"RESULT":"error",`), payload[1:len(payload)-1]...), '}')), errcode.ReceiptMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := receipt.Verify(context.Background(), tc.jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline)})
			testkit.WantCode(t, err, tc.code)
		})
	}
	t.Run("unexpected verifier", func(t *testing.T) {
		_, err := receipt.Verify(context.Background(), good, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline), Verifier: otherID})
		testkit.WantCode(t, err, errcode.ReceiptMalformed)
	})
	t.Run("key unavailable", func(t *testing.T) {
		failing := did.ResolverFunc(func(context.Context, string) (*did.Document, error) {
			return nil, errcode.New(errcode.FetchFailed, "down")
		})
		_, err := receipt.Verify(context.Background(), good, receipt.VerifyOptions{Keys: receipt.DIDKeys(failing)})
		testkit.WantCode(t, err, errcode.ReceiptKeyUnavailable)
	})
	t.Run("pinned key of another alg", func(t *testing.T) {
		ed, _ := testkeys.DIDKey(t, jwa.EdDSA)
		pub, _ := keyutil.Public(ed)
		_, err := receipt.Verify(context.Background(), good, receipt.VerifyOptions{Keys: receipt.StaticKey(pub)})
		testkit.WantCode(t, err, errcode.ReceiptBadSignature)
	})
	t.Run("pinned right key", func(t *testing.T) {
		if _, err := receipt.Verify(context.Background(), good, receipt.VerifyOptions{Keys: receipt.StaticKey(s.PublicKey())}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignRefusesBadClaims(t *testing.T) {
	s, _ := newSigner(t, jwa.EdDSA)
	for name, c := range map[string]receipt.Claims{
		"no result":                {Reference: "r"},
		"error without a code":     {Result: receipt.Error},
		"success naming an error":  {Result: receipt.Success, Error: "revoked"},
		"credential without an id": {Result: receipt.Success, Credential: &receipt.Credential{Issuer: "did:web:x"}},
	} {
		if _, err := s.Sign(c); errcode.CodeOf(err) != errcode.ReceiptMalformed {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every claim within its own bound can still add up to a receipt larger
// than Verify accepts: Sign must refuse it rather than hand out a receipt
// that no one can check.
func TestSignRefusesReceiptVerifyWouldRefuse(t *testing.T) {
	s, _ := newSigner(t, jwa.EdDSA)
	c := sample()
	for i := 0; i < 16; i++ {
		c.Chain = append(c.Chain, fmt.Sprintf("did:web:hop%d.example:%s", i, strings.Repeat("a", 1000)))
	}
	jwt, err := s.Sign(c)
	if err == nil {
		if _, verr := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline)}); verr != nil {
			t.Fatalf("Sign made a receipt of %d bytes that Verify refuses: %v", len(jwt), verr)
		}
		t.Fatalf("the test's receipt (%d bytes) is not over the limit", len(jwt))
	}
	if errcode.CodeOf(err) != errcode.ReceiptMalformed {
		t.Fatalf("Sign: %v, want receipt_malformed", err)
	}
}

func TestReferenceIsSDHash(t *testing.T) {
	issuerKey, iss := testkeys.DIDKey(t, jwa.ES256)
	holder, _ := testkeys.DIDKey(t, jwa.EdDSA)
	hpub, _ := keyutil.Public(holder)
	cred, err := sdjwt.Issue(map[string]any{"iss": iss, "vct": "x", "cnf": map[string]any{"jwk": hpub}, "a": 1, "b": 2}, []string{"/a", "/b"}, issuerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{"/a"}, &sdjwt.KBOptions{Key: holder, Audience: "aud", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sdjwt.Parse(pres, sdjwt.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := receipt.Reference(pres), sdjwt.SDHash(tok.SDHashInput()); got != want {
		t.Fatalf("reference %s, sd_hash input digest %s", got, want)
	}
	// Without a KB-JWT, the same: the SD-JWT through its last '~'.
	noKB := tok.SDHashInput()
	if receipt.Reference(noKB) != receipt.Reference(pres) {
		t.Fatal("reference differs without the KB-JWT")
	}
	// A chain: over its final element.
	chain := cred + "~" + noKB
	if receipt.Reference(chain) != receipt.Reference(noKB) {
		t.Fatal("chain reference is not over the final element")
	}
	jwt, _, _ := strings.Cut(pres, "~")
	// The credential digest: SHA-256 of the issuer JWT's signing input.
	signingInput := jwt[:strings.LastIndex(jwt, ".")]
	if receipt.CredentialID(pres) != sdjwt.SDHash(signingInput) || receipt.CredentialID(pres) != receipt.CredentialID(cred) {
		t.Fatal("credential id is not the credential digest of the issuer-signed JWT")
	}
	if receipt.CredentialID("not-a-jwt~") != "" {
		t.Fatal("a credential id for no JWT")
	}
}

// RFC 8785 section 3.2.2 (input with numbers and escapes) and 3.2.3
// (sorting by UTF-16 code units): the canonical form and its digest.
func TestJSONDigestRFC8785(t *testing.T) {
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	var v any
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	got, err := receipt.Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	if string(got) != want {
		t.Fatalf("canonical\n got %s\nwant %s", got, want)
	}
	sorting := map[string]any{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
		"\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
	got, err = receipt.Canonical(sorting)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"\r":"Carriage Return","1":"One","` + "\u0080" + `":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","` + "\U0001f600" + `":"Emoji: Grinning Face","` + "\ufb33" + `":"Hebrew Letter Dalet With Dagesh"}`
	if string(got) != want {
		t.Fatalf("sorted\n got %q\nwant %q", got, want)
	}
	a, _ := receipt.JSONDigest(map[string]any{"amount": json.Number("100.50"), "currency": "EUR"})
	b, _ := receipt.JSONDigest(map[string]any{"currency": "EUR", "amount": 100.5})
	c, _ := receipt.JSONDigest(map[string]any{"currency": "EUR", "amount": 100.51})
	if a == "" || a != b || a == c {
		t.Fatalf("digests %s %s %s", a, b, c)
	}
	if d, err := receipt.JSONDigest(nil); d != "" || err != nil {
		t.Fatalf("nil digest %q %v", d, err)
	}
}

func TestFileSinkRotatesAndSearches(t *testing.T) {
	s, _ := newSigner(t, jwa.EdDSA)
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	sink, err := receipt.OpenFileSink(path, 2000, 3)
	if err != nil {
		t.Fatal(err)
	}
	put := func(i int) {
		c := sample()
		c.IssuedAt = int64(1_800_000_000 + i)
		c.Action = []string{"invoices:read", "payments:initiate"}[i%2]
		if i%2 == 0 {
			c.Result, c.Error, c.ErrorDescription, c.Decision = receipt.Success, "", "", &receipt.Decision{Allowed: true}
		}
		jwt, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offline)})
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Put(context.Background(), receipt.Record{Receipt: jwt, Claims: *cl}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 12; i++ {
		put(i)
	}
	for _, f := range []string{path, path + ".1", path + ".2", path + ".3"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.Size() > 2000 || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: size %d mode %v", f, st.Size(), st.Mode())
		}
	}
	if _, err := os.Stat(path + ".4"); err == nil {
		t.Fatal("more than 3 rotated files kept")
	}
	var all []int64
	if _, err := receipt.SearchFile(path, receipt.Filter{}, func(r receipt.Record) error { all = append(all, r.Claims.IssuedAt); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || len(all) >= 12 {
		t.Fatalf("kept %d records (the oldest rotated away)", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i] != all[i-1]+1 {
			t.Fatalf("records out of order or missing: %v", all)
		}
	}
	if all[len(all)-1] != 1_800_000_011 {
		t.Fatalf("newest record missing: %v", all)
	}
	var denied int
	if _, err := receipt.SearchFile(path, receipt.Filter{Action: "payments:initiate", Result: receipt.Error, Principal: "did:web:acme.example", Subject: "did:key:zAgent",
		Since: time.Unix(1_800_000_005, 0)}, func(r receipt.Record) error {
		if r.Claims.Action != "payments:initiate" || r.Claims.IssuedAt < 1_800_000_005 {
			t.Fatalf("filter let through %+v", r.Claims)
		}
		denied++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, iat := range all {
		if iat >= 1_800_000_005 && iat%2 == 1 {
			want++
		}
	}
	if denied != want || want == 0 {
		t.Fatalf("matched %d denied records, want %d", denied, want)
	}
	n := 0
	_, _ = receipt.SearchFile(path, receipt.Filter{Subject: "did:key:other"}, func(receipt.Record) error { n++; return nil })
	if n != 0 {
		t.Fatal("subject filter matched another agent")
	}
	// A torn last line (a crash mid-write) is closed off and skipped.
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"receipt":"abc","cla`)
	f.Close()
	sink, err = receipt.OpenFileSink(path, 1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	put(12)
	sink.Close()
	var last int64
	skipped, err := receipt.SearchFile(path, receipt.Filter{}, func(r receipt.Record) error { last = r.Claims.IssuedAt; return nil })
	if err != nil || skipped != 1 || last != 1_800_000_012 {
		t.Fatalf("skipped %d, last %d, err %v", skipped, last, err)
	}
}

// A line longer than any record (garbage written into the log) is skipped
// and counted like any line that does not parse, and the search goes on:
// the records after it are found. Lines of both kinds of ending, and one
// just short of the bound, are read too.
func TestSearchSkipsOverlongLine(t *testing.T) {
	rec := func(iat int) string {
		return fmt.Sprintf(`{"receipt":"x.y.z","claims":{"iss":"did:key:z","iat":%d,"jti":"j%d","result":"success"}}`, iat, iat)
	}
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	long := `{"receipt":"` + strings.Repeat("g", 200<<10) + `"}`
	content := rec(1) + "\n" + long + "\n" + rec(2) + "\r\n" + strings.Repeat(" ", 90<<10) + rec(3) + "\n" + long + "\n" + rec(4)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []int64
	skipped, err := receipt.SearchFile(path, receipt.Filter{}, func(r receipt.Record) error { got = append(got, r.Claims.IssuedAt); return nil })
	if err != nil || skipped != 2 || fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("found %v, skipped %d, err %v; want [1 2 3 4], the two 200 KiB lines skipped", got, skipped, err)
	}
}

// A temporary file left by a crash while the key was being written is not
// the key: it is ignored, a key is made, and the leftover is removed.
func TestSealedKeyIgnoresLeftoverTemp(t *testing.T) {
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	file := filepath.Join(dir, "receipt.key")
	leftover := filepath.Join(dir, ".receipt.key.tmp-123456")
	if err := os.WriteFile(leftover, []byte("c2VhbGVk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := receipt.LoadSealedKey(file, kek, jwa.ES256); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "receipt.key" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want receipt.key alone", names)
	}
	if _, err := receipt.LoadSealedKey(file, kek, jwa.ES256); err != nil {
		t.Fatal(err)
	}
}

// Two processes starting at once on one data directory end up with one
// key: the second to write finds the first's file and uses it (a rename
// would have replaced a key that may already have signed).
func TestSealedKeyConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	file := filepath.Join(dir, "receipt.key")
	const n = 8
	prints := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			k, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
			if err != nil {
				errs <- err
				return
			}
			tp, _ := k.Thumbprint(crypto.SHA256)
			prints <- string(tp)
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Fatal(err)
		case tp := <-prints:
			seen[tp] = true
		}
	}
	k, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := k.Thumbprint(crypto.SHA256)
	if len(seen) != 1 || !seen[string(tp)] {
		t.Fatalf("%d different keys handed out, want the one in the file", len(seen))
	}
}

// A key file that exists but does not open is never replaced (receipts
// signed with it verify only with its key): the error names the file and
// says what to do.
func TestSealedKeyDamagedFile(t *testing.T) {
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	good := filepath.Join(dir, "good.key")
	if _, err := receipt.LoadSealedKey(good, kek, jwa.ES256); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(good)
	for name, c := range map[string]struct {
		content string
		kek     []byte
		want    []string
	}{
		"empty":     {"", kek, []string{"damaged", "backup", "remove it"}},
		"cut short": {string(whole[:len(whole)/2]), kek, []string{"damaged", "backup", "remove it"}},
		"garbage":   {"not base64!\n", kek, []string{"damaged", "backup", "remove it"}},
		"other kek": {string(whole), make([]byte, 32), []string{"key-encryption key", "backup", "remove it"}},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".key")
		if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := receipt.LoadSealedKey(file, c.kek, jwa.ES256)
		if err == nil {
			t.Fatalf("%s: loaded", name)
		}
		for _, w := range append(c.want, file) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", name, err, w)
			}
		}
		if b, _ := os.ReadFile(file); string(b) != c.content {
			t.Errorf("%s: the file was changed", name)
		}
	}
}

func TestSealedKeyPersists(t *testing.T) {
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	file := filepath.Join(dir, "receipt.key")
	k1, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), `"d"`) {
		t.Fatal("the private key is stored in clear")
	}
	wantSameKeyLoaded(t, file, kek, k1, "a second load made a new key")
	other := make([]byte, 32)
	if _, err := receipt.LoadSealedKey(file, other, jwa.ES256); err == nil {
		t.Fatal("opened with the wrong key-encryption key")
	}
	pub, _ := keyutil.Public(k1)
	kid, err := receipt.KeyID("did:web:v.example", pub)
	if err != nil || !strings.HasPrefix(kid, "did:web:v.example#receipt-") || len(kid) != len("did:web:v.example#receipt-")+16 {
		t.Fatalf("kid %q %v", kid, err)
	}
}

// wantSameKeyLoaded loads the sealed key in file again and fails with why
// unless it is k.
func wantSameKeyLoaded(t *testing.T, file string, kek []byte, k jwk.Key, why string) {
	t.Helper()
	again, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := k.Thumbprint(crypto.SHA256)
	t2, _ := again.Thumbprint(crypto.SHA256)
	if string(t1) != string(t2) {
		t.Fatal(why)
	}
}
