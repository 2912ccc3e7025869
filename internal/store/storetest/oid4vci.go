package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
)

// OID4VCIStore is a store with the OpenID4VCI state.
type OID4VCIStore interface {
	store.Store
	store.OID4VCI
}

// RunOID4VCI runs the contract suite of the OpenID4VCI state (see
// oid4vci.State) against the stores open returns: single-use codes under
// concurrency, counted attempts, single-use access tokens and nonces, and
// audit entries atomic with each change.
func RunOID4VCI(t *testing.T, open func(t *testing.T) OID4VCIStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s OID4VCIStore)
	}{
		{"Offers", testOffers},
		{"RedeemAttempts", testRedeemAttempts},
		{"RedeemOnce", testRedeemOnce},
		{"ConcurrentAttempts", testConcurrentAttempts},
		{"SpendToken", testSpendToken},
		{"SpendNonceAtomic", testSpendNonceAtomic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func h(s string) []byte { return bytes.Repeat([]byte(s), 32/len(s)+1)[:32] }

func offer(id string) store.Offer {
	return store.Offer{
		ID: id, RefHash: h("ref-" + id), CodeHash: h("code-" + id), Template: json.RawMessage(`{"request":{}}`),
		TokenID: "tok-issuer", CreatedAt: at(0), ExpiresAt: at(15 * time.Minute),
	}
}

func testOffers(t *testing.T, s OID4VCIStore) {
	o := offer("o1")
	o.TxCodeHash = h("tx")
	must(t, s.CreateOffer(ctx(t), o, ae("oid4vci.offer.create", "o1")), "CreateOffer")
	got, err := s.OfferByRef(ctx(t), o.RefHash)
	must(t, err, "OfferByRef")
	if got.ID != "o1" || !bytes.Equal(got.CodeHash, o.CodeHash) || !bytes.Equal(got.TxCodeHash, o.TxCodeHash) || string(got.Template) != string(o.Template) ||
		got.TokenID != "tok-issuer" || !got.CreatedAt.Equal(o.CreatedAt) || !got.ExpiresAt.Equal(o.ExpiresAt) || got.Attempts != 0 || got.RedeemedAt != nil {
		t.Fatalf("OfferByRef = %+v, want %+v", got, o)
	}
	if byCode, err := s.OfferByCode(ctx(t), o.CodeHash); err != nil || byCode.ID != "o1" || !bytes.Equal(byCode.RefHash, o.RefHash) {
		t.Fatalf("OfferByCode = %+v, %v; want o1", byCode, err)
	}
	wantIs(t, func() error { _, err := s.OfferByCode(ctx(t), h("no such code")); return err }(), store.ErrNotFound, "OfferByCode of an unknown code")
	wantAuditCount(t, s, 1, "after CreateOffer")
	for name, dup := range map[string]store.Offer{
		"id":   func() store.Offer { d := offer("o2"); d.ID = "o1"; return d }(),
		"ref":  func() store.Offer { d := offer("o2"); d.RefHash = o.RefHash; return d }(),
		"code": func() store.Offer { d := offer("o2"); d.CodeHash = o.CodeHash; return d }(),
	} {
		wantIs(t, s.CreateOffer(ctx(t), dup, ae("oid4vci.offer.create", "o2")), store.ErrConflict, "duplicate "+name)
	}
	wantAuditCount(t, s, 1, "after refused duplicates")
	_, err = s.OfferByRef(ctx(t), h("nope"))
	wantIs(t, err, store.ErrNotFound, "OfferByRef unknown")
	wantCode(t, s.CreateOffer(ctx(t), store.Offer{ID: "x"}, nil), errcode.InvalidInput, "CreateOffer without hashes")
	plain := offer("o3")
	must(t, s.CreateOffer(ctx(t), plain, nil), "CreateOffer without tx code")
	if got, _ := s.OfferByRef(ctx(t), plain.RefHash); got.TxCodeHash != nil {
		t.Fatalf("TxCodeHash = %x, want nil", got.TxCodeHash)
	}
}

func testRedeemAttempts(t *testing.T, s OID4VCIStore) {
	o := offer("o1")
	must(t, s.CreateOffer(ctx(t), o, nil), "CreateOffer")
	err := s.RedeemCode(ctx(t), h("unknown"), func(store.Offer) store.Redemption {
		t.Error("decide called for an unknown code")
		return store.Redemption{}
	})
	wantIs(t, err, store.ErrNotFound, "RedeemCode unknown")
	wrong := errors.New("wrong tx code")
	for i := 1; i <= 3; i++ {
		err := s.RedeemCode(ctx(t), o.CodeHash, func(got store.Offer) store.Redemption {
			if got.Attempts != i-1 {
				t.Errorf("attempt %d: decide saw %d attempts", i, got.Attempts)
			}
			return store.Redemption{FailedAttempt: true, Err: wrong, Audit: ae("oid4vci.token.refuse", o.ID)}
		})
		if err != wrong {
			t.Fatalf("attempt %d: err %v, want the decision's error", i, err)
		}
	}
	got, err := s.OfferByRef(ctx(t), o.RefHash)
	must(t, err, "OfferByRef")
	if got.Attempts != 3 || got.RedeemedAt != nil {
		t.Fatalf("after 3 failures: attempts %d redeemed %v", got.Attempts, got.RedeemedAt)
	}
	wantAuditCount(t, s, 3, "refusals are audited")
}

func token(offerID, secret string) *store.AccessToken {
	return &store.AccessToken{Hash: h("tok-" + secret), OfferID: offerID, CreatedAt: at(time.Minute), ExpiresAt: at(6 * time.Minute)}
}

func testRedeemOnce(t *testing.T, s OID4VCIStore) {
	o := offer("o1")
	must(t, s.CreateOffer(ctx(t), o, nil), "CreateOffer")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	used := errors.New("used")
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.RedeemCode(ctx(t), o.CodeHash, func(got store.Offer) store.Redemption {
				if got.RedeemedAt != nil {
					return store.Redemption{Err: used}
				}
				return store.Redemption{Token: token(o.ID, string(rune('a'+i))), Audit: ae("oid4vci.token", o.ID)}
			})
			switch err {
			case nil:
				mu.Lock()
				won++
				mu.Unlock()
			case used:
			default:
				t.Errorf("RedeemCode: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d concurrent redemptions got a token, want exactly 1", won)
	}
	got, _ := s.OfferByRef(ctx(t), o.RefHash)
	if got.RedeemedAt == nil || !got.RedeemedAt.Equal(at(time.Minute)) {
		t.Fatalf("RedeemedAt = %v, want %v", got.RedeemedAt, at(time.Minute))
	}
	wantAuditCount(t, s, 1, "one redemption audited")
	// A decision that redeems an offer already redeemed is refused by the store.
	err := s.RedeemCode(ctx(t), o.CodeHash, func(store.Offer) store.Redemption {
		return store.Redemption{Token: token(o.ID, "late"), Audit: ae("oid4vci.token", o.ID)}
	})
	wantIs(t, err, store.ErrConflict, "second redemption")
	wantAuditCount(t, s, 1, "a refused redemption writes no audit entry")
}

func testConcurrentAttempts(t *testing.T, s OID4VCIStore) {
	o := offer("o1")
	must(t, s.CreateOffer(ctx(t), o, nil), "CreateOffer")
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.RedeemCode(ctx(t), o.CodeHash, func(store.Offer) store.Redemption {
				return store.Redemption{FailedAttempt: true, Err: errors.New("wrong")}
			})
		}()
	}
	wg.Wait()
	got, _ := s.OfferByRef(ctx(t), o.RefHash)
	if got.Attempts != n {
		t.Fatalf("attempts %d after %d concurrent failures: attempts were lost", got.Attempts, n)
	}
}

