package verifier

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// FuzzAuthorize feeds arbitrary JSON claims and requests to Authorize: it must
// never panic, and every decision must be well formed and default-deny.
func FuzzAuthorize(f *testing.F) {
	f.Add([]byte(baseClaims), "payments:initiate", []byte(`{"amount":120,"currency":"EUR"}`), int64(1769900000))
	f.Add([]byte(baseClaims), "invoices:annotate", []byte(`{"resource":"invoices/2026/../x"}`), int64(1769904000))
	f.Add([]byte(`{"permissions":[{"action":"a:*","constraints":{"max_amount":1e400,"currency":"X"}}],"prohibitions":["*"]}`), "a:b", []byte(`{"amount":-0}`), int64(0))
	f.Add([]byte(`{"permissions":"x","task":{"expires":"soon"}}`), "*", []byte(`null`), int64(-1))
	f.Add([]byte(`{"permissions":[{"action":"a:b","resource":"r*","constraints":{"max_amount":0.5}}]}`), "a:b", []byte(`{"resource":"r/./x","amount":0.25}`), int64(1))
	f.Fuzz(func(t *testing.T, claimsJSON []byte, action string, requestJSON []byte, nowUnix int64) {
		claims, request := decodeLoose(claimsJSON), decodeLoose(requestJSON)
		d := Authorize(claims, action, request, time.Unix(nowUnix, 0))
		if d.Action != action || d.Reason == "" {
			t.Fatalf("bad decision %+v", d)
		}
		if d.Allowed {
			if d.Code != "" || d.Permission == nil {
				t.Fatalf("allowed with code %q, permission %v", d.Code, d.Permission)
			}
			res, verb, ok := parseAction(action)
			pr, pv, ok2 := parseAction(d.Permission["action"].(string))
			if !ok || !ok2 || verb == "*" || !actionMatches(pr, pv, res, verb) {
				t.Fatalf("allowed %q by non-matching permission %v", action, d.Permission)
			}
			return
		}
		switch d.Code {
		case errcode.ActionNotPermitted, errcode.ActionProhibited, errcode.ConstraintViolated:
		default:
			t.Fatalf("denied with code %q", d.Code)
		}
	})
}

func decodeLoose(b []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}
