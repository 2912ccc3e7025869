package httpsig_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/agentcert/agentcert/httpsig"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// An agent signs a request; the server parses and verifies it.
func Example() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := jwk.FromRaw(priv)
	kid, _ := httpsig.Thumbprint(key)

	out, _ := http.NewRequest(http.MethodGet, "https://api.example/invoices?page=2", nil)
	now := time.Now()
	in, sig, err := httpsig.Sign(httpsig.Outgoing(out), "sig1",
		httpsig.Components("@method", "@authority", "@path", "@query"),
		httpsig.Params{Created: now, Expires: now.Add(time.Minute), Nonce: "n-1", Alg: httpsig.AlgEd25519, KeyID: kid, Tag: "agentcert"}, key)
	if err != nil {
		panic(err)
	}

	// On the server.
	r := httptest.NewRequest(http.MethodGet, "https://api.example/invoices?page=2", nil)
	r.Header.Set("Signature-Input", in)
	r.Header.Set("Signature", sig)
	sigs, err := httpsig.Parse(r.Header.Values("Signature-Input"), r.Header.Values("Signature"))
	if err != nil {
		panic(err)
	}
	pub, _ := key.PublicKey()
	fmt.Println(sigs[0].Params.KeyID == kid, httpsig.Verify(httpsig.Incoming(r), sigs[0], httpsig.AlgEd25519, pub))
	// Output: true <nil>
}

func ExampleContentDigest() {
	d, _ := httpsig.ContentDigest([]byte(`{"hello": "world"}`), httpsig.DigestSHA256)
	fmt.Println(d)
	fmt.Println(httpsig.CheckContentDigest([]string{d}, []byte(`{"hello": "world"}`)))
	// Output:
	// sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
	// <nil>
}