func redeemed(t *testing.T, s OID4VCIStore, id, secret string) *store.AccessToken {
	t.Helper()
	o := offer(id)
	must(t, s.CreateOffer(ctx(t), o, nil), "CreateOffer")
	tok := token(id, secret)
	must(t, s.RedeemCode(ctx(t), o.CodeHash, func(store.Offer) store.Redemption { return store.Redemption{Token: tok} }), "RedeemCode")
	return tok
}

func testSpendToken(t *testing.T, s OID4VCIStore) {
	tok := redeemed(t, s, "o1", "a")
	got, o, err := s.AccessToken(ctx(t), tok.Hash)
	must(t, err, "AccessToken")
	if got.OfferID != "o1" || o.ID != "o1" || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.CreatedAt.Equal(tok.CreatedAt) || got.UsedAt != nil {
		t.Fatalf("AccessToken = %+v (offer %s)", got, o.ID)
	}
	_, _, err = s.AccessToken(ctx(t), h("nope"))
	wantIs(t, err, store.ErrNotFound, "AccessToken unknown")
	nonces := []store.SpentNonce{{ID: h("n1"), ExpiresAt: at(10 * time.Minute)}}
	must(t, s.SpendToken(ctx(t), tok.Hash, nonces, at(2*time.Minute), ae("oid4vci.credential", "o1")), "SpendToken")
	got, _, _ = s.AccessToken(ctx(t), tok.Hash)
	if got.UsedAt == nil || !got.UsedAt.Equal(at(2*time.Minute)) {
		t.Fatalf("UsedAt = %v", got.UsedAt)
	}
	err = s.SpendToken(ctx(t), tok.Hash, []store.SpentNonce{{ID: h("n2"), ExpiresAt: at(10 * time.Minute)}}, at(3*time.Minute), ae("oid4vci.credential", "o1"))
	wantIs(t, err, store.ErrConflict, "token spent twice")
	wantIs(t, err, records.ErrTokenSpent, "token spent twice")
	if errors.Is(err, records.ErrNonceSpent) {
		t.Fatalf("token reuse reported as a nonce reuse: %v", err)
	}
	wantIs(t, s.SpendToken(ctx(t), h("nope"), nil, at(3*time.Minute), nil), store.ErrNotFound, "SpendToken unknown")
	wantAuditCount(t, s, 1, "only the successful spend is audited")
}

