package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
)

type (
	Incident       = records.Incident
	IncidentFilter = records.IncidentFilter
	Resolution     = records.Resolution
	// IncidentResolution is records.IncidentResolution.
	IncidentResolution = records.IncidentResolution
)

// Incidents is the incident part of a store, beside the Store contract
// (storetest.RunIncidents checks it):
//
//   - CreateIncident inserts an open incident (State, Decision and the
//     resolution fields are ignored); ErrConflict on a duplicate id,
//     ErrNotFound when its credential does not exist, invalid_input for
//     text with a NUL character or that is not UTF-8 (as Store refuses it).
//   - ResolveIncident records the resolution of an open incident and returns
//     it; ErrIncidentResolved (an ErrConflict) when it is already resolved
//     (the store refuses, so two nodes cannot both resolve it), ErrNotFound
//     when there is none. SetStatus with StatusChange.Resolves resolves the
//     incident the same way in the transaction of the status change.
//   - Incidents returns those matching f by ascending id, after f.AfterID, at
//     most f.Limit (default DefaultLimit, max MaxLimit).
//   - CredentialAt returns the credential holding index idx of list listID.
//
// Audit entries are appended atomically with the change, as in Store.
type Incidents interface {
	CreateIncident(ctx context.Context, in Incident, a *AuditEntry) error
	Incident(ctx context.Context, id string) (Incident, error)
	Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	ResolveIncident(ctx context.Context, id string, r Resolution, a *AuditEntry) (Incident, error)
	CredentialAt(ctx context.Context, listID string, idx int) (Credential, error)
}

var _ Incidents = (*SQLite)(nil)

// Decisions an incident may be resolved with, and actions a reporter may ask for.
var (
	IncidentDecisions = []string{"suspend", "revoke", "dismiss"}
	RequestedActions  = []string{"suspend", "revoke", "none"}
)

// CheckIncident validates an incident to create and returns its
// occurrence time in nanoseconds and its receipts as a JSON array.
func CheckIncident(in Incident) (occurred int64, receipts []byte, err error) {
	if in.ID == "" || in.CredentialID == "" || len(in.Receipts) == 0 || !slices.Contains(RequestedActions, in.RequestedAction) {
		return 0, nil, errcode.New(errcode.InvalidInput, "store: create incident: id, credential, receipts and a requested action are required")
	}
	if err := noNUL("create incident", "id", in.ID, "credential id", in.CredentialID, "category", in.Category, "severity", in.Severity,
		"description", in.Description, "verifier", in.Verifier, "subject", in.Subject, "principal id", in.PrincipalID,
		"reporter token id", in.ReporterTokenID, "reporter", in.Reporter); err != nil {
		return 0, nil, err
	}
	if occurred, err = Nanos(in.OccurredAt, nil, "occurred_at"); err != nil {
		return 0, nil, err
	}
	if receipts, err = json.Marshal(in.Receipts); err != nil {
		return 0, nil, fmt.Errorf("store: create incident: %w", err)
	}
	return occurred, receipts, nil
}

// CheckResolution validates a resolution.
func CheckResolution(r Resolution) error {
	if !slices.Contains(IncidentDecisions, r.Decision) || r.By == "" {
		return errcode.New(errcode.InvalidInput, "store: resolve incident: a decision (%s) and who made it are required", strings.Join(IncidentDecisions, ", "))
	}
	return nil
}

// DecodeReceipts reads the receipts column.
func DecodeReceipts(id, col string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(col), &out); err != nil {
		return nil, fmt.Errorf("store: incident %q: receipts: %w", id, err)
	}
	return out, nil
}

// IncidentCols are the incident columns, in the order ScanIncident reads.
const IncidentCols = `id, state, category, severity, description, occurred_at, requested_action, receipts, verifier, credential_id,
	subject, principal_id, reporter_token_id, reporter, created_at, decision, resolution_note, resolved_by, resolved_at`

// ScanIncident reads one incident row (IncidentCols). Both stores keep times
// as integer nanoseconds.
func ScanIncident(sc interface{ Scan(...any) error }) (Incident, error) {
	var in Incident
	var occurred, created int64
	var receipts string
	var resolved *int64
	if err := sc.Scan(&in.ID, &in.State, &in.Category, &in.Severity, &in.Description, &occurred, &in.RequestedAction, &receipts,
		&in.Verifier, &in.CredentialID, &in.Subject, &in.PrincipalID, &in.ReporterTokenID, &in.Reporter, &created,
		&in.Decision, &in.ResolutionNote, &in.ResolvedBy, &resolved); err != nil {
		return Incident{}, err
	}
	var err error
	if in.Receipts, err = DecodeReceipts(in.ID, receipts); err != nil {
		return Incident{}, err
	}
	in.OccurredAt, in.CreatedAt = FromNanos(occurred), FromNanos(created)
	if resolved != nil {
		t := FromNanos(*resolved)
		in.ResolvedAt = &t
	}
	return in, nil
}

