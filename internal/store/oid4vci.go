package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
)

// OpenID4VCI state (the contract is oid4vci.State's; storetest.RunOID4VCI
// checks it).

type (
	Offer       = records.Offer
	AccessToken = records.AccessToken
	Redemption  = records.Redemption
	SpentNonce  = records.SpentNonce
)

// OID4VCI is the OpenID4VCI state every store implements beside Store.
type OID4VCI interface {
	// CreateOffer inserts an offer; ErrConflict on a duplicate id, ref or
	// code hash.
	CreateOffer(ctx context.Context, o Offer, a *AuditEntry) error
	// OfferByRef returns the offer whose reference hashes to refHash.
	OfferByRef(ctx context.Context, refHash []byte) (Offer, error)
	// RedeemCode loads the offer whose code hashes to codeHash
	// (ErrNotFound when none), calls decide with it inside the write and
	// applies the Redemption atomically, then returns its Err. decide must
	// be quick and must not call the store.
	RedeemCode(ctx context.Context, codeHash []byte, decide func(Offer) Redemption) error
	// AccessToken returns the access token with that hash and its offer.
	AccessToken(ctx context.Context, hash []byte) (AccessToken, Offer, error)
	// SpendToken marks the token used at at and records the nonces as spent
	// (forgetting spent nonces past their expiry), atomically; an error
	// wrapping ErrConflict and records.ErrTokenSpent or records.ErrNonceSpent
	// when either was used before, ErrNotFound for an unknown token.
	SpendToken(ctx context.Context, tokenHash []byte, nonces []SpentNonce, at time.Time, a *AuditEntry) error
}

var _ OID4VCI = (*SQLite)(nil)

// CreateOffer inserts an offer.
func (s *SQLite) CreateOffer(ctx context.Context, o Offer, a *AuditEntry) error {
	if o.ID == "" || len(o.RefHash) == 0 || len(o.CodeHash) == 0 || len(o.Template) == 0 {
		return errcode.New(errcode.InvalidInput, "store: create offer: id, ref hash, code hash and template are required")
	}
	exp, err := Nanos(o.ExpiresAt, nil, "expires_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := Nanos(o.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		var tx any
		if o.TxCodeHash != nil {
			tx = o.TxCodeHash
		}
		if _, err := w.exec("INSERT INTO oid4vci_offers (id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			o.ID, o.RefHash, o.CodeHash, tx, string(o.Template), o.TokenID, created, exp); err != nil {
			return mapErr(err, "create offer %q", o.ID)
		}
		return w.audit(a)
	})
}

const offerCols = "id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at, attempts, redeemed_at"

func scanOffer(sc interface{ Scan(...any) error }) (Offer, error) {
	var o Offer
	var tpl string
	var created, exp int64
	var redeemed sql.NullInt64
	if err := sc.Scan(&o.ID, &o.RefHash, &o.CodeHash, &o.TxCodeHash, &tpl, &o.TokenID, &created, &exp, &o.Attempts, &redeemed); err != nil {
		return Offer{}, err
	}
	o.Template = []byte(tpl)
	o.CreatedAt, o.ExpiresAt, o.RedeemedAt = FromNanos(created), FromNanos(exp), fromNull(redeemed)
	return o, nil
}

// OfferByRef returns an offer by the hash of its reference.
func (s *SQLite) OfferByRef(ctx context.Context, refHash []byte) (Offer, error) {
	release, err := s.acquire()
	if err != nil {
		return Offer{}, err
	}
	defer release()
	o, err := scanOffer(s.rdb.QueryRowContext(ctx, "SELECT "+offerCols+" FROM oid4vci_offers WHERE ref_hash = ?", refHash))
	if err != nil {
		return Offer{}, mapErr(err, "offer by ref")
	}
	return o, nil
}

