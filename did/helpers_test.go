package did

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/agentcert/agentcert/internal/testkit"
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

func mustParseKey(t testing.TB, v any) jwk.Key {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		b = testkit.JSON(t, v)
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
	m := testkit.JSONMap(t, pk)
	for _, d := range drop {
		delete(m, d)
	}
	return m
}
