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

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const vectorsDir = "../testdata/vectors"

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

// canon turns any JSON-encodable value into plain encoding/json values
// (float64 numbers) so that two payloads compare with reflect.DeepEqual.
func canon(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonEqual(t testing.TB, got, want any) bool {
	t.Helper()
	return reflect.DeepEqual(canon(t, got), canon(t, want))
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
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.ParseKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicJWKMap returns the public key as a JSON object, for cnf.jwk.
func publicJWKMap(t testing.TB, k jwk.Key) map[string]any {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func staticKey(k jwk.Key) KeyFunc {
	return func(context.Context, string, jws.Headers) (jwk.Key, error) { return k, nil }
}

func fixedClock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

// signJWS signs payload (marshalled as is) with the given extra protected
// header members; it is how tests build hostile tokens.
func signJWS(t testing.TB, key jwk.Key, alg jwa.SignatureAlgorithm, hdr map[string]any, payload any) string {
	t.Helper()
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
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
