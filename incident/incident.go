package incident

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/receipt"
)

// Values a report and a resolution may take.
var (
	Categories       = []string{"unauthorized_action", "misuse", "data_exposure", "fraud", "other"}
	Severities       = []string{"low", "medium", "high", "critical"}
	RequestedActions = []string{"suspend", "revoke", "none"}
	Decisions        = []string{"suspend", "revoke", "dismiss"}
)

// Limits of a report.
const (
	MaxReceipts    = 20
	MaxDescription = 4096
	MaxNote        = 2048
	// FutureLeeway is how far in the future occurred_at may be (clock skew).
	FutureLeeway = 5 * time.Minute
)

// Store is the part of the store incidents need.
type Store interface {
	CreateIncident(ctx context.Context, in records.Incident, a *records.AuditEntry) error
	Incident(ctx context.Context, id string) (records.Incident, error)
	Incidents(ctx context.Context, f records.IncidentFilter) ([]records.Incident, error)
	ResolveIncident(ctx context.Context, id string, r records.Resolution, a *records.AuditEntry) (records.Incident, error)
	CredentialAt(ctx context.Context, listID string, idx int) (records.Credential, error)
}

// StatusChanger changes a credential's status (issuer.Statuses).
type StatusChanger interface {
	Change(ctx context.Context, actor issuer.Actor, id, action string, req issuer.StatusRequest) (records.Credential, error)
}

// Config is what the service needs to know about its issuer.
type Config struct {
	Issuer string // the issuer's DID: receipts must name credentials it issued
	// StatusListPrefix is the URI of this issuer's status lists up to the
	// list id (https://issuer.example/statuslists/).
	StatusListPrefix string
	Keys             receipt.KeyFunc // finds a verifier's key (receipt.DIDKeys over the guarded resolver)
	Now              func() time.Time
}

// Service reports, lists and resolves incidents. It is safe for
// concurrent use.
type Service struct {
	store   Store
	status  StatusChanger
	cfg     Config
	changed func(records.Credential) // OnStatusChange's; nil: none
}

// OnStatusChange sets changed, which Resolve calls with the credential
// after each status change a resolution made (not when the status was
// already in effect): the server counts it as it counts its other status
// changes. Call it before the service is used.
func (s *Service) OnStatusChange(changed func(records.Credential)) {
	s.changed = changed
}

