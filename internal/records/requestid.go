package records

import (
	"context"
	"encoding/json"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request being served
// (the HTTP layer's X-Request-Id). Every audit entry written under it
// records the id in its details as request_id, so that a log line, a
// problem document and an audit entry of one request can be joined.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, "" when none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// AuditDetails encodes an audit entry's details m, adding the request id
// of ctx when there is one.
func AuditDetails(ctx context.Context, m map[string]any) json.RawMessage {
	if id := RequestID(ctx); id != "" {
		if m == nil {
			m = map[string]any{}
		}
		m["request_id"] = id
	}
	if m == nil {
		return json.RawMessage("{}")
	}
	b, _ := json.Marshal(m)
	return b
}
