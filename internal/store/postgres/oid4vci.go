package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
)

// The OpenID4VCI state (store.OID4VCI). Several nodes share it: a
// redemption locks its offer row (FOR UPDATE), a token is used by a
// conditional UPDATE and a nonce is spent by its primary key, so every
// invariant holds across nodes.

var _ store.OID4VCI = (*Store)(nil)

// CreateOffer inserts an offer.
func (s *Store) CreateOffer(ctx context.Context, o store.Offer, a *store.AuditEntry) error {
	if o.ID == "" || len(o.RefHash) == 0 || len(o.CodeHash) == 0 || len(o.Template) == 0 {
		return errcode.New(errcode.InvalidInput, "store: create offer: id, ref hash, code hash and template are required")
	}
	exp, err := store.Nanos(o.ExpiresAt, nil, "expires_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := store.Nanos(o.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("INSERT INTO oid4vci_offers (id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			o.ID, o.RefHash, o.CodeHash, o.TxCodeHash, string(o.Template), o.TokenID, created, exp); err != nil {
			return mapErr(err, "create offer %q", o.ID)
		}
		return w.audit(a)
	})
}

const offerCols = "id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at, attempts, redeemed_at"

func scanOffer(sc interface{ Scan(...any) error }) (store.Offer, error) {
	var o store.Offer
	var tpl string
	var created, exp int64
	var redeemed *int64
	if err := sc.Scan(&o.ID, &o.RefHash, &o.CodeHash, &o.TxCodeHash, &tpl, &o.TokenID, &created, &exp, &o.Attempts, &redeemed); err != nil {
		return store.Offer{}, err
	}
	o.Template = []byte(tpl)
	o.CreatedAt, o.ExpiresAt, o.RedeemedAt = store.FromNanos(created), store.FromNanos(exp), fromNull(redeemed)
	return o, nil
}

// OfferByRef returns an offer by the hash of its reference.
func (s *Store) OfferByRef(ctx context.Context, refHash []byte) (store.Offer, error) {
	return readOne(s, ctx, "offer by ref", "SELECT "+offerCols+" FROM oid4vci_offers WHERE ref_hash = $1", scanOffer, refHash)
}

// RedeemCode decides on and applies a token request atomically, holding
// the offer's row lock.
func (s *Store) RedeemCode(ctx context.Context, codeHash []byte, decide func(store.Offer) store.Redemption) error {
	var result error
	err := s.write(ctx, func(w *wtx) error {
		result = nil
		o, err := scanOffer(w.queryRow("SELECT "+offerCols+" FROM oid4vci_offers WHERE code_hash = $1 FOR UPDATE", codeHash))
		if err != nil {
			return mapErr(err, "redeem code")
		}
		r := decide(o)
		if r.FailedAttempt {
			if _, err := w.exec("UPDATE oid4vci_offers SET attempts = attempts + 1 WHERE id = $1", o.ID); err != nil {
				return mapErr(err, "redeem code: count attempt")
			}
		}
		if t := r.Token; t != nil {
			at, err := store.Nanos(t.CreatedAt, s.now, "created_at")
			if err != nil {
				return err
			}
			exp, err := store.Nanos(t.ExpiresAt, nil, "expires_at")
			if err != nil {
				return err
			}
			tag, err := w.exec("UPDATE oid4vci_offers SET redeemed_at = $1 WHERE id = $2 AND redeemed_at IS NULL", at, o.ID)
			if err != nil {
				return mapErr(err, "redeem code")
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("store: redeem code: offer %q already redeemed: %w", o.ID, store.ErrConflict)
			}
			if _, err := w.exec("INSERT INTO oid4vci_tokens (hash, offer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)", t.Hash, o.ID, at, exp); err != nil {
				return mapErr(err, "redeem code: store token")
			}
		}
		if err := w.audit(r.Audit); err != nil {
			return err
		}
		result = r.Err
		return nil
	})
	if err != nil {
		return err
	}
	return result
}

// AccessToken returns an access token and its offer.
func (s *Store) AccessToken(ctx context.Context, hash []byte) (store.AccessToken, store.Offer, error) {
	type pair struct {
		t store.AccessToken
		o store.Offer
	}
	p, err := readOne(s, ctx, "access token",
		"SELECT t.hash, t.offer_id, t.created_at, t.expires_at, t.used_at, o.id, o.ref_hash, o.code_hash, o.tx_code_hash, o.template, o.token_id, o.created_at, o.expires_at, o.attempts, o.redeemed_at "+
			"FROM oid4vci_tokens t JOIN oid4vci_offers o ON o.id = t.offer_id WHERE t.hash = $1",
		func(sc interface{ Scan(...any) error }) (pair, error) {
			var p pair
			var created, exp, ocreated, oexp int64
			var used, redeemed *int64
			var tpl string
			if err := sc.Scan(&p.t.Hash, &p.t.OfferID, &created, &exp, &used, &p.o.ID, &p.o.RefHash, &p.o.CodeHash, &p.o.TxCodeHash, &tpl, &p.o.TokenID, &ocreated, &oexp, &p.o.Attempts, &redeemed); err != nil {
				return pair{}, err
			}
			p.t.CreatedAt, p.t.ExpiresAt, p.t.UsedAt = store.FromNanos(created), store.FromNanos(exp), fromNull(used)
			p.o.Template = []byte(tpl)
			p.o.CreatedAt, p.o.ExpiresAt, p.o.RedeemedAt = store.FromNanos(ocreated), store.FromNanos(oexp), fromNull(redeemed)
			return p, nil
		}, hash)
	return p.t, p.o, err
}

// SpendToken uses an access token and spends nonces atomically.
func (s *Store) SpendToken(ctx context.Context, tokenHash []byte, nonces []store.SpentNonce, at time.Time, a *store.AuditEntry) error {
	exps := make([]int64, len(nonces))
	for i, n := range nonces {
		if len(n.ID) == 0 {
			return errcode.New(errcode.InvalidInput, "store: spend token: a nonce without id")
		}
		var err error
		if exps[i], err = store.Nanos(n.ExpiresAt, nil, "nonce expires_at"); err != nil {
			return err
		}
	}
	return s.write(ctx, func(w *wtx) error {
		now, err := store.Nanos(at, s.now, "used_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("DELETE FROM oid4vci_spent_nonces WHERE expires_at <= $1", now); err != nil {
			return mapErr(err, "spend token: forget expired nonces")
		}
		tag, err := w.exec("UPDATE oid4vci_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL", now, tokenHash)
		if err != nil {
			return mapErr(err, "spend token")
		}
		if tag.RowsAffected() != 1 {
			var one int
			if err := w.queryRow("SELECT 1 FROM oid4vci_tokens WHERE hash = $1", tokenHash).Scan(&one); err != nil {
				return mapErr(err, "spend token")
			}
			return fmt.Errorf("store: spend token: %w: %w", store.ErrConflict, records.ErrTokenSpent)
		}
		for i, n := range nonces {
			tag, err := w.exec("INSERT INTO oid4vci_spent_nonces (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", n.ID, exps[i])
			if err != nil {
				return mapErr(err, "spend nonce")
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("store: spend token: %w: %w", store.ErrConflict, records.ErrNonceSpent)
			}
		}
		return w.audit(a)
	})
}
