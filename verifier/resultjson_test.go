package verifier

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// reflectJSON is the documented shape as encoding/json writes resultJSON:
// the reference AppendJSON is held to.
func (r Result) reflectJSON() ([]byte, error) {
	out := resultJSON{plainResult: plainResult(r), Errors: []ErrorInfo{}}
	if r.Error != nil {
		out.Errors = append(out.Errors, *r.Error)
	}
	return json.Marshal(out)
}

func sampleResults(t testing.TB) []Result {
	at := time.Date(2026, 12, 1, 22, 0, 0, 123456789, time.UTC)
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(`{"iss":"did:web:x","n":12.50,"e":-1e-7,"s":"<a href=\"x\">&amp;</a>\u2028\u2029\t\b\f\u0001\u007f é 😀","l":[],"m":{},"z":null,"b":false,"nested":{"b":[{"y":1,"x":[true,null]}],"a":"\\"}}`)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	claims["bad-utf8"] = "a\xffb\xc0"
	return []Result{
		{},
		{Verified: true, Issuer: "did:web:i", Subject: "did:key:z", VCT: "urn:v", Claims: claims, Status: StatusInfo{Checked: true, Value: "valid", AsOf: &at, FetchedAt: &at},
			Decision:             &Decision{Action: "payments:initiate", Allowed: true, Permission: map[string]any{"action": "payments:*"}, Reason: "ok <&>"},
			Chain:                []HopInfo{{Subject: "did:key:a", Task: map[string]any{"id": "T"}, IssuedAt: 1, Expires: 2, Link: "sd_hash"}},
			EffectivePermissions: []any{map[string]any{"action": "invoices:read"}}, Receipt: "a.b.c"},
		{Claims: map[string]any{}, Error: &ErrorInfo{Code: errcode.StatusUnavailable, Message: "can't \"fetch\"\n", Cause: errcode.FetchRefused}},
		{Verified: false, Claims: map[string]any{"x": json.Number("")}, Error: &ErrorInfo{Code: errcode.Revoked, Message: "revoked"}},
		{Claims: map[string]any{"f": 1.5, "i": 3, "t": at}},
	}
}

// TestResultJSONIsTheReflectedShape: AppendJSON writes byte for byte what
// encoding/json writes for the documented shape, and reads back.
func TestResultJSONIsTheReflectedShape(t *testing.T) {
	for i, r := range sampleResults(t) {
		want, werr := r.reflectJSON()
		got, err := r.MarshalJSON()
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("result %d:\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
		var back Result
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("result %d does not read back: %v", i, err)
		}
	}
	bad := Result{Claims: map[string]any{"n": json.Number("1x")}}
	if _, err := bad.MarshalJSON(); err == nil {
		t.Fatal("an invalid json.Number was written")
	}
}

// FuzzResultJSON: for any claims and strings, AppendJSON and encoding/json
// write the same bytes.
func FuzzResultJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"<x>",{"b":null}],"c":"\u2028"}`), "did:web:x", "m\xff<&>\x00", "sub")
	f.Add([]byte(`{}`), "", "", "")
	f.Fuzz(func(t *testing.T, claims []byte, iss, msg, sub string) {
		var c map[string]any
		dec := json.NewDecoder(bytes.NewReader(claims))
		dec.UseNumber()
		if dec.Decode(&c) != nil {
			c = map[string]any{"raw": string(claims)}
		}
		c[msg] = iss
		r := Result{Issuer: iss, Subject: sub, Claims: c, EffectivePermissions: []any{c, msg}, Error: &ErrorInfo{Code: errcode.Code(msg), Message: msg}}
		want, werr := r.reflectJSON()
		got, err := r.MarshalJSON()
		if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("\n got %s (%v)\nwant %s (%v)", got, err, want, werr)
		}
	})
}
