package revocation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/revocation"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func Example() {
	// The issuer keeps a 2-bit list and revokes entry 42.
	l, _ := revocation.NewList(1<<17, 2)
	_ = l.Set(42, revocation.StatusRevoked)
	_ = l.Set(43, revocation.StatusSuspended)

	// IETF encoding (ZLIB, LSB first) and back.
	lst, _ := l.EncodeIETF()
	back, _ := revocation.DecodeIETF(lst, 2, 0)
	v, _ := back.Get(42)
	fmt.Println("IETF entry 42:", v)

	// W3C view for the "suspension" purpose (GZIP, multibase, MSB first).
	enc, _ := l.Project(revocation.StatusSuspended).EncodeW3C()
	w3c, _ := revocation.DecodeW3C(enc, revocation.MinW3CEntries, 0)
	s42, _ := w3c.Get(42)
	s43, _ := w3c.Get(43)
	fmt.Println("W3C suspension bits 42, 43:", s42, s43)

	// An index outside the list is a status_invalid error.
	_, err := back.Get(1 << 17)
	fmt.Println(errcode.CodeOf(err))
	// Output:
	// IETF entry 42: 1
	// W3C suspension bits 42, 43: 0 1
	// status_invalid
}

func ExampleClient() {
	const issuer = "did:web:issuer.example"
	const uri = "https://issuer.example/statuslists/1"
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	// Issuer side: sign the list.
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := jwk.FromRaw(raw)
	_ = key.Set(jwk.KeyIDKey, issuer+"#key-1")
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256)
	pub, _ := key.PublicKey()
	l, _ := revocation.NewList(1024, 2)
	_ = l.Set(7, revocation.StatusRevoked)
	token, _ := revocation.SignToken(l, revocation.TokenClaims{
		Subject: uri, Issuer: issuer, IssuedAt: now, Expires: now.Add(24 * time.Hour), TTL: time.Hour,
	}, key)

	// Verifier side: the Fetch would be the did package's guarded fetcher.
	c := revocation.NewClient(revocation.ClientOptions{
		Fetch: func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
			if url != uri {
				return nil, errcode.New(errcode.FetchFailed, "no such list")
			}
			return []byte(token), nil
		},
		Key: func(_ context.Context, iss string, _ jws.Headers) (jwk.Key, error) {
			if iss != issuer {
				return nil, errcode.New(errcode.KeyNotFound, "unknown issuer")
			}
			return pub, nil
		},
		MaxAge: revocation.DefaultMaxStatusAge,
		Now:    func() time.Time { return now },
	})
	st, err := c.Status(context.Background(), revocation.Reference{URI: uri, Idx: 7}, issuer)
	fmt.Println(st.Value, st.AsOf.Format(time.RFC3339), err)

	_, err = c.Status(context.Background(), revocation.Reference{URI: "https://issuer.example/statuslists/2", Idx: 7}, issuer)
	fmt.Println(errcode.CodeOf(err))
	// Output:
	// 1 2026-11-25T12:00:00Z <nil>
	// status_unavailable
}
