package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// shellBlock returns the first ```sh block after heading (a regular
// expression) in the document at path.
func shellBlock(t *testing.T, path, heading string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)" + heading + ".*?```sh\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatalf("%s has no shell block after %q", path, heading)
	}
	return string(m[1])
}

// runShellDoc runs a shell script taken from a document in dir, with
// bin/agentcert (the binary under test) and a `make` that only knows
// `build` (the binary is built already) on PATH, TMPDIR inside dir, and
// 127.0.0.1:8080 and :8090 (the documents' ports) replaced by a free port. Whatever the script leaves
// running is killed with its process group.
func runShellDoc(t *testing.T, script string) (dir string, out []byte, err error) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	dir = t.TempDir()
	for _, d := range []string{"bin", "shims", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(binPath, filepath.Join(dir, "bin", "agentcert")); err != nil {
		t.Fatal(err)
	}
	shim := "#!/bin/sh\n[ \"$*\" = build ] && exit 0\necho \"make $* is not available in this test\" >&2; exit 2\n"
	if err := os.WriteFile(filepath.Join(dir, "shims", "make"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{"127.0.0.1:8080", "127.0.0.1:8090"} {
		script = strings.ReplaceAll(script, doc, "127.0.0.1:"+strconv.Itoa(port))
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "shims")+":"+os.Getenv("PATH"), "TMPDIR="+filepath.Join(dir, "tmp"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	out, err = cmd.CombinedOutput()
	return dir, out, err
}

// TestReadmeQuickStart runs the README's "first verified presentation"
// block as written (only the port is changed): it starts its own server in
// a fresh directory, issues, presents and verifies.
func TestReadmeQuickStart(t *testing.T) {
	script := shellBlock(t, "../../README.md", "### Your first verified presentation")
	// What the paragraph after the block says of a denied action.
	const stop = "# done: stop the server"
	if !strings.Contains(script, stop) {
		t.Fatalf("the quick start no longer ends with %q", stop)
	}
	script = strings.Replace(script, stop, `set +e
agentcert verify --server http://127.0.0.1:8080 --presentation presentation.txt \
  --aud https://invoices.example --nonce n-123 --action payments:initiate
echo "denied exit: $?"
set -e
`+stop, 1)
	dir, out, err := runShellDoc(t, script)
	if err != nil {
		t.Fatalf("quick start failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"VERIFIED, action invoices:read ALLOWED\n", "status:  valid",
		"VERIFIED, action payments:initiate DENIED (action_prohibited)\n", "denied exit: 1",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("quick start output lacks %q:\n%s", want, out)
		}
	}
	// Everything it wrote is in its fresh directory, nothing where it started.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "bin" && n != "shims" && n != "tmp" {
			t.Errorf("the quick start wrote %s where it was started", n)
		}
	}
	work, _ := filepath.Glob(filepath.Join(dir, "tmp", "*", "agent.jwk"))
	if len(work) != 1 {
		t.Errorf("agent.jwk is not in the fresh directory: %v", work)
	}
}

// TestDocsWalkthrough runs every shell block of docs/walkthrough.md, in
// order, as one script (only the port is changed).
func TestDocsWalkthrough(t *testing.T) {
	doc, err := os.ReadFile("../../docs/walkthrough.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) < 9 {
		t.Fatalf("docs/walkthrough.md has %d shell blocks, want every step's", len(blocks))
	}
	var script strings.Builder
	for _, b := range blocks {
		script.Write(b[1])
	}
	_, out, err := runShellDoc(t, script.String())
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	o := string(out)
	for _, want := range []string{
		"issuer DID: did:web:127.0.0.1%3A",
		"acme-issuing-service",
		"kind:        SD-JWT VC (no key binding)",
		"VERIFIED, action invoices:read ALLOWED\n",
		"VERIFIED, action payments:initiate DENIED (action_prohibited)\n",
		"NOT VERIFIED: revoked: the credential is revoked",
		"credential.revoke",
		"INC-2026-042",
		`"status": "revoked"`,
		"audit log intact",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(o, "exit status 1\n"); n != 2 {
		t.Errorf("%d commands reported exit status 1, want the denial and the revocation:\n%s", n, out)
	}
	if !regexp.MustCompile(`credential\.revoke\s+\S+\s+\{[^\n]*"request_id":"[0-9a-f]{24}"`).MatchString(o) {
		t.Errorf("the revocation's audit entry has no request_id:\n%s", out)
	}
}
