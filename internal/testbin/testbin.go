// Package testbin builds the agentcert binary once for a test binary and
// runs it, for the end-to-end tests of cmd/agentcert and interop.
package testbin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Root is the absolute path of the module.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build builds the agentcert CLI into a temporary directory and returns its
// path and a function that removes it. Call it from TestMain.
func Build() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "agentcert-bin-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "agentcert")
	build := exec.Command("go", "build", "-o", bin, "./cmd/agentcert")
	build.Dir = Root()
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Run runs bin with args in dir and returns stdout, stderr and the exit
// code. env, when not nil, is the whole environment.
func Run(t testing.TB, bin, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("agentcert %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// MustRun is Run that fails t unless the exit code is 0, and returns the
// trimmed stdout.
func MustRun(t testing.TB, bin, dir string, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := Run(t, bin, dir, env, args...)
	if code != 0 {
		t.Fatalf("agentcert %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// Main is the TestMain of a package of end-to-end tests: it builds the CLI
// (see Build) into *bin, runs the tests, removes the binary and exits with
// the tests' code.
func Main(m *testing.M, bin *string) {
	path, cleanup, err := Build()
	if err != nil {
		panic("build agentcert: " + err.Error())
	}
	*bin = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}
