// Package apiwire holds the JSON shapes of the admin and audit answers
// (GET /v1/audit, GET /v1/admin/tokens) that the server encodes and the CLI
// decodes, so that both sides read one definition.
package apiwire

import (
	"encoding/json"
	"net/url"
	"time"
)

// AuditEntry is one audit log entry as GET /v1/audit lists it; Hash is
// the entry's chain hash in hex.
type AuditEntry struct {
	Seq     int64           `json:"seq"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Target  string          `json:"target"`
	Details json.RawMessage `json:"details"`
	Hash    string          `json:"hash"`
}

// AuditPage is one page of GET /v1/audit: NextCursor, when not empty, is
// the seq to continue after.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Token is an API token as GET /v1/admin/tokens lists it (never its
// secret).
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Query is the query string of a filtered list (GET /v1/credentials,
// /v1/audit, /v1/incidents, and the console's pages over them): each named
// filter that is not empty, and nothing for the empty ones.
func Query(filters map[string]string) url.Values {
	q := url.Values{}
	for k, v := range filters {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}
