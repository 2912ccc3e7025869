package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

func testKeys(t *testing.T, s store.Store) {
	c := ctx(t)
	ks, err := s.Keys(c)
	must(t, err, "Keys")
	if len(ks) != 0 {
		t.Fatalf("Keys on empty store: %d keys", len(ks))
	}
	_, err = s.ActiveKey(c)
	wantIs(t, err, store.ErrNotFound, "ActiveKey with no keys")
	wantCode(t, err, errcode.NotFound, "ActiveKey with no keys")

	k1 := store.Key{KID: "did:web:issuer.example#k1", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte{1, 2, 3}, CreatedAt: at(0)}
	k2 := store.Key{KID: "did:web:issuer.example#k2", Alg: "EdDSA", PublicJWK: []byte(`{"kty":"OKP"}`), PrivateEnc: []byte{4, 5}, CreatedAt: at(time.Hour), Active: true}
	must(t, s.PutKey(c, k2, ae("key.create", k2.KID)), "PutKey k2")
	must(t, s.PutKey(c, k1, ae("key.create", k1.KID)), "PutKey k1")
	wantIs(t, s.PutKey(c, k1, ae("key.create", k1.KID)), store.ErrConflict, "PutKey duplicate kid")

	ks, err = s.Keys(c)
	must(t, err, "Keys")
	if len(ks) != 2 || ks[0].KID != k1.KID || ks[1].KID != k2.KID {
		t.Fatalf("Keys not oldest first: %+v", ks)
	}
	got := ks[0]
	if got.Alg != k1.Alg || !bytes.Equal(got.PublicJWK, k1.PublicJWK) || !bytes.Equal(got.PrivateEnc, k1.PrivateEnc) ||
		!sameTime(got.CreatedAt, k1.CreatedAt) || got.Active || got.RetiredAt != nil {
		t.Fatalf("Keys[0] = %+v, want %+v", got, k1)
	}
	act, err := s.ActiveKey(c)
	must(t, err, "ActiveKey")
	if act.KID != k2.KID {
		t.Fatalf("ActiveKey = %s, want %s", act.KID, k2.KID)
	}

	// Activation moves the single active flag.
	must(t, s.ActivateKey(c, k1.KID, ae("key.activate", k1.KID)), "ActivateKey k1")
	act, err = s.ActiveKey(c)
	must(t, err, "ActiveKey")
	if act.KID != k1.KID {
		t.Fatalf("ActiveKey after ActivateKey = %s", act.KID)
	}
	ks, _ = s.Keys(c)
	if n := countActive(ks); n != 1 {
		t.Fatalf("%d active keys, want 1", n)
	}
	must(t, s.ActivateKey(c, k1.KID, nil), "ActivateKey already active")
	wantIs(t, s.ActivateKey(c, "did:web:issuer.example#nope", nil), store.ErrNotFound, "ActivateKey missing")

	// Retirement.
	wantIs(t, s.RetireKey(c, k1.KID, at(2*time.Hour), nil), store.ErrConflict, "RetireKey active key")
	wantIs(t, s.RetireKey(c, "did:web:issuer.example#nope", at(2*time.Hour), nil), store.ErrNotFound, "RetireKey missing")
	must(t, s.RetireKey(c, k2.KID, at(2*time.Hour), ae("key.retire", k2.KID)), "RetireKey k2")
	wantIs(t, s.RetireKey(c, k2.KID, at(3*time.Hour), nil), store.ErrConflict, "RetireKey twice")
	wantIs(t, s.ActivateKey(c, k2.KID, nil), store.ErrConflict, "ActivateKey retired")
	ks, _ = s.Keys(c)
	if !samePtrTime(ks[1].RetiredAt, ptr(at(2*time.Hour))) {
		t.Fatalf("RetiredAt = %v, want %v", ks[1].RetiredAt, at(2*time.Hour))
	}

	// Putting an active key deactivates the previous one.
	k3 := store.Key{KID: "did:web:issuer.example#k3", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{9}, CreatedAt: at(4 * time.Hour), Active: true}
	must(t, s.PutKey(c, k3, nil), "PutKey active k3")
	ks, _ = s.Keys(c)
	if n := countActive(ks); n != 1 || !ks[2].Active {
		t.Fatalf("after PutKey active: %+v", ks)
	}
	wantAuditCount(t, s, 4, "key changes")
}

func countActive(ks []store.Key) int {
	n := 0
	for _, k := range ks {
		if k.Active {
			n++
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func testKeyInvalid(t *testing.T, s store.Store) {
	ok := store.Key{KID: "did:web:x#1", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, CreatedAt: at(0)}
	tests := []struct {
		name string
		edit func(k *store.Key)
	}{
		{"empty kid", func(k *store.Key) { k.KID = "" }},
		{"alg none", func(k *store.Key) { k.Alg = "none" }},
		{"alg HS256", func(k *store.Key) { k.Alg = "HS256" }},
		{"no public key", func(k *store.Key) { k.PublicJWK = nil }},
		{"no private key", func(k *store.Key) { k.PrivateEnc = nil }},
		{"active and retired", func(k *store.Key) { k.Active = true; k.RetiredAt = ptr(at(0)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := ok
			tc.edit(&k)
			wantCode(t, s.PutKey(ctx(t), k, ae("key.create", k.KID)), errcode.InvalidInput, "PutKey")
		})
	}
	ks, err := s.Keys(ctx(t))
	must(t, err, "Keys")
	if len(ks) != 0 {
		t.Fatalf("invalid keys were stored: %+v", ks)
	}
	wantAuditCount(t, s, 0, "invalid keys")
}
