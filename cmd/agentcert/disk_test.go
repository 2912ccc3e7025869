//go:build linux

package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
)

// A data directory whose file system fills up or turns read-only under a
// running server: writes answer 503 storage_unwritable, reads and
// verification keep working, nothing is corrupted, and writes resume once
// the file system takes them again. The file systems are real (a tmpfs, a
// loop-mounted ext4), so these tests need root; elsewhere they skip, and
// storetest.RunUnwritable still checks the store's side with injected
// faults.

const skipNoMount = "mounting a file system is not permitted here (needs root / CAP_SYS_ADMIN)"

// noMount skips a test that cannot mount here, except where the suite must
// run everything (AGENTCERT_REQUIRE_SERVICES=1, as in CI, which runs as
// root): there it fails, so that CI never passes by skipping.
func noMount(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := skipNoMount + ": " + fmt.Sprintf(format, args...)
	if os.Getenv("AGENTCERT_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s; AGENTCERT_REQUIRE_SERVICES=1 makes this a failure", msg)
	}
	t.Skip(msg)
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		noMount(t, "mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file into dir until its file system has no byte left
// and returns the file's path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for _, chunk := range []int{1 << 20, 4096, 1} {
		for {
			if _, err := f.Write(buf[:chunk]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
	return path
}

// diskCase is a server with some credentials, used before, during and after
// a storage failure.
type diskCase struct {
	ts                       *testServer
	issuerTok, auditorTok    string
	agent                    jwk.Key
	subject                  string
	valid, revoked           issuer.Issued
	issued                   []issuer.Issued // every acknowledged issuance
	revokedIDs, suspendedIDs map[string]bool
}

func newDiskCase(t *testing.T, dataDir string) *diskCase {
	t.Helper()
	d := &diskCase{ts: startServer(t, dataDir), revokedIDs: map[string]bool{}, suspendedIDs: map[string]bool{}}
	d.issuerTok = issueToken(t, dataDir, "issuer")
	d.auditorTok = issueToken(t, dataDir, "auditor")
	d.agent, d.subject = testkeys.DIDKey(t, jwa.EdDSA)
	d.valid = d.issue(t)
	d.revoked = d.issue(t)
	d.change(t, d.revoked.ID, "revoke")
	return d
}

func (d *diskCase) issueRequest() map[string]any {
	return map[string]any{"subject": d.subject, "claims": demoClaims(), "valid_for": "24h"}
}

func (d *diskCase) issue(t *testing.T) issuer.Issued {
	t.Helper()
	c := d.ts.issue(t, d.issuerTok, d.issueRequest())
	d.issued = append(d.issued, c)
	return c
}

func (d *diskCase) change(t *testing.T, id, action string) {
	t.Helper()
	status, body := d.ts.Do(http.MethodPost, "/v1/credentials/"+id+"/"+action, d.auditorTok, issuer.StatusRequest{Reason: "incident"})
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", action, id, status, body)
	}
	switch action {
	case "revoke":
		d.revokedIDs[id] = true
	case "suspend":
		d.suspendedIDs[id] = true
	}
}

// writesRefused checks that every kind of write answers 503 with
// storage_unwritable and a detail naming the cause.
func (d *diskCase) writesRefused(t *testing.T, cause string) {
	t.Helper()
	for _, w := range []struct {
		what, path, token string
		body              any
	}{
		{"issue", "/v1/credentials", d.issuerTok, d.issueRequest()},
		{"suspend", "/v1/credentials/" + d.valid.ID + "/suspend", d.auditorTok, issuer.StatusRequest{Reason: "incident"}},
		{"revoke", "/v1/credentials/" + d.valid.ID + "/revoke", d.auditorTok, issuer.StatusRequest{Reason: "incident"}},
		{"create a token", "/v1/admin/tokens", d.ts.AdminToken, map[string]any{"role": "auditor"}},
	} {
		status, hdr, body := d.ts.DoHeaders(http.MethodPost, w.path, w.token, w.body, nil)
		p := wantProblem(t, w.what, status, hdr, body, http.StatusServiceUnavailable, "storage_unwritable")
		if !strings.Contains(p.Detail, cause) {
			t.Errorf("%s: detail %q does not say %q", w.what, p.Detail, cause)
		}
	}
	if refused := d.ts.metricValue(t, "agentcert_store_writes_refused_total"); refused < 4 {
		t.Errorf("agentcert_store_writes_refused_total is %v, want at least 4", refused)
	}
}

// readsWork checks the records, the published status list and verification.
func (d *diskCase) readsWork(t *testing.T) {
	t.Helper()
	for _, c := range []issuer.Issued{d.valid, d.revoked} {
		status, body := d.ts.Do(http.MethodGet, "/v1/credentials/"+c.ID, d.auditorTok, nil)
		var rec crashRecord
		if status != http.StatusOK || json.Unmarshal(body, &rec) != nil {
			t.Fatalf("GET credential %s: %d %s", c.ID, status, body)
		}
		if want := map[bool]string{true: "revoked", false: "valid"}[d.revokedIDs[c.ID]]; rec.Status != want {
			t.Errorf("%s is %s, want %s", c.ID, rec.Status, want)
		}
	}
	lists := durFetchLists(t, d.ts, []issuer.Issued{{Status: issuer.StatusRef(d.valid.Status)}})
	tok := lists[d.valid.Status.URI]
	for c, want := range map[string]uint8{d.valid.ID: revocation.StatusValid, d.revoked.ID: revocation.StatusRevoked} {
		idx := d.valid.Status.Idx
		if c == d.revoked.ID {
			idx = d.revoked.Status.Idx
		}
		if v, err := tok.List.Get(idx); err != nil || v != want {
			t.Errorf("status list: %s #%d is %d (%v), want %d", c, idx, v, err, want)
		}
	}
	for c, want := range map[string]string{d.valid.Credential: "", d.revoked.Credential: "revoked"} {
		if got := d.verify(t, c); got != want {
			t.Errorf("verify: code %q, want %q", got, want)
		}
	}
	// Ready: the store answers, and reads are what it can serve.
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := d.ts.Do(http.MethodGet, path, "", nil); status != http.StatusOK {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}

// verify presents cred to POST /v1/verify and returns the first error code
// ("" when verified).
func (d *diskCase) verify(t *testing.T, cred string) string {
	t.Helper()
	nonce := randomHex(8)
	pres, err := sdjwt.Present(cred, []string{""}, &sdjwt.KBOptions{Key: d.agent, Audience: testVerifierAud, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	status, body := d.ts.Do(http.MethodPost, "/v1/verify", "", map[string]any{"presentation": pres, "audience": testVerifierAud, "nonce": nonce})
	var res verifier.Result
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil {
		t.Fatalf("POST /v1/verify: %d %s", status, body)
	}
	return firstErr(res)
}

// writesResume issues, suspends and revokes again.
func (d *diskCase) writesResume(t *testing.T) {
	t.Helper()
	c := d.issue(t)
	d.change(t, c.ID, "suspend")
	d.change(t, d.valid.ID, "revoke")
}

// intact checks, after a graceful restart, that every acknowledged
// issuance and status change is stored, that the audit chain verifies and
// that SQLite finds the database file intact.
func (d *diskCase) intact(t *testing.T) {
	t.Helper()
	d.ts.Restart()
	for _, c := range d.issued {
		status, body := d.ts.Do(http.MethodGet, "/v1/credentials/"+c.ID, d.auditorTok, nil)
		var rec crashRecord
		if status != http.StatusOK || json.Unmarshal(body, &rec) != nil {
			t.Fatalf("GET credential %s after restart: %d %s", c.ID, status, body)
		}
		want := "valid"
		switch {
		case d.revokedIDs[c.ID]:
			want = "revoked"
		case d.suspendedIDs[c.ID]:
			want = "suspended"
		}
		if rec.Status != want || rec.StatusList.Idx != c.Status.Idx || rec.StatusList.URI != c.Status.URI {
			t.Errorf("%s after restart: %+v, want status %s at %+v", c.ID, rec, want, c.Status)
		}
	}
	if out := mustRun(t, d.ts.DataDir, "audit", "verify", "--data-dir", d.ts.DataDir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify: %s", out)
	}
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(d.ts.DataDir, "agentcert.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}

func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs a server on it")
	}
	mnt := mountTmpfs(t, 24<<20)
	dataDir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := newDiskCase(t, dataDir)
	filler := fillDisk(t, mnt)
	d.writesRefused(t, "out of space")
	t.Logf("the tmpfs is full; 4 kinds of write refused")
	d.readsWork(t)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	d.writesResume(t)
	d.intact(t)
}

func TestDiskReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("loop-mounts an ext4 image and runs a server on it")
	}
	mnt, img := mountExt4(t, 32<<20)
	dataDir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := newDiskCase(t, dataDir)
	// The test's config file is the test's to make durable (the server
	// syncs what it writes itself).
	syncFile(t, d.ts.Config)
	// The kernel turns the file system read-only under the server, as it
	// does on an I/O error with errors=remount-ro: open files included.
	ext4Error(t, mnt)
	d.writesRefused(t, "read-only")
	d.readsWork(t)

	// Repair as an operator would: stop, check the file system, mount it
	// again; then everything acknowledged is there and writes resume.
	d.ts.Signal(syscall.SIGTERM)
	d.ts.Wait()
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("e2fsck", "-fy", img).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 { // 1: errors corrected
			t.Fatalf("e2fsck: %v\n%s", err, out)
		}
	}
	mountLoop(t, img, mnt)
	d.intact(t)
	d.writesResume(t)
}

func syncFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// mountExt4 makes an ext4 image of size bytes, loop-mounts it with
// errors=remount-ro on a new directory and returns the directory and image.
func mountExt4(t *testing.T, size int64) (dir, img string) {
	t.Helper()
	for _, tool := range []string{"mkfs.ext4", "e2fsck", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if _, err := os.Stat("/sys/fs/ext4"); err != nil {
		t.Skipf("no ext4 in this kernel: %v", err)
	}
	img = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	dir = t.TempDir()
	if os.Geteuid() != 0 {
		noMount(t, "not root")
	}
	mountLoop(t, img, dir)
	return dir, img
}

// mountLoop loop-mounts the ext4 image on dir and unmounts it when the
// test ends (unless it is no longer mounted).
func mountLoop(t *testing.T, img, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "loop,errors=remount-ro", img, dir).CombinedOutput(); err != nil {
		noMount(t, "mount -o loop: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
}

// ext4Error raises an ext4 error on the file system mounted at dir, which
// errors=remount-ro answers by making it read-only at once.
func ext4Error(t *testing.T, dir string) {
	t.Helper()
	dev := ""
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == dir && f[2] == "ext4" {
			dev = filepath.Base(f[0])
		}
	}
	trigger := filepath.Join("/sys/fs/ext4", dev, "trigger_fs_error")
	if dev == "" {
		t.Fatalf("%s is not an ext4 mount", dir)
	}
	if err := os.WriteFile(trigger, []byte("agentcert read-only test"), 0o200); err != nil {
		t.Skipf("cannot raise an ext4 error through %s: %v", trigger, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("after the ext4 error, creating a file gives %v, want EROFS", err)
	}
}
