package testkit

import (
	"encoding/json"
	"testing"
)

// JSON returns the encoding/json encoding of v; a failure fails t.
func JSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return b
}

// JSONMap returns v (a struct, map or key that encodes as a JSON object)
// as a decoded JSON object.
func JSONMap(t testing.TB, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(JSON(t, v), &m); err != nil {
		t.Fatalf("decode %T as an object: %v", v, err)
	}
	return m
}

// Canon turns any JSON-encodable value into plain encoding/json values
// (maps, slices, float64 numbers, strings, booleans, nil), so that values
// from different decoders compare with reflect.DeepEqual.
func Canon(t testing.TB, v any) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(JSON(t, v), &out); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return out
}
