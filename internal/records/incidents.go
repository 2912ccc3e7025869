package records

import "time"

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"
)

// Incident is a counterparty's report about an agent's action, with the
// verification receipts it gives as evidence, and its resolution.
type Incident struct {
	ID                        string
	State                     string // open | resolved
	Category, Severity        string
	Description               string
	OccurredAt                time.Time
	RequestedAction           string   // suspend | revoke | none
	Receipts                  []string // compact receipts, as reported
	Verifier                  string   // the DID that signed the receipts
	CredentialID              string   // the record the receipts name
	Subject, PrincipalID      string
	ReporterTokenID, Reporter string // the reporter token's id and name
	CreatedAt                 time.Time
	Decision, ResolutionNote  string // suspend | revoke | dismiss, once resolved
	ResolvedBy                string // token id
	ResolvedAt                *time.Time
}

// IncidentFilter selects incidents. Empty fields do not filter. Incidents
// pages by id (AfterID, Limit), ids ascending in order of creation.
type IncidentFilter struct {
	CredentialID, PrincipalID, State string
	AfterID                          string
	Limit                            int
}

// Resolution closes an incident.
type Resolution struct {
	Decision, Note, By string
	At                 time.Time
}

// IncidentResolution is the resolution of incident ID made together with a
// status change (StatusChange.Resolves): the store writes both, and Audit
// (nil for none), in one transaction, or neither.
type IncidentResolution struct {
	ID         string
	Resolution Resolution
	Audit      *AuditEntry
}