// CreateIncident inserts an open incident.
func (s SQLBase) CreateIncident(ctx context.Context, in Incident, a *AuditEntry) error {
	occurred, receipts, err := CheckIncident(in)
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(in.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		var one int
		if err := tx.QueryRow("SELECT 1 FROM credentials WHERE id = ?", in.CredentialID).Scan(&one); err != nil {
			return tx.MapErr(err, "create incident %q: credential %q", in.ID, in.CredentialID)
		}
		if _, err := tx.Exec(`INSERT INTO incidents (id, category, severity, description, occurred_at, requested_action, receipts,
			verifier, credential_id, subject, principal_id, reporter_token_id, reporter, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.Category, in.Severity, in.Description, occurred, in.RequestedAction, string(receipts),
			in.Verifier, in.CredentialID, in.Subject, in.PrincipalID, in.ReporterTokenID, in.Reporter, created); err != nil {
			return tx.MapErr(err, "create incident %q", in.ID)
		}
		return audit(tx, a)
	})
}

// Incident returns one incident.
func (s SQLBase) Incident(ctx context.Context, id string) (Incident, error) {
	if !Storable(id) {
		return Incident{}, fmt.Errorf("incident %q: %w", id, ErrNotFound)
	}
	return ReadOne(s.DB, ctx, fmt.Sprintf("incident %q", id), "SELECT "+IncidentCols+" FROM incidents WHERE id = ?", ScanIncident, id)
}

// Incidents returns the incidents matching f, by ascending id.
func (s SQLBase) Incidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	if err := noNUL("incident filter", "credential id", f.CredentialID, "principal id", f.PrincipalID, "state", f.State, "after id", f.AfterID); err != nil {
		return nil, err
	}
	where, args := []string{"id > ?"}, []any{f.AfterID}
	for _, c := range []struct{ col, v string }{{"credential_id", f.CredentialID}, {"principal_id", f.PrincipalID}, {"state", f.State}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := "SELECT " + IncidentCols + " FROM incidents WHERE " + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?"
	out, err := ReadAll(s.DB, ctx, "incidents", q, ScanIncident, append(args, ClampLimit(f.Limit))...)
	if out == nil && err == nil {
		out = []Incident{}
	}
	return out, err
}

// ResolveIncident records the resolution of an open incident; a second
// resolution, by this writer or another, is ErrIncidentResolved (an
// ErrConflict).
func (s SQLBase) ResolveIncident(ctx context.Context, id string, r Resolution, a *AuditEntry) (Incident, error) {
	if err := CheckResolution(r); err != nil {
		return Incident{}, err
	}
	var out Incident
	err := s.Run(ctx, func(tx SQLTx) error {
		var err error
		out, err = s.resolveIncident(tx, id, r, a)
		return err
	})
	if err != nil {
		return Incident{}, err
	}
	return out, nil
}

// resolveIncident resolves incident id inside tx (ResolveIncident, and
// SetStatus with StatusChange.Resolves): ErrIncidentResolved when it is no
// longer open. r has been checked (CheckResolution).
func (s SQLBase) resolveIncident(tx SQLTx, id string, r Resolution, a *AuditEntry) (Incident, error) {
	at, err := Nanos(r.At, s.Now, "resolved_at")
	if err != nil {
		return Incident{}, err
	}
	if !Storable(id) {
		return Incident{}, fmt.Errorf("store: resolve incident %q: %w", id, ErrNotFound)
	}
	var state string
	if err := tx.QueryRow("SELECT state FROM incidents WHERE id = ?"+tx.Lock(), id).Scan(&state); err != nil {
		return Incident{}, tx.MapErr(err, "resolve incident %q", id)
	}
	if state != records.IncidentOpen {
		return Incident{}, fmt.Errorf("store: resolve incident %q: %w", id, ErrIncidentResolved)
	}
	out, err := ScanIncident(tx.QueryRow(`UPDATE incidents SET state = 'resolved', decision = ?, resolution_note = ?,
		resolved_by = ?, resolved_at = ? WHERE id = ? AND state = 'open' RETURNING `+IncidentCols,
		r.Decision, r.Note, r.By, at, id))
	if err != nil {
		return Incident{}, tx.MapErr(err, "resolve incident %q", id)
	}
	return out, audit(tx, a)
}
