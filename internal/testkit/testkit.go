// Package testkit holds the checks and loaders that tests of several
// packages share: the exact error code of a failure, and the spec vectors
// under testdata/vectors, and waiting for a state another goroutine reaches.
package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// WantCode fails t unless err carries code as its code ("" means no
// error); when code is set, err must hold an *errcode.Error. what, when
// given, says what was tried.
func WantCode(t testing.TB, err error, code errcode.Code, what ...any) {
	t.Helper()
	if got := errcode.CodeOf(err); got != code {
		t.Fatalf("%serror code = %q (%v), want %q", label(what), got, err, code)
	}
	if code != "" {
		var e *errcode.Error
		if !errors.As(err, &e) {
			t.Fatalf("%serror %v is not an *errcode.Error", label(what), err)
		}
	}
}

// WantCause fails t unless some error in err's chain carries code.
func WantCause(t testing.TB, err error, code errcode.Code) {
	t.Helper()
	if !errors.Is(err, errcode.New(code, "")) {
		t.Fatalf("error %v has no cause with code %q", err, code)
	}
}

func label(what []any) string {
	if len(what) == 0 {
		return ""
	}
	return fmt.Sprint(what...) + ": "
}

// VectorsDir is the absolute path of testdata/vectors.
func VectorsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "vectors")
}

// ReadVector returns the bytes of a file under testdata/vectors.
func ReadVector(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(VectorsDir(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LoadVector decodes a JSON file under testdata/vectors into v.
func LoadVector(t testing.TB, rel string, v any) {
	t.Helper()
	if err := json.Unmarshal(ReadVector(t, rel), v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// Eventually waits until cond holds, polling, and fails t if it does not
// within 30 seconds (generous, for a loaded machine). It is for states
// another goroutine reaches, never a stand-in for a speed assertion.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 30s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