func testSpendNonceAtomic(t *testing.T, s OID4VCIStore) {
	a := redeemed(t, s, "o1", "a")
	b := redeemed(t, s, "o2", "b")
	n1 := store.SpentNonce{ID: h("n1"), ExpiresAt: at(10 * time.Minute)}
	must(t, s.SpendToken(ctx(t), a.Hash, []store.SpentNonce{n1}, at(2*time.Minute), nil), "SpendToken a")
	n2 := store.SpentNonce{ID: h("n2"), ExpiresAt: at(10 * time.Minute)}
	err := s.SpendToken(ctx(t), b.Hash, []store.SpentNonce{n2, n1}, at(3*time.Minute), ae("oid4vci.credential", "o2"))
	wantIs(t, err, store.ErrConflict, "nonce reused")
	wantIs(t, err, records.ErrNonceSpent, "nonce reused")
	got, _, _ := s.AccessToken(ctx(t), b.Hash)
	if got.UsedAt != nil {
		t.Fatal("a refused spend marked the token used")
	}
	wantAuditCount(t, s, 0, "a refused spend writes no audit entry")
	// n2 was rolled back with the refusal: spending it now succeeds.
	must(t, s.SpendToken(ctx(t), b.Hash, []store.SpentNonce{n2}, at(3*time.Minute), nil), "SpendToken b with n2")
	// Spent nonces are forgotten once they would have expired.
	c := redeemed(t, s, "o3", "c")
	must(t, s.SpendToken(ctx(t), c.Hash, []store.SpentNonce{{ID: n1.ID, ExpiresAt: at(30 * time.Minute)}}, at(11*time.Minute), nil), "n1 after its expiry")
	wantCode(t, s.SpendToken(ctx(t), c.Hash, []store.SpentNonce{{ExpiresAt: at(time.Hour)}}, at(12*time.Minute), nil), errcode.InvalidInput, "nonce without id")
}
