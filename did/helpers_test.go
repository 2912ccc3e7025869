package did

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParseKey(t testing.TB, v any) jwk.Key {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		b = mustJSON(t, v)
	}
	k, err := jwk.ParseKey(b)
	if err != nil {
		t.Fatalf("parse key %s: %v", b, err)
	}
	return k
}

// publicMembers returns the JSON of k's public key, for comparisons.
func publicMembers(t testing.TB, k jwk.Key, drop ...string) map[string]any {
	t.Helper()
	pk, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(mustJSON(t, pk), &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range drop {
		delete(m, d)
	}
	return m
}