// New returns the service.
func New(st Store, status StatusChanger, cfg Config) (*Service, error) {
	if st == nil || status == nil || cfg.Keys == nil || cfg.Issuer == "" || cfg.StatusListPrefix == "" {
		return nil, errors.New("incident: store, status changer, issuer, status list prefix and key function are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: st, status: status, cfg: cfg}, nil
}

// Report is the body of POST /v1/incidents.
type Report struct {
	Category        string    `json:"category"`
	Severity        string    `json:"severity"`
	Description     string    `json:"description"`
	OccurredAt      time.Time `json:"occurred_at"`
	RequestedAction string    `json:"requested_action"`
	Receipts        []string  `json:"receipts"`
}

// Resolution is the body of POST /v1/incidents/{id}/resolve.
type Resolution struct {
	Decision string `json:"decision"`
	Note     string `json:"note,omitempty"`
}

// Actor is who acts: the token's id, name and role.
type Actor struct{ TokenID, Name, Role string }

// Incident is an incident as the API shows it.
type Incident struct {
	ID              string     `json:"id"`
	State           string     `json:"state"`
	Category        string     `json:"category"`
	Severity        string     `json:"severity"`
	Description     string     `json:"description"`
	OccurredAt      time.Time  `json:"occurred_at"`
	RequestedAction string     `json:"requested_action"`
	CredentialID    string     `json:"credential_id"`
	Subject         string     `json:"subject"`
	PrincipalID     string     `json:"principal_id"`
	Verifier        string     `json:"verifier"`
	Reporter        string     `json:"reporter"`
	ReporterTokenID string     `json:"reporter_token_id"`
	Receipts        []string   `json:"receipts"`
	CreatedAt       time.Time  `json:"created_at"`
	Decision        string     `json:"decision,omitempty"`
	Note            string     `json:"note,omitempty"`
	ResolvedBy      string     `json:"resolved_by,omitempty"`
	ResolvedAt      *time.Time `json:"resolved_at,omitempty"`
}

func view(in records.Incident) Incident {
	return Incident{
		ID: in.ID, State: in.State, Category: in.Category, Severity: in.Severity, Description: in.Description,
		OccurredAt: in.OccurredAt, RequestedAction: in.RequestedAction, CredentialID: in.CredentialID, Subject: in.Subject,
		PrincipalID: in.PrincipalID, Verifier: in.Verifier, Reporter: in.Reporter, ReporterTokenID: in.ReporterTokenID,
		Receipts: in.Receipts, CreatedAt: in.CreatedAt, Decision: in.Decision, Note: in.ResolutionNote,
		ResolvedBy: in.ResolvedBy, ResolvedAt: in.ResolvedAt,
	}
}

func (r Report) check(now time.Time) error {
	bad := func(f string, a ...any) error { return errcode.New(errcode.InvalidInput, f, a...) }
	switch {
	case !slices.Contains(Categories, r.Category):
		return bad("category must be one of %s", strings.Join(Categories, ", "))
	case !slices.Contains(Severities, r.Severity):
		return bad("severity must be one of %s", strings.Join(Severities, ", "))
	case strings.TrimSpace(r.Description) == "" || len(r.Description) > MaxDescription:
		return bad("description is required and at most %d bytes", MaxDescription)
	case r.OccurredAt.Before(time.Unix(0, 0)) || r.OccurredAt.After(now.Add(FutureLeeway)):
		return bad("occurred_at is required and may not be in the future")
	case !slices.Contains(RequestedActions, r.RequestedAction):
		return bad("requested_action must be one of %s", strings.Join(RequestedActions, ", "))
	case len(r.Receipts) == 0 || len(r.Receipts) > MaxReceipts:
		return bad("receipts must hold 1 to %d receipts", MaxReceipts)
	}
	return nil
}

// evidence is what the receipts of a report establish.
type evidence struct {
	cred     records.Credential
	verifier string
	jtis     []string
}

// examine verifies every receipt and finds the one credential of this
// issuer that they all name.
func (s *Service) examine(ctx context.Context, receipts []string) (*evidence, error) {
	var ev *evidence
	for i, r := range receipts {
		c, err := receipt.Verify(ctx, r, receipt.VerifyOptions{Keys: s.cfg.Keys})
		if err != nil {
			var e *errcode.Error
			if errors.As(err, &e) {
				return nil, &errcode.Error{Code: e.Code, Message: fmt.Sprintf("receipt %d: %s", i, e.Message), Err: e.Err}
			}
			return nil, fmt.Errorf("receipt %d: %w", i, err)
		}
		cred, err := s.credentialOf(ctx, c)
		if err != nil {
			return nil, errcode.Wrap(errcode.CodeOf(err), err, "receipt %d: %s", i, messageOf(err))
		}
		if ev == nil {
			ev = &evidence{cred: cred, verifier: c.Issuer}
		}
		switch {
		case cred.ID != ev.cred.ID:
			return nil, errcode.New(errcode.InvalidInput, "receipt %d names another credential than receipt 0; report one credential per incident", i)
		case c.Issuer != ev.verifier:
			return nil, errcode.New(errcode.InvalidInput, "receipt %d is signed by another verifier than receipt 0", i)
		case slices.Contains(ev.jtis, c.ID):
			return nil, errcode.New(errcode.InvalidInput, "receipt %d repeats an earlier receipt", i)
		}
		ev.jtis = append(ev.jtis, c.ID)
	}
	return ev, nil
}

func messageOf(err error) string {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// credentialOf finds the credential a verified receipt names.
func (s *Service) credentialOf(ctx context.Context, c *receipt.Claims) (records.Credential, error) {
	foreign := func(f string, a ...any) error { return errcode.New(errcode.ReceiptForeign, f, a...) }
	if c.Credential == nil {
		return records.Credential{}, foreign("the receipt names no credential")
	}
	if c.Credential.Issuer != s.cfg.Issuer {
		return records.Credential{}, foreign("the receipt names a credential of %s, not of this issuer", c.Credential.Issuer)
	}
	sl := c.Credential.StatusList
	if sl == nil || !strings.HasPrefix(sl.URI, s.cfg.StatusListPrefix) {
		return records.Credential{}, foreign("the receipt names no status list of this issuer")
	}
	listID := strings.TrimPrefix(sl.URI, s.cfg.StatusListPrefix)
	cred, err := s.store.CredentialAt(ctx, listID, sl.Idx)
	if errors.Is(err, records.ErrNotFound) {
		return records.Credential{}, foreign("this issuer issued no credential at %s index %d", sl.URI, sl.Idx)
	}
	if err != nil {
		return records.Credential{}, fmt.Errorf("incident: find credential: %w", err)
	}
	subject := c.Subject
	if len(c.Chain) > 0 {
		subject = c.Chain[0] // the root credential's subject
	}
	if c.Credential.ID != base64.RawURLEncoding.EncodeToString(cred.JWTHash) {
		return records.Credential{}, foreign("the receipt's credential id is not the digest of the credential at %s index %d", sl.URI, sl.Idx)
	}
	if subject != cred.Subject {
		return records.Credential{}, foreign("the receipt's subject is not the subject of the credential at %s index %d", sl.URI, sl.Idx)
	}
	return cred, nil
}

// Report records a new incident after checking its receipts.
func (s *Service) Report(ctx context.Context, actor Actor, r Report) (Incident, error) {
	now := s.cfg.Now().UTC()
	if err := r.check(now); err != nil {
		return Incident{}, err
	}
	ev, err := s.examine(ctx, r.Receipts)
	if err != nil {
		return Incident{}, err
	}
	in := records.Incident{
		ID: newID(now), State: records.IncidentOpen, Category: r.Category, Severity: r.Severity, Description: r.Description,
		OccurredAt: r.OccurredAt.UTC(), RequestedAction: r.RequestedAction, Receipts: r.Receipts, Verifier: ev.verifier,
		CredentialID: ev.cred.ID, Subject: ev.cred.Subject, PrincipalID: ev.cred.PrincipalID,
		ReporterTokenID: actor.TokenID, Reporter: actor.Name, CreatedAt: now,
	}
	details, _ := json.Marshal(map[string]any{
		"credential": in.CredentialID, "category": in.Category, "severity": in.Severity, "requested_action": in.RequestedAction,
		"verifier": in.Verifier, "receipts": ev.jtis,
	})
	if err := s.store.CreateIncident(ctx, in, &records.AuditEntry{Time: now, Actor: actor.TokenID, Action: "incident.report", Target: in.ID, Details: details}); err != nil {
		return Incident{}, fmt.Errorf("incident: create: %w", err)
	}
	return view(in), nil
}

// Get returns one incident.
func (s *Service) Get(ctx context.Context, id string) (Incident, error) {
	in, err := s.store.Incident(ctx, id)
	if errors.Is(err, records.ErrNotFound) {
		return Incident{}, errcode.New(errcode.NotFound, "no incident %s", id)
	}
	if err != nil {
		return Incident{}, fmt.Errorf("incident: get: %w", err)
	}
	return view(in), nil
}

// Filter selects incidents; see records.IncidentFilter.
type Filter = records.IncidentFilter

// List returns the incidents matching f, by ascending id.
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, error) {
	if f.State != "" && f.State != records.IncidentOpen && f.State != records.IncidentResolved {
		return nil, errcode.New(errcode.InvalidInput, "state must be open or resolved")
	}
	ins, err := s.store.Incidents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("incident: list: %w", err)
	}
	out := make([]Incident, 0, len(ins))
	for _, in := range ins {
		out = append(out, view(in))
	}
	return out, nil
}

// Resolve decides an open incident. A suspend or revoke decision changes
// the credential's status through the status path, with reason "incident"
// and the incident's id as its reference, and closes the incident in the
// same store transaction, so that of concurrent resolutions exactly one
// takes effect; a failed status change leaves the incident open. When the
// status is already in effect (set by hand, or by an incident resolved
// before), the incident is closed on its own.
func (s *Service) Resolve(ctx context.Context, actor Actor, id string, r Resolution) (Incident, error) {
	if !slices.Contains(Decisions, r.Decision) {
		return Incident{}, errcode.New(errcode.InvalidInput, "decision must be one of %s", strings.Join(Decisions, ", "))
	}
	if len(r.Note) > MaxNote {
		return Incident{}, errcode.New(errcode.InvalidInput, "note is at most %d bytes", MaxNote)
	}
	in, err := s.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if in.State != records.IncidentOpen {
		return Incident{}, errcode.New(errcode.Conflict, "incident %s is already resolved (%s)", id, in.Decision)
	}
	now := s.cfg.Now().UTC()
	details, _ := json.Marshal(map[string]any{"decision": r.Decision, "note": r.Note, "credential": in.CredentialID})
	res := records.Resolution{Decision: r.Decision, Note: r.Note, By: actor.TokenID, At: now}
	entry := &records.AuditEntry{Time: now, Actor: actor.TokenID, Action: "incident.resolve", Target: id, Details: details}
	alone := r.Decision == "dismiss"
	if !alone {
		cred, err := s.status.Change(ctx, issuer.Actor{TokenID: actor.TokenID, Role: actor.Role}, in.CredentialID, r.Decision,
			issuer.StatusRequest{Reason: "incident", Incident: id, Note: r.Note, Resolves: &records.IncidentResolution{ID: id, Resolution: res, Audit: entry}})
		switch {
		case errors.Is(err, issuer.ErrInEffect):
			alone = true
		case errors.Is(err, records.ErrIncidentResolved):
			return Incident{}, errcode.New(errcode.Conflict, "incident %s is already resolved", id)
		case err != nil:
			return Incident{}, err
		case s.changed != nil:
			s.changed(cred)
		}
	}
	var out records.Incident
	if alone {
		out, err = s.store.ResolveIncident(ctx, id, res, entry)
	} else {
		out, err = s.store.Incident(ctx, id) // resolved with the status change; a resolution is final
	}
	if errors.Is(err, records.ErrConflict) {
		return Incident{}, errcode.New(errcode.Conflict, "incident %s is already resolved", id)
	}
	if err != nil {
		return Incident{}, fmt.Errorf("incident: resolve: %w", err)
	}
	return view(out), nil
}

// newID is "inc_" + the creation time in hex (so ids sort by creation) + 8
// random bytes.
func newID(now time.Time) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("inc_%016x%s", now.UnixNano(), hex.EncodeToString(b))
}
