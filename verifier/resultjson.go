package verifier

import (
	"encoding/json"
	"strconv"

	"github.com/agentcert/agentcert/internal/jsonval"
)

// AppendJSON appends r's documented JSON shape (the bytes MarshalJSON
// gives) to b without reflection for the result itself and its free-form
// claims: the fields in their declared order, map keys sorted, strings
// escaped exactly as encoding/json escapes them (HTML-safe). Only the
// decision and the chain hops, small structs, go through encoding/json.
func (r *Result) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"verified":`...)
	b = strconv.AppendBool(b, r.Verified)
	for _, f := range []struct{ name, v string }{{"issuer", r.Issuer}, {"subject", r.Subject}, {"vct", r.VCT}} {
		if f.v != "" {
			b = append(b, ',', '"')
			b = append(b, f.name...)
			b = append(b, '"', ':')
			b = appendString(b, f.v)
		}
	}
	if len(r.Claims) > 0 {
		b = append(b, `,"claims":`...)
		if b, err = appendAny(b, r.Claims); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"status":{"checked":`...)
	b = strconv.AppendBool(b, r.Status.Checked)
	if r.Status.Value != "" {
		b = append(b, `,"value":`...)
		b = appendString(b, r.Status.Value)
	}
	for _, t := range []struct {
		name string
		v    json.Marshaler
		set  bool
	}{{"as_of", r.Status.AsOf, r.Status.AsOf != nil}, {"fetched_at", r.Status.FetchedAt, r.Status.FetchedAt != nil}} {
		if !t.set {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, t.name...)
		b = append(b, '"', ':')
		tb, err := t.v.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, tb...)
	}
	b = append(b, '}')
	if r.Decision != nil {
		if b, err = appendMarshal(append(b, `,"decision":`...), r.Decision); err != nil {
			return nil, err
		}
	}
	if len(r.Chain) > 0 {
		if b, err = appendMarshal(append(b, `,"chain":`...), r.Chain); err != nil {
			return nil, err
		}
	}
	if len(r.EffectivePermissions) > 0 {
		if b, err = appendAny(append(b, `,"effective_permissions":`...), r.EffectivePermissions); err != nil {
			return nil, err
		}
	}
	if r.Receipt != "" {
		b = appendString(append(b, `,"receipt":`...), r.Receipt)
	}
	b = append(b, `,"errors":[`...)
	if e := r.Error; e != nil {
		b = appendString(append(b, `{"code":`...), string(e.Code))
		b = appendString(append(b, `,"message":`...), e.Message)
		if e.Cause != "" {
			b = appendString(append(b, `,"cause":`...), string(e.Cause))
		}
		b = append(b, '}')
	}
	return append(b, ']', '}'), nil
}

// appendAny appends a decoded JSON value (maps, slices, strings,
// json.Number, bools, nil) as jsonval.AppendValue writes it, HTML-safe;
// anything else goes through encoding/json, whose bytes are the same.
func appendAny(b []byte, v any) ([]byte, error) {
	if out, ok := jsonval.AppendValue(b, v, true); ok {
		return out, nil
	}
	return appendMarshal(b, v) // json.Marshal validates a json.Number there
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	m, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, m...), nil
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping on.
func appendString(b []byte, s string) []byte { return jsonval.AppendString(b, s, true) }
