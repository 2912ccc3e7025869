package sdjwt

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// readJSON decodes a testdata file with numbers as json.Number.
func readJSON(t testing.TB, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func readText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

func jsonEqual(t testing.TB, got, want any) bool {
	t.Helper()
	return reflect.DeepEqual(testkit.Canon(t, got), testkit.Canon(t, want))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyFromMap parses a JWK given as a decoded JSON object.
func keyFromMap(t testing.TB, m any) jwk.Key {
	t.Helper()
	k, err := jwk.ParseKey(testkit.JSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func staticKey(k jwk.Key) KeyFunc {
	return func(context.Context, string, jws.Headers) (jwk.Key, error) { return k, nil }
}

func fixedClock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

// disc encodes a disclosure array as sent.
func disc(t testing.TB, elems ...any) string {
	t.Helper()
	b, err := json.Marshal(elems)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func listDirs(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