// RedeemCode decides on and applies a token request atomically.
func (s *SQLite) RedeemCode(ctx context.Context, codeHash []byte, decide func(Offer) Redemption) error {
	var result error
	err := s.write(ctx, func(w *wtx) error {
		result = nil
		o, err := scanOffer(w.queryRow("SELECT "+offerCols+" FROM oid4vci_offers WHERE code_hash = ?", codeHash))
		if err != nil {
			return mapErr(err, "redeem code")
		}
		r := decide(o)
		if r.FailedAttempt {
			if _, err := w.exec("UPDATE oid4vci_offers SET attempts = attempts + 1 WHERE id = ?", o.ID); err != nil {
				return mapErr(err, "redeem code: count attempt")
			}
		}
		if t := r.Token; t != nil {
			at, err := Nanos(t.CreatedAt, s.now, "created_at")
			if err != nil {
				return err
			}
			exp, err := Nanos(t.ExpiresAt, nil, "expires_at")
			if err != nil {
				return err
			}
			res, err := w.exec("UPDATE oid4vci_offers SET redeemed_at = ? WHERE id = ? AND redeemed_at IS NULL", at, o.ID)
			if err != nil {
				return mapErr(err, "redeem code")
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("store: redeem code: offer %q already redeemed: %w", o.ID, ErrConflict)
			}
			if _, err := w.exec("INSERT INTO oid4vci_tokens (hash, offer_id, created_at, expires_at) VALUES (?, ?, ?, ?)", t.Hash, o.ID, at, exp); err != nil {
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
func (s *SQLite) AccessToken(ctx context.Context, hash []byte) (AccessToken, Offer, error) {
	release, err := s.acquire()
	if err != nil {
		return AccessToken{}, Offer{}, err
	}
	defer release()
	var t AccessToken
	var created, exp int64
	var used sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, "SELECT hash, offer_id, created_at, expires_at, used_at FROM oid4vci_tokens WHERE hash = ?", hash).
		Scan(&t.Hash, &t.OfferID, &created, &exp, &used); err != nil {
		return AccessToken{}, Offer{}, mapErr(err, "access token")
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = FromNanos(created), FromNanos(exp), fromNull(used)
	o, err := scanOffer(s.rdb.QueryRowContext(ctx, "SELECT "+offerCols+" FROM oid4vci_offers WHERE id = ?", t.OfferID))
	if err != nil {
		return AccessToken{}, Offer{}, mapErr(err, "access token: offer")
	}
	return t, o, nil
}

// SpendToken uses an access token and spends nonces atomically.
func (s *SQLite) SpendToken(ctx context.Context, tokenHash []byte, nonces []SpentNonce, at time.Time, a *AuditEntry) error {
	for _, n := range nonces {
		if len(n.ID) == 0 {
			return errcode.New(errcode.InvalidInput, "store: spend token: a nonce without id")
		}
		if _, err := Nanos(n.ExpiresAt, nil, "nonce expires_at"); err != nil {
			return err
		}
	}
	return s.write(ctx, func(w *wtx) error {
		now, err := Nanos(at, s.now, "used_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("DELETE FROM oid4vci_spent_nonces WHERE expires_at <= ?", now); err != nil {
			return mapErr(err, "spend token: forget expired nonces")
		}
		res, err := w.exec("UPDATE oid4vci_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL", now, tokenHash)
		if err != nil {
			return mapErr(err, "spend token")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			var one int
			if err := w.queryRow("SELECT 1 FROM oid4vci_tokens WHERE hash = ?", tokenHash).Scan(&one); err != nil {
				return mapErr(err, "spend token")
			}
			return fmt.Errorf("store: spend token: %w: %w", ErrConflict, records.ErrTokenSpent)
		}
		for _, n := range nonces {
			exp, _ := Nanos(n.ExpiresAt, nil, "nonce expires_at")
			if _, err := w.exec("INSERT INTO oid4vci_spent_nonces (id, expires_at) VALUES (?, ?)", n.ID, exp); err != nil {
				if e := mapErr(err, "spend nonce"); errcode.CodeOf(e) == errcode.Conflict {
					return fmt.Errorf("store: spend token: %w: %w", ErrConflict, records.ErrNonceSpent)
				}
				return mapErr(err, "spend nonce")
			}
		}
		return w.audit(a)
	})
}
