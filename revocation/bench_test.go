package revocation

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testkeys"
)

const benchEntries = 1 << 20 // 1,048,576

// benchList returns a list of benchEntries entries with 1% of them set to v
// at random positions (fixed seed), as random index allocation scatters them
// in practice; an evenly spaced pattern would compress unrealistically well.
func benchList(b *testing.B, bits int, v uint8) *List {
	b.Helper()
	l, err := NewList(benchEntries, bits)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for set := 0; set < benchEntries/100; {
		i := rng.IntN(benchEntries)
		if got, _ := l.Get(i); got == v {
			continue
		}
		if err := l.Set(i, v); err != nil {
			b.Fatal(err)
		}
		set++
	}
	return l
}

func BenchmarkEncodeIETF(b *testing.B) {
	l := benchList(b, 2, StatusRevoked)
	b.SetBytes(int64(len(l.b)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.EncodeIETF(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeIETF(b *testing.B) {
	lst, err := benchList(b, 2, StatusRevoked).EncodeIETF()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchEntries * 2 / 8)
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecodeIETF(lst, 2, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeW3C(b *testing.B) {
	l := benchList(b, 1, 1)
	b.SetBytes(int64(len(l.b)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.EncodeW3C(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeW3C(b *testing.B) {
	enc, err := benchList(b, 1, 1).EncodeW3C()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchEntries / 8)
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecodeW3C(enc, MinW3CEntries, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachedStatus measures a Status lookup served from the cache (no
// fetch, no verification): a map lookup, an LRU touch and an O(1) Get.
func BenchmarkCachedStatus(b *testing.B) {
	l := benchList(b, 2, StatusRevoked)
	key := testkeys.New(b, "ES256", "did:web:issuer.example#k")
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const uri = "https://issuer.example/statuslists/1"
	tok, err := SignToken(l, TokenClaims{Subject: uri, Issuer: "did:web:issuer.example", IssuedAt: now, Expires: now.Add(time.Hour)}, key)
	if err != nil {
		b.Fatal(err)
	}
	fetches := 0
	c := NewClient(ClientOptions{
		Fetch: func(context.Context, string, string, int64) ([]byte, error) {
			fetches++
			return []byte(tok), nil
		},
		Key:    staticKey("did:web:issuer.example", publicOf(b, key)),
		MaxAge: time.Hour,
		Now:    func() time.Time { return now },
	})
	ctx := context.Background()
	ref := Reference{URI: uri}
	if _, err := c.Status(ctx, ref, "did:web:issuer.example"); err != nil {
		b.Fatal(err)
	}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		ref.Idx = i & (benchEntries - 1)
		i += 7919
		if _, err := c.Status(ctx, ref, "did:web:issuer.example"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if fetches != 1 {
		b.Fatalf("%d fetches", fetches)
	}
}

// BenchmarkStatusMiss measures a Status lookup that misses the cache
// (MaxAge 0 fetches every time): the token is fetched, parsed once,
// its signature and claims checked and its list decoded, as a verifier
// does when a list is first seen or has gone stale.
func BenchmarkStatusMiss(b *testing.B) {
	l := benchList(b, 2, StatusRevoked)
	key := testkeys.New(b, "ES256", "did:web:issuer.example#k")
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	const uri = "https://issuer.example/statuslists/1"
	tok, err := SignToken(l, TokenClaims{Subject: uri, Issuer: "did:web:issuer.example", IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, key)
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(ClientOptions{
		Fetch: func(context.Context, string, string, int64) ([]byte, error) { return []byte(tok), nil },
		Key:   staticKey("did:web:issuer.example", publicOf(b, key)),
		Now:   func() time.Time { return now },
	})
	ctx := context.Background()
	ref := Reference{URI: uri, Idx: 12345}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Status(ctx, ref, "did:web:issuer.example"); err != nil {
			b.Fatal(err)
		}
	}
}
