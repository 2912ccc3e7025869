package did

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const vectorsDir = "../testdata/vectors"

// loadJSON reads a vector file from testdata into v.
func loadJSON(t testing.TB, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// wantCode fails unless err carries code ("" means no error).
func wantCode(t testing.TB, err error, code errcode.Code) {
	t.Helper()
	if got := errcode.CodeOf(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if code != "" {
		var e *errcode.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not an *errcode.Error", err)
		}
	}
}

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
