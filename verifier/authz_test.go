package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// decode reads JSON the way the verifier does (numbers as json.Number).
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// baseClaims are the processed claims of a certification, as a verifier sees
// them after selective-disclosure processing.
const baseClaims = `{
  "vct": "urn:agentcert:agent-certification:v1",
  "permissions": [
    {"action": "invoices:read"},
    {"action": "invoices:*", "resource": "invoices/2026/*"},
    {"action": "payments:initiate", "constraints": {"max_amount": 500, "currency": "EUR"}},
    {"action": "reports:export", "resource": "reports/q1"}
  ],
  "prohibitions": ["payments:approve", "vendors:*"],
  "autonomy": "supervised",
  "task": {"id": "task-1", "expires": 1769904000}
}`

var (
	taskExpires = time.Unix(1769904000, 0)
	beforeTask  = taskExpires.Add(-time.Hour)
)

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name     string
		claims   string // JSON; "" means nil claims
		action   string
		request  string // JSON
		now      time.Time
		allowed  bool
		code     errcode.Code
		perm     string // action of the reported permission, "" for none
		inReason string // a substring of the reason
	}{
		// Allowed.
		{"exact permission", baseClaims, "invoices:read", `{}`, beforeTask, true, "", "invoices:read", `permitted by "invoices:read"`},
		{"wildcard verb with resource prefix", baseClaims, "invoices:annotate", `{"resource":"invoices/2026/0001"}`, beforeTask, true, "", "invoices:*", ""},
		{"amount under limit", baseClaims, "payments:initiate", `{"amount":120,"currency":"EUR"}`, beforeTask, true, "", "payments:initiate", ""},
		{"amount at limit", baseClaims, "payments:initiate", `{"amount":500,"currency":"EUR"}`, beforeTask, true, "", "payments:initiate", ""},
		{"amount at limit written differently", baseClaims, "payments:initiate", `{"amount":5.000e2,"currency":"EUR"}`, beforeTask, true, "", "payments:initiate", ""},
		{"amount zero", baseClaims, "payments:initiate", `{"amount":0,"currency":"EUR"}`, beforeTask, true, "", "payments:initiate", ""},
		{"exact resource", baseClaims, "reports:export", `{"resource":"reports/q1"}`, beforeTask, true, "", "reports:export", ""},
		{"request action member ignored", baseClaims, "invoices:read", `{"action":"payments:approve"}`, beforeTask, true, "", "invoices:read", ""},
		{"no task claim", `{"permissions":[{"action":"invoices:read"}]}`, "invoices:read", `{}`, taskExpires.Add(1000 * time.Hour), true, "", "invoices:read", ""},
		{"task without expires", `{"permissions":[{"action":"invoices:read"}],"task":{"id":"t"}}`, "invoices:read", `{}`, beforeTask, true, "", "invoices:read", ""},
		{"task expires in a nanosecond", baseClaims, "invoices:read", `{}`, taskExpires.Add(-time.Nanosecond), true, "", "invoices:read", ""},
		{"malformed permissions skipped", `{"permissions":["invoices:read",{"action":"*"},{"action":7},{"action":"Invoices:Read"},{"resource":"x"},{"action":"invoices:read"}]}`,
			"invoices:read", `{}`, beforeTask, true, "", "invoices:read", ""},
		{"no prohibitions claim", `{"permissions":[{"action":"vendors:create"}]}`, "vendors:create", `{}`, beforeTask, true, "", "vendors:create", ""},
		{"empty constraints", `{"permissions":[{"action":"a:b","constraints":{}}]}`, "a:b", `{}`, beforeTask, true, "", "a:b", ""},
		{"currency only", `{"permissions":[{"action":"a:b","constraints":{"currency":"EUR"}}]}`, "a:b", `{"currency":"EUR"}`, beforeTask, true, "", "a:b", ""},
		{"second matching permission holds", `{"permissions":[
			{"action":"payments:initiate","constraints":{"max_amount":100,"currency":"EUR"}},
			{"action":"payments:*","constraints":{"max_amount":1000,"currency":"EUR"}}]}`,
			"payments:initiate", `{"amount":500,"currency":"EUR"}`, beforeTask, true, "", "payments:*", ""},

		// Malformed requested action.
		{"action without verb", baseClaims, "invoices", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete resource:verb"},
		{"upper-case action", baseClaims, "Invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete"},
		{"wildcard action requested", baseClaims, "invoices:*", `{"resource":"invoices/2026/1"}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete"},
		{"star action requested", baseClaims, "*", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete"},
		{"empty action", baseClaims, "", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete"},
		{"two colons", baseClaims, "invoices:read:all", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "not a concrete"},

		// Not permitted.
		{"no matching permission", baseClaims, "calendar:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", `no disclosed permission matches action "calendar:read"`},
		{"other verb needs the wildcard's resource", baseClaims, "invoices:delete", `{}`, beforeTask, false, errcode.ConstraintViolated, "invoices:*", "request names no resource"},
		{"no permissions claim", `{"prohibitions":[]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"permissions not an array", `{"permissions":{"action":"invoices:read"}}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"nil claims", "", "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"star permission grants nothing", `{"permissions":[{"action":"*"}]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"star resource permission grants nothing", `{"permissions":[{"action":"*:read"}]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"permission as string grants nothing", `{"permissions":["invoices:read"]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},
		{"wildcard verb is per resource", baseClaims, "invoicesx:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "no disclosed permission"},

		// Task scope.
		{"task expired at expires", baseClaims, "invoices:read", `{}`, taskExpires, false, errcode.ActionNotPermitted, "", "task expired"},
		{"task expired later", baseClaims, "invoices:read", `{}`, taskExpires.Add(time.Second), false, errcode.ActionNotPermitted, "", "task expired"},
		{"task null is no task scope", `{"permissions":[{"action":"invoices:read"}],"task":null}`, "invoices:read", `{}`, beforeTask, true, "", "invoices:read", "permitted by"},
		{"task not an object", `{"permissions":[{"action":"invoices:read"}],"task":"t"}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "task claim is malformed"},
		{"task expires not a number", `{"permissions":[{"action":"invoices:read"}],"task":{"id":"t","expires":"2026-02-01"}}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionNotPermitted, "", "task expires is malformed"},
		{"fractional task expiry", `{"permissions":[{"action":"invoices:read"}],"task":{"id":"t","expires":1769904000.5}}`, "invoices:read", `{}`, taskExpires.Add(500 * time.Millisecond), false, errcode.ActionNotPermitted, "", "task expired"},

		// Prohibited.
		{"prohibited", baseClaims, "payments:approve", `{"amount":1,"currency":"EUR"}`, beforeTask, false, errcode.ActionProhibited, "", `prohibited by "payments:approve"`},
		{"prohibited by wildcard", baseClaims, "vendors:create", `{}`, beforeTask, false, errcode.ActionProhibited, "", `prohibited by "vendors:*"`},
		{"prohibition wins over permission", `{"permissions":[{"action":"payments:*"}],"prohibitions":["payments:approve"]}`, "payments:approve", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibited"},
		{"prohibition wins over exact permission", `{"permissions":[{"action":"vendors:create"}],"prohibitions":["vendors:*"]}`, "vendors:create", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibited"},
		{"prohibition wins over expired task", baseClaims, "payments:approve", `{}`, taskExpires, false, errcode.ActionProhibited, "", "prohibited"},
		{"star prohibition prohibits everything", `{"permissions":[{"action":"invoices:read"}],"prohibitions":["*"]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibitions[0] is malformed"},
		{"prohibition not a string", `{"permissions":[{"action":"invoices:read"}],"prohibitions":["vendors:*",{"action":"x:y"}]}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibitions[1] is malformed"},
		{"prohibitions not an array", `{"permissions":[{"action":"invoices:read"}],"prohibitions":"vendors:*"}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibitions claim is malformed"},
		{"prohibitions null", `{"permissions":[{"action":"invoices:read"}],"prohibitions":null}`, "invoices:read", `{}`, beforeTask, false, errcode.ActionProhibited, "", "prohibitions claim is malformed"},

		// Resource.
		{"resource outside prefix", baseClaims, "invoices:annotate", `{"resource":"invoices/2025/0001"}`, beforeTask, false, errcode.ConstraintViolated, "invoices:*", `resource "invoices/2025/0001" is not covered by "invoices/2026/*"`},
		{"resource missing", baseClaims, "invoices:annotate", `{}`, beforeTask, false, errcode.ConstraintViolated, "invoices:*", "request names no resource"},
		{"resource dot-dot escape", baseClaims, "invoices:annotate", `{"resource":"invoices/2026/../2025/0001"}`, beforeTask, false, errcode.ConstraintViolated, "invoices:*", "is not covered"},
		{"resource not a string", baseClaims, "invoices:annotate", `{"resource":2026}`, beforeTask, false, errcode.ConstraintViolated, "invoices:*", "not a string"},
		{"exact resource is not a prefix", baseClaims, "reports:export", `{"resource":"reports/q12"}`, beforeTask, false, errcode.ConstraintViolated, "reports:export", "is not covered"},
		{"permission resource malformed", `{"permissions":[{"action":"a:b","resource":5}]}`, "a:b", `{"resource":"5"}`, beforeTask, false, errcode.ConstraintViolated, "a:b", "permission resource is malformed"},

		// Constraints.
		{"amount over limit", baseClaims, "payments:initiate", `{"amount":500.01,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "amount 500.01 exceeds max_amount 500"},
		{"amount over limit beyond float precision", baseClaims, "payments:initiate", `{"amount":500.0000000000000000001,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "exceeds max_amount"},
		{"amount missing", baseClaims, "payments:initiate", `{"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "request has no amount"},
		{"amount as string", baseClaims, "payments:initiate", `{"amount":"120","currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "not a number"},
		{"amount null", baseClaims, "payments:initiate", `{"amount":null,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "not a number"},
		{"negative amount", baseClaims, "payments:initiate", `{"amount":-5,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "negative"},
		{"huge exponent amount", baseClaims, "payments:initiate", `{"amount":1e999999999,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "not a number"},
		{"wrong currency", baseClaims, "payments:initiate", `{"amount":120,"currency":"USD"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", `currency "USD" is not "EUR"`},
		{"lower-case currency", baseClaims, "payments:initiate", `{"amount":120,"currency":"eur"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "is not"},
		{"currency missing", baseClaims, "payments:initiate", `{"amount":120}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "request has no currency"},
		{"currency not a string", baseClaims, "payments:initiate", `{"amount":120,"currency":978}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate", "not a string"},
		{"unknown constraint fails closed", `{"permissions":[{"action":"a:b","constraints":{"max_per_day":3}}]}`, "a:b", `{}`, beforeTask, false, errcode.ConstraintViolated, "a:b", `unknown constraint "max_per_day"`},
		{"constraints not an object", `{"permissions":[{"action":"a:b","constraints":["max_amount"]}]}`, "a:b", `{}`, beforeTask, false, errcode.ConstraintViolated, "a:b", "constraints are malformed"},
		{"max_amount malformed", `{"permissions":[{"action":"a:b","constraints":{"max_amount":"500"}}]}`, "a:b", `{"amount":1}`, beforeTask, false, errcode.ConstraintViolated, "a:b", "max_amount is malformed"},
		{"max_amount negative", `{"permissions":[{"action":"a:b","constraints":{"max_amount":-1}}]}`, "a:b", `{"amount":0}`, beforeTask, false, errcode.ConstraintViolated, "a:b", "max_amount is malformed"},
		{"currency constraint malformed", `{"permissions":[{"action":"a:b","constraints":{"currency":1}}]}`, "a:b", `{"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "a:b", "currency is malformed"},
		{"no matching permission holds", `{"permissions":[
			{"action":"payments:initiate","constraints":{"max_amount":100,"currency":"EUR"}},
			{"action":"payments:*","constraints":{"max_amount":1000,"currency":"EUR"}}]}`,
			"payments:initiate", `{"amount":5000,"currency":"EUR"}`, beforeTask, false, errcode.ConstraintViolated, "payments:initiate",
			"amount 5000 exceeds max_amount 100 (1 more matching permissions do not hold either)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Authorize(decode(t, tt.claims), tt.action, decode(t, tt.request), tt.now)
			if d.Action != tt.action {
				t.Errorf("Action = %q, want %q", d.Action, tt.action)
			}
			if d.Allowed != tt.allowed || d.Code != tt.code {
				t.Fatalf("Allowed %v code %q (%s), want %v %q", d.Allowed, d.Code, d.Reason, tt.allowed, tt.code)
			}
			gotPerm := ""
			if d.Permission != nil {
				gotPerm, _ = d.Permission["action"].(string)
			}
			if gotPerm != tt.perm {
				t.Errorf("permission %q, want %q", gotPerm, tt.perm)
			}
			if d.Reason == "" || !strings.Contains(d.Reason, tt.inReason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tt.inReason)
			}
		})
	}
}

func TestAuthorizeNumberTypes(t *testing.T) {
	claims := decode(t, `{"permissions":[{"action":"payments:initiate","constraints":{"max_amount":0.3,"currency":"EUR"}}]}`)
	tests := []struct {
		name    string
		amount  any
		allowed bool
	}{
		{"json.Number", json.Number("0.3"), true},
		{"float64 literal", 0.3, true},
		{"float64 sum above limit", floatSum(0.1, 0.2), false}, // 0.30000000000000004
		{"float32", float32(0.25), true},
		{"int", 0, true},
		{"int64", int64(1), false},
		{"uint8", uint8(0), true},
		{"NaN", nan(), false},
		{"json.Number fraction syntax", json.Number("1/4"), false},
		{"json.Number hex", json.Number("0x0"), false},
		{"json.Number leading zero", json.Number("00.1"), false},
		{"json.Number tiny", json.Number("3e-400"), true},
		{"json.Number exponent too small", json.Number("3e-401"), false},
		{"bool", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Authorize(claims, "payments:initiate", map[string]any{"amount": tt.amount, "currency": "EUR"}, beforeTask)
			if d.Allowed != tt.allowed {
				t.Fatalf("Allowed %v (%s), want %v", d.Allowed, d.Reason, tt.allowed)
			}
			if !tt.allowed && d.Code != errcode.ConstraintViolated {
				t.Fatalf("code %q, want constraint_violated", d.Code)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// floatSum adds at run time (constant expressions are exact in Go).
func floatSum(a, b float64) float64 { return a + b }

func TestAuthorizeGoNativeShapes(t *testing.T) {
	claims := map[string]any{
		"permissions":  []map[string]any{{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 500, "currency": "EUR"}}},
		"prohibitions": []string{"payments:approve"},
		"task":         map[string]any{"id": "t", "expires": int64(1769904000)},
	}
	if d := Authorize(claims, "payments:initiate", map[string]any{"amount": 499.99, "currency": "EUR"}, beforeTask); !d.Allowed {
		t.Fatalf("denied: %+v", d)
	}
	if d := Authorize(claims, "payments:approve", nil, beforeTask); d.Code != errcode.ActionProhibited {
		t.Fatalf("code %q, want action_prohibited", d.Code)
	}
	if d := Authorize(claims, "payments:initiate", nil, beforeTask); d.Code != errcode.ConstraintViolated {
		t.Fatalf("nil request: code %q, want constraint_violated", d.Code)
	}
}

func TestDecisionJSON(t *testing.T) {
	allowed := Authorize(decode(t, baseClaims), "invoices:read", nil, beforeTask)
	b, err := json.Marshal(allowed)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"action":"invoices:read","allowed":true,"permission":{"action":"invoices:read"},"reason":"permitted by \"invoices:read\""}`; string(b) != want {
		t.Fatalf("allowed JSON %s, want %s", b, want)
	}
	denied := Authorize(decode(t, baseClaims), "calendar:read", nil, beforeTask)
	b, _ = json.Marshal(denied)
	if want := `{"action":"calendar:read","allowed":false,"code":"action_not_permitted","reason":"no disclosed permission matches action \"calendar:read\""}`; string(b) != want {
		t.Fatalf("denied JSON %s, want %s", b, want)
	}
	if !bytes.Contains(b, []byte(`"code"`)) {
		t.Fatal("no code in denial")
	}
}

func ExampleAuthorize() {
	claims := map[string]any{
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": json.Number("500"), "currency": "EUR"}},
		},
		"prohibitions": []any{"payments:approve"},
	}
	now := time.Unix(1767225600, 0)
	for _, req := range []map[string]any{
		{"action": "payments:initiate", "amount": json.Number("120.50"), "currency": "EUR"},
		{"action": "payments:initiate", "amount": json.Number("500.01"), "currency": "EUR"},
		{"action": "payments:approve"},
		{"action": "calendar:read"},
	} {
		d := Authorize(claims, req["action"].(string), req, now)
		fmt.Printf("%s allowed=%v %s: %s\n", d.Action, d.Allowed, d.Code, d.Reason)
	}
	// Output:
	// payments:initiate allowed=true : permitted by "payments:initiate"
	// payments:initiate allowed=false constraint_violated: amount 500.01 exceeds max_amount 500
	// payments:approve allowed=false action_prohibited: action "payments:approve" is prohibited by "payments:approve"
	// calendar:read allowed=false action_not_permitted: no disclosed permission matches action "calendar:read"
}

func BenchmarkAuthorize(b *testing.B) {
	claims := decode(b, baseClaims)
	request := decode(b, `{"amount":120.5,"currency":"EUR"}`)
	b.ReportAllocs()
	for b.Loop() {
		if d := Authorize(claims, "payments:initiate", request, beforeTask); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// TestSec09ResourceWildcardEscapes: a wildcard resource cannot be left
// through dot segments, encoded dot segments, backslashes, empty segments
// or encoded slashes; each is denied with a reason before matching.
func TestSec09ResourceWildcardEscapes(t *testing.T) {
	claims := decode(t, `{"permissions":[{"action":"files:read","resource":"files/acme/*"},{"action":"files:list","resource":"files/acme/report"}]}`)
	now := time.Unix(1_800_000_000, 0)
	for _, ok := range []string{"files/acme/x", "files/acme/2026/q1.pdf", "files/acme/a%20b", "files/acme/..x", "files/acme/x..", "files/acme/%41"} {
		if d := Authorize(claims, "files:read", map[string]any{"resource": ok}, now); !d.Allowed {
			t.Errorf("%s denied: %s", ok, d.Reason)
		}
	}
	for res, why := range map[string]string{
		"files/acme/%2e%2e/other/x":   "percent-encoded dot segment",
		"files/acme/%2E%2E/other/x":   "percent-encoded dot segment",
		"files/acme/%252e%252e/other": "percent-encoded dot segment",
		"files/acme/.%2e/other":       "percent-encoded dot segment",
		"files/acme/../other/x":       "dot segment",
		"files/acme/./x":              "dot segment",
		`files/acme/..\other`:         "backslash",
		"files/acme/%5c..%5cother":    "percent-encoded backslash",
		"files/acme//x":               "empty segment",
		"files/acme/":                 "empty segment",
		"files/acme/..%2fother":       "percent-encoded slash",
		"files/acme/%zz":              "malformed percent-encoding",
		"files/acme/x\x00":            "control character",
		"files/acme/%2525252e":        "nested too deep",
	} {
		d := Authorize(claims, "files:read", map[string]any{"resource": res}, now)
		if d.Allowed || d.Code != errcode.ConstraintViolated || !strings.Contains(d.Reason, why) || !strings.Contains(d.Reason, "is not covered") {
			t.Errorf("%q: allowed %v code %s reason %q, want a denial naming %q", res, d.Allowed, d.Code, d.Reason, why)
		}
	}
	// Exact resources are held to the same rule, and so are permissions.
	if d := Authorize(claims, "files:list", map[string]any{"resource": "files/acme/x/../report"}, now); d.Allowed {
		t.Fatal("an exact resource reached through a dot segment")
	}
	bad := decode(t, `{"permissions":[{"action":"files:read","resource":"files/../*"}]}`)
	if d := Authorize(bad, "files:read", map[string]any{"resource": "files/../etc"}, now); d.Allowed || !strings.Contains(d.Reason, "permission resource is malformed") {
		t.Fatalf("a permission with a dot segment: %+v", d)
	}
}

func TestAuthorizeApproval(t *testing.T) {
	const claims = `{"permissions":[
		{"action":"payments:initiate","reversibility":"compensable","constraints":{"max_amount":1000,"currency":"EUR","approval":{"above_amount":100}}},
		{"action":"wires:send","reversibility":"irreversible"},
		{"action":"vault:open","constraints":{"approval":"always"}},
		{"action":"bad:one","constraints":{"approval":"sometimes"}},
		{"action":"bad:two","constraints":{"approval":{"above_amount":-1}}},
		{"action":"notes:write","reversibility":"reversible"},
		{"action":"refunds:issue","constraints":{"approval":{"above_amount":100}}}]}`
	tests := []struct {
		name    string
		action  string
		request string
		o       authzOptions
		allowed bool
		code    errcode.Code
		rev     string
	}{
		{"under the threshold", "payments:initiate", `{"amount":100,"currency":"EUR"}`, authzOptions{}, true, "", Compensable},
		{"above the threshold", "payments:initiate", `{"amount":250,"currency":"EUR"}`, authzOptions{}, false, errcode.ApprovalRequired, Compensable},
		{"threshold, amount not a number", "payments:initiate", `{"amount":"250","currency":"EUR"}`, authzOptions{}, false, errcode.ConstraintViolated, ""},
		{"above the limit: not even with approval", "payments:initiate", `{"amount":1001,"currency":"EUR"}`, authzOptions{}, false, errcode.ConstraintViolated, ""},
		{"always", "vault:open", `{}`, authzOptions{}, false, errcode.ApprovalRequired, ""},
		{"malformed approval constraint", "bad:one", `{}`, authzOptions{}, false, errcode.ConstraintViolated, ""},
		{"negative threshold", "bad:two", `{}`, authzOptions{}, false, errcode.ConstraintViolated, ""},
		{"irreversible without the policy", "wires:send", `{}`, authzOptions{}, true, "", Irreversible},
		{"irreversible under the policy", "wires:send", `{}`, authzOptions{approveIrreversible: true}, false, errcode.ApprovalRequired, Irreversible},
		{"policy lists the action as irreversible", "notes:write", `{}`, authzOptions{approveIrreversible: true, irreversible: []string{"notes:*"}}, false, errcode.ApprovalRequired, Irreversible},
		{"reversible under the policy", "notes:write", `{}`, authzOptions{approveIrreversible: true}, true, "", Reversible},
		// Without max_amount nothing else refuses a negative amount: it is
		// no amount under the threshold, and needs approval.
		{"threshold alone, under it", "refunds:issue", `{"amount":100}`, authzOptions{}, true, "", ""},
		{"threshold alone, negative amount", "refunds:issue", `{"amount":-5000}`, authzOptions{}, false, errcode.ApprovalRequired, ""},
		{"threshold alone, amount missing", "refunds:issue", `{}`, authzOptions{}, false, errcode.ApprovalRequired, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := authorize(decode(t, claims), tc.action, decode(t, tc.request), beforeTask, tc.o)
			if d.Allowed != tc.allowed || d.Code != tc.code {
				t.Fatalf("allowed=%v code=%q (%s), want %v %q", d.Allowed, d.Code, d.Reason, tc.allowed, tc.code)
			}
			if tc.code != errcode.ConstraintViolated && d.Reversibility != tc.rev {
				t.Fatalf("reversibility %q, want %q", d.Reversibility, tc.rev)
			}
		})
	}
	// A permission that needs no approval wins over one that does.
	two := `{"permissions":[{"action":"a:b","constraints":{"approval":"always"}},{"action":"a:*"}]}`
	if d := Authorize(decode(t, two), "a:b", nil, beforeTask); !d.Allowed || d.Permission["action"] != "a:*" {
		t.Fatalf("decision %+v", d)
	}
}
