package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/receipt"
)

var (
	_ store.Incidents = (*Store)(nil)
	_ receipt.Sink    = (*Store)(nil)
)

// CreateIncident inserts an open incident; see store.Incidents.
func (s *Store) CreateIncident(ctx context.Context, in store.Incident, a *store.AuditEntry) error {
	occurred, receipts, err := store.CheckIncident(in)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := store.Nanos(in.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		var one int
		if err := w.queryRow("SELECT 1 FROM credentials WHERE id = $1", in.CredentialID).Scan(&one); err != nil {
			return mapErr(err, "create incident %q: credential %q", in.ID, in.CredentialID)
		}
		if _, err := w.exec(`INSERT INTO incidents (id, category, severity, description, occurred_at, requested_action, receipts,
			verifier, credential_id, subject, principal_id, reporter_token_id, reporter, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			in.ID, in.Category, in.Severity, in.Description, occurred, in.RequestedAction, string(receipts),
			in.Verifier, in.CredentialID, in.Subject, in.PrincipalID, in.ReporterTokenID, in.Reporter, created); err != nil {
			return mapErr(err, "create incident %q", in.ID)
		}
		return w.audit(a)
	})
}

// Incident returns one incident.
func (s *Store) Incident(ctx context.Context, id string) (store.Incident, error) {
	return readOne(s, ctx, "incident "+id, "SELECT "+store.IncidentCols+" FROM incidents WHERE id = $1", store.ScanIncident, id)
}

// Incidents returns the incidents matching f, by ascending id.
func (s *Store) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	where, args := []string{"id > $1"}, []any{f.AfterID}
	for _, c := range []struct{ col, v string }{{"credential_id", f.CredentialID}, {"principal_id", f.PrincipalID}, {"state", f.State}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	args = append(args, store.ClampLimit(f.Limit))
	q := "SELECT " + store.IncidentCols + " FROM incidents WHERE " + strings.Join(where, " AND ") + fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args))
	out, err := readAll(s, ctx, "incidents", q, store.ScanIncident, args...)
	if out == nil && err == nil {
		out = []store.Incident{}
	}
	return out, err
}

// ResolveIncident records the resolution of an open incident; a second
// resolution, from this node or another, is ErrConflict.
func (s *Store) ResolveIncident(ctx context.Context, id string, r store.Resolution, a *store.AuditEntry) (store.Incident, error) {
	if err := store.CheckResolution(r); err != nil {
		return store.Incident{}, err
	}
	var out store.Incident
	err := s.write(ctx, func(w *wtx) error {
		at, err := store.Nanos(r.At, s.now, "resolved_at")
		if err != nil {
			return err
		}
		var state string
		if err := w.queryRow("SELECT state FROM incidents WHERE id = $1 FOR UPDATE", id).Scan(&state); err != nil {
			return mapErr(err, "resolve incident %q", id)
		}
		if state != records.IncidentOpen {
			return fmt.Errorf("store: resolve incident %q: already resolved: %w", id, store.ErrConflict)
		}
		if out, err = store.ScanIncident(w.queryRow(`UPDATE incidents SET state = 'resolved', decision = $1, resolution_note = $2,
			resolved_by = $3, resolved_at = $4 WHERE id = $5 AND state = 'open' RETURNING `+store.IncidentCols,
			r.Decision, r.Note, r.By, at, id)); err != nil {
			return mapErr(err, "resolve incident %q", id)
		}
		return w.audit(a)
	})
	if err != nil {
		return store.Incident{}, err
	}
	return out, nil
}

// CredentialAt returns the credential at a status list index.
func (s *Store) CredentialAt(ctx context.Context, listID string, idx int) (store.Credential, error) {
	return readOne(s, ctx, fmt.Sprintf("credential at %s/%d", listID, idx),
		"SELECT "+credCols+" FROM credentials WHERE list_id = $1 AND idx = $2", scanCred, listID, idx)
}

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
