package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/receipt"
)

var (
	_ store.Incidents = (*Store)(nil)
	_ receipt.Sink    = (*Store)(nil)
)

// Put records a receipt in the action log (receipt.Sink). It returns once
// the row is committed; the same receipt twice is recorded once.
func (s *Store) Put(ctx context.Context, r receipt.Record) error {
	claims, err := json.Marshal(r.Claims)
	if err != nil {
		return fmt.Errorf("store: receipt: %w", err)
	}
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	c := r.Claims
	chain := c.Chain
	if chain == nil {
		chain = []string{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO receipts (jti, iss, iat, result, subject, chain, principal, action, receipt, claims)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (iss, jti) DO NOTHING`,
		c.ID, c.Issuer, c.IssuedAt, c.Result, c.Subject, chain, c.Principal, c.Action, r.Receipt, claims); err != nil {
		return mapErr(err, "put receipt %q", c.ID)
	}
	return nil
}

// SearchReceipts calls fn with every recorded receipt f matches, oldest
// first.
func (s *Store) SearchReceipts(ctx context.Context, f receipt.Filter, fn func(receipt.Record) error) error {
	where, args := []string{"TRUE"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Subject != "" {
		args = append(args, f.Subject)
		where = append(where, fmt.Sprintf("(subject = $%d OR $%d = ANY(chain))", len(args), len(args)))
	}
	if f.Principal != "" {
		add("principal = $%d", f.Principal)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.Result != "" {
		add("result = $%d", f.Result)
	}
	if !f.Since.IsZero() {
		add("iat >= $%d", f.Since.Unix())
	}
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	rows, err := s.pool.Query(ctx, "SELECT receipt, claims FROM receipts WHERE "+strings.Join(where, " AND ")+" ORDER BY iat, ord", args...)
	if err != nil {
		return mapErr(err, "search receipts")
	}
	defer rows.Close()
	for rows.Next() {
		var rec receipt.Record
		var claims []byte
		if err := rows.Scan(&rec.Receipt, &claims); err != nil {
			return mapErr(err, "search receipts")
		}
		if err := json.Unmarshal(claims, &rec.Claims); err != nil {
			return fmt.Errorf("store: receipt: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return mapErr(rows.Err(), "search receipts")
}
