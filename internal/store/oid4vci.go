package store

import (
	"context"
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
	// OfferByCode returns the offer whose pre-authorized code hashes to
	// codeHash, read only (RedeemCode is what decides on it).
	OfferByCode(ctx context.Context, codeHash []byte) (Offer, error)
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

// OfferCols are the columns ScanOffer reads.
const OfferCols = "id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at, attempts, redeemed_at"

// ScanOffer reads an offer (OfferCols).
func ScanOffer(sc Scanner) (Offer, error) {
	var o Offer
	var redeemed *int64
	var tpl string
	var created, exp int64
	if err := sc.Scan(&o.ID, &o.RefHash, &o.CodeHash, &o.TxCodeHash, &tpl, &o.TokenID, &created, &exp, &o.Attempts, &redeemed); err != nil {
		return Offer{}, err
	}
	o.Template = []byte(tpl)
	o.CreatedAt, o.ExpiresAt, o.RedeemedAt = FromNanos(created), FromNanos(exp), FromNull(redeemed)
	return o, nil
}

// OfferByRef returns an offer by the hash of its reference.
func (s SQLBase) OfferByRef(ctx context.Context, refHash []byte) (Offer, error) {
	return ReadOne(s.DB, ctx, "offer by ref", "SELECT "+OfferCols+" FROM oid4vci_offers WHERE ref_hash = ?", ScanOffer, refHash)
}

// OfferByCode returns an offer by the hash of its pre-authorized code.
func (s SQLBase) OfferByCode(ctx context.Context, codeHash []byte) (Offer, error) {
	return ReadOne(s.DB, ctx, "offer by code", "SELECT "+OfferCols+" FROM oid4vci_offers WHERE code_hash = ?", ScanOffer, codeHash)
}

// accessTokenSQL selects an access token by its hash with its offer.
const accessTokenSQL = "SELECT t.hash, t.offer_id, t.created_at, t.expires_at, t.used_at, " +
	"o.id, o.ref_hash, o.code_hash, o.tx_code_hash, o.template, o.token_id, o.created_at, o.expires_at, o.attempts, o.redeemed_at " +
	"FROM oid4vci_tokens t JOIN oid4vci_offers o ON o.id = t.offer_id WHERE t.hash = ?"

// AccessToken returns an access token and its offer, read together.
func (s SQLBase) AccessToken(ctx context.Context, hash []byte) (AccessToken, Offer, error) {
	p, err := ReadOne(s.DB, ctx, "access token", accessTokenSQL, scanAccessToken, hash)
	return p.Token, p.Offer, err
}

// tokenOffer is an access token with its offer.
type tokenOffer struct {
	Token AccessToken
	Offer Offer
}

func scanAccessToken(sc Scanner) (tokenOffer, error) {
	var p tokenOffer
	var created, exp, ocreated, oexp int64
	var used, redeemed *int64
	var tpl string
	if err := sc.Scan(&p.Token.Hash, &p.Token.OfferID, &created, &exp, &used, &p.Offer.ID, &p.Offer.RefHash, &p.Offer.CodeHash,
		&p.Offer.TxCodeHash, &tpl, &p.Offer.TokenID, &ocreated, &oexp, &p.Offer.Attempts, &redeemed); err != nil {
		return tokenOffer{}, err
	}
	p.Token.CreatedAt, p.Token.ExpiresAt, p.Token.UsedAt = FromNanos(created), FromNanos(exp), FromNull(used)
	p.Offer.Template = []byte(tpl)
	p.Offer.CreatedAt, p.Offer.ExpiresAt, p.Offer.RedeemedAt = FromNanos(ocreated), FromNanos(oexp), FromNull(redeemed)
	return p, nil
}

// CreateOffer inserts an offer.
func (s SQLBase) CreateOffer(ctx context.Context, o Offer, a *AuditEntry) error {
	if o.ID == "" || len(o.RefHash) == 0 || len(o.CodeHash) == 0 || len(o.Template) == 0 {
		return errcode.New(errcode.InvalidInput, "store: create offer: id, ref hash, code hash and template are required")
	}
	exp, err := Nanos(o.ExpiresAt, nil, "expires_at")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(o.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO oid4vci_offers (id, ref_hash, code_hash, tx_code_hash, template, token_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			o.ID, o.RefHash, o.CodeHash, nullBytes(o.TxCodeHash), string(o.Template), o.TokenID, created, exp); err != nil {
			return tx.MapErr(err, "create offer %q", o.ID)
		}
		return audit(tx, a)
	})
}

// RedeemCode decides on and applies a token request atomically, holding
// the offer (locked where writers share the database).
func (s SQLBase) RedeemCode(ctx context.Context, codeHash []byte, decide func(Offer) Redemption) error {
	var result error
	err := s.Run(ctx, func(tx SQLTx) error {
		result = nil
		o, err := ScanOffer(tx.QueryRow("SELECT "+OfferCols+" FROM oid4vci_offers WHERE code_hash = ?"+tx.Lock(), codeHash))
		if err != nil {
			return tx.MapErr(err, "redeem code")
		}
		r := decide(o)
		if r.FailedAttempt {
			if _, err := tx.Exec("UPDATE oid4vci_offers SET attempts = attempts + 1 WHERE id = ?", o.ID); err != nil {
				return tx.MapErr(err, "redeem code: count attempt")
			}
		}
		if t := r.Token; t != nil {
			at, err := Nanos(t.CreatedAt, s.Now, "created_at")
			if err != nil {
				return err
			}
			exp, err := Nanos(t.ExpiresAt, nil, "expires_at")
			if err != nil {
				return err
			}
			n, err := tx.Exec("UPDATE oid4vci_offers SET redeemed_at = ? WHERE id = ? AND redeemed_at IS NULL", at, o.ID)
			if err != nil {
				return tx.MapErr(err, "redeem code")
			}
			if n != 1 {
				return fmt.Errorf("store: redeem code: offer %q already redeemed: %w", o.ID, ErrConflict)
			}
			if _, err := tx.Exec("INSERT INTO oid4vci_tokens (hash, offer_id, created_at, expires_at) VALUES (?, ?, ?, ?)", t.Hash, o.ID, at, exp); err != nil {
				return tx.MapErr(err, "redeem code: store token")
			}
		}
		if err := audit(tx, r.Audit); err != nil {
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

// SpendToken uses an access token and spends nonces atomically: the token
// by a conditional UPDATE, each nonce by its primary key.
func (s SQLBase) SpendToken(ctx context.Context, tokenHash []byte, nonces []SpentNonce, at time.Time, a *AuditEntry) error {
	exps := make([]int64, len(nonces))
	for i, n := range nonces {
		if len(n.ID) == 0 {
			return errcode.New(errcode.InvalidInput, "store: spend token: a nonce without id")
		}
		var err error
		if exps[i], err = Nanos(n.ExpiresAt, nil, "nonce expires_at"); err != nil {
			return err
		}
	}
	return s.Run(ctx, func(tx SQLTx) error {
		now, err := Nanos(at, s.Now, "used_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM oid4vci_spent_nonces WHERE expires_at <= ?", now); err != nil {
			return tx.MapErr(err, "spend token: forget expired nonces")
		}
		n, err := tx.Exec("UPDATE oid4vci_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL", now, tokenHash)
		if err != nil {
			return tx.MapErr(err, "spend token")
		}
		if n != 1 {
			var one int
			if err := tx.QueryRow("SELECT 1 FROM oid4vci_tokens WHERE hash = ?", tokenHash).Scan(&one); err != nil {
				return tx.MapErr(err, "spend token")
			}
			return fmt.Errorf("store: spend token: %w: %w", ErrConflict, records.ErrTokenSpent)
		}
		for i, nonce := range nonces {
			n, err := tx.Exec("INSERT INTO oid4vci_spent_nonces (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", nonce.ID, exps[i])
			if err != nil {
				return tx.MapErr(err, "spend nonce")
			}
			if n != 1 {
				return fmt.Errorf("store: spend token: %w: %w", ErrConflict, records.ErrNonceSpent)
			}
		}
		return audit(tx, a)
	})
}
