package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/inspect"
)

// TestEverydayOnlineCommands: credentials issue|get|list, audit list and
// inspect against a running server, with --server and --token.
func TestEverydayOnlineCommands(t *testing.T) {
	dir := t.TempDir()
	ts, issuerTok, auditor := startWithTokens(t, dir)
	id, credFile, key := issueCLI(t, dir, ts.URL, issuerTok)

	// get: the issuer that issued it, and the auditor.
	for _, tok := range []string{issuerTok, auditor} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(mustRun(t, dir, "credentials", "get", id, "--server", ts.URL, "--token", tok)), &rec); err != nil || rec["id"] != id || rec["status"] != "valid" {
			t.Fatalf("credentials get: %v %v", err, rec)
		}
	}
	if _, errOut, code := run(t, dir, "credentials", "get", "urn:uuid:nope", "--server", ts.URL, "--token", auditor); code != 1 || !strings.Contains(errOut, "(not_found)") {
		t.Fatalf("credentials get of an unknown id: exit %d %q", code, errOut)
	}
	// issue with an idempotency key returns the first answer again.
	agent, _ := newAgent(t, dir, "idem")
	req, _ := json.Marshal(issueRequest(agent))
	reqFile := filepath.Join(dir, "idem.json")
	write(t, reqFile, string(req))
	a := mustRun(t, dir, "credentials", "issue", "--request", reqFile, "--idempotency-key", "k-1", "--server", ts.URL, "--token", issuerTok)
	b := mustRun(t, dir, "credentials", "issue", "--request", reqFile, "--idempotency-key", "k-1", "--server", ts.URL, "--token", issuerTok)
	if a != b || !strings.Contains(a, `"credential":`) {
		t.Fatalf("an idempotent retry answered differently:\n%s\n%s", a, b)
	}
	// Refusals: schema errors from the server, usage errors locally.
	write(t, filepath.Join(dir, "bad.json"), `{"subject": "did:key:nope", "claims": {}}`)
	if _, errOut, code := run(t, dir, "credentials", "issue", "--request", "bad.json", "--server", ts.URL, "--token", issuerTok); code != 1 || !strings.Contains(errOut, "credentials issue: HTTP 400") {
		t.Fatalf("issue of a bad request: exit %d %q", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"credentials", "issue", "--server", ts.URL, "--token", issuerTok}, "--request is required"},
		{[]string{"credentials", "issue", "--request", "bad.json", "--server", ts.URL}, "--token (or $AGENTCERT_TOKEN) is required"},
		{[]string{"credentials", "issue", "--request", "missing.json", "--server", ts.URL, "--token", "x"}, "missing.json"},
		{[]string{"credentials", "issue", "--request", "bad.json", "--server", "ftp://x", "--token", "x"}, "is not an http(s) URL"},
		{[]string{"credentials", "issue", "--request", "bad.json", "--out", credFile, "--server", ts.URL, "--token", issuerTok}, ""},
		{[]string{"credentials", "list", "--status", "gone", "--token", "x"}, "--status must be one of valid, revoked, suspended"},
		{[]string{"credentials", "list", "--limit", "0", "--token", "x"}, "--limit must be between 1 and 1000"},
		{[]string{"credentials", "list", "--issued-before", "yesterday", "--token", "x"}, "--issued-before must be an RFC 3339 time"},
		{[]string{"audit", "list", "--since", "today", "--token", "x"}, "--since must be an RFC 3339 time"},
		{[]string{"audit", "list", "--cursor", "-1", "--token", "x"}, "--cursor must be a sequence number"},
		{[]string{"credentials", "get", " ", "--token", "x"}, "the credential ID is empty"},
	} {
		_, errOut, code := run(t, dir, tc.args...)
		if tc.want == "" { // the bad request is refused by the server before --out is written
			if code != 1 {
				t.Errorf("%v: exit %d %q", tc.args, code, errOut)
			}
			continue
		}
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}

	// Revoke one, then list by status, as text and JSON.
	mustRun(t, dir, "revoke", id, "--reason", "superseded", "--server", ts.URL, "--token", auditor)
	out := mustRun(t, dir, "credentials", "list", "--status", "revoked", "--server", ts.URL, "--token", auditor)
	if lines := strings.Split(out, "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], id+"  ") || !strings.Contains(lines[0], "revoked") {
		t.Fatalf("credentials list --status revoked:\n%s", out)
	}
	var page struct {
		Credentials []map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "credentials", "list", "--json", "--server", ts.URL, "--token", auditor)), &page); err != nil || len(page.Credentials) != 2 {
		t.Fatalf("credentials list --json: %v %d", err, len(page.Credentials))
	}
	_, errOut, code := run(t, dir, "credentials", "list", "--limit", "1", "--server", ts.URL, "--token", auditor)
	if code != 0 || !strings.HasPrefix(errOut, "next: ") {
		t.Fatalf("credentials list --limit 1: exit %d, stderr %q, want a next cursor", code, errOut)
	}
	if _, errOut, code := run(t, dir, "credentials", "list", "--server", ts.URL, "--token", issuerTok); code != 1 || !strings.Contains(errOut, "(forbidden)") {
		t.Fatalf("credentials list with an issuer token: exit %d %q", code, errOut)
	}

	// audit list
	out = mustRun(t, dir, "audit", "list", "--action", "credential.revoke", "--server", ts.URL, "--token", auditor)
	if !regexp.MustCompile(`(?m)^\d+\s+\S+\s+tok_[0-9a-f]+\s+credential\.revoke\s+` + regexp.QuoteMeta(id) + `\s+\{.*"reason":"superseded".*"request_id":"[0-9a-f]{24}"`).MatchString(out) {
		t.Fatalf("audit list --action credential.revoke:\n%s", out)
	}
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "audit", "list", "--json", "--target", id, "--server", ts.URL, "--token", auditor)), &audit); err != nil || len(audit.Entries) != 2 {
		t.Fatalf("audit list --json --target: %v %+v", err, audit.Entries)
	}
	if _, errOut, code := run(t, dir, "audit", "list", "--server", ts.URL, "--token", "act_wrong"); code != 1 || !strings.Contains(errOut, "(unauthorized)") {
		t.Fatalf("audit list with an unknown token: exit %d %q", code, errOut)
	}

	// inspect: the credential, a presentation of it, the status list.
	out = mustRun(t, dir, "inspect", credFile)
	for _, want := range []string{"NOT VERIFIED: decoded only", "kind:        SD-JWT VC (no key binding)", "iss:         " + ts.IssuerDID, "status:      " + ts.URL + "/statuslists/", "disclosures: 3 present of 3 digests", `"action":"invoices:read"`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect credential lacks %q:\n%s", want, out)
		}
	}
	pres := mustRun(t, dir, "present", "--credential", credFile, "--key", key, "--aud", "https://cp.example", "--nonce", "n-1", "--disclose", "/permissions/0")
	presFile := filepath.Join(dir, "pres.txt")
	write(t, presFile, pres)
	out = mustRun(t, dir, "inspect", presFile)
	for _, want := range []string{"kind:        SD-JWT VC presentation (with key binding)", "disclosures: 1 present of 3 digests", "key binding: aud https://cp.example, nonce n-1", "sd_hash matches"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect presentation lacks %q:\n%s", want, out)
		}
	}
	// A presentation whose disclosures were changed after binding.
	tampered := strings.Replace(pres, "~", "~"+strings.Split(mustRun(t, dir, "present", "--credential", credFile, "--key", key, "--aud", "x", "--nonce", "y", "--disclose", "/permissions/1"), "~")[1]+"~", 1)
	write(t, filepath.Join(dir, "tampered.txt"), tampered)
	if out := mustRun(t, dir, "inspect", "tampered.txt"); !strings.Contains(out, "sd_hash DOES NOT match") {
		t.Errorf("inspect of a tampered presentation:\n%s", out)
	}
	var listURI string
	for _, l := range strings.Split(mustRun(t, dir, "inspect", credFile), "\n") {
		if v, ok := strings.CutPrefix(l, "status:      "); ok {
			listURI = strings.Fields(v)[0]
		}
	}
	status, body := ts.Do(http.MethodGet, strings.TrimPrefix(listURI, ts.URL), "", nil)
	if status != 200 {
		t.Fatalf("GET %s: %d", listURI, status)
	}
	write(t, filepath.Join(dir, "list.jwt"), string(body))
	out = mustRun(t, dir, "inspect", "list.jwt")
	for _, want := range []string{"kind:        Status List Token", "sub:         " + listURI, "entries:     131072 of 2 bits", "revoked:     1"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect status list lacks %q:\n%s", want, out)
		}
	}
	var js inspect.Inspection
	if err := json.Unmarshal([]byte(mustRun(t, dir, "inspect", "--json", "list.jwt")), &js); err != nil || js.Kind != "status_list" || js.StatusList.NonZero["revoked"] != 1 {
		t.Fatalf("inspect --json of the list: %v %+v", err, js)
	}
	for name, content := range map[string]string{"empty.txt": "", "junk.txt": "hello", "badjws.txt": "a.b.c"} {
		write(t, filepath.Join(dir, name), content)
		if _, errOut, code := run(t, dir, "inspect", name); code != 2 || !strings.Contains(errOut, "(malformed)") {
			t.Errorf("inspect %s: exit %d %q", name, code, errOut)
		}
	}
}

// TestVersion: version and --version print the module version, commit and
// build date from the build info.
func TestVersion(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, dir, "version")
	if !regexp.MustCompile(`^agentcert \S+ \(commit \S+, built \S+, go\S+\)$`).MatchString(out) {
		t.Fatalf("version: %q", out)
	}
	if v := mustRun(t, dir, "--version"); v != out {
		t.Fatalf("--version %q differs from version %q", v, out)
	}
	var bi buildInfo
	if err := json.Unmarshal([]byte(mustRun(t, dir, "version", "--json")), &bi); err != nil || bi.Version == "" || !strings.HasPrefix(bi.Go, "go") {
		t.Fatalf("version --json: %v %+v", err, bi)
	}
}

// TestBackupAndRestore: a backup taken while the server runs and writes,
// restored into a new data directory (with the KEK), serves the same
// issuer with every credential acknowledged before the backup; restore
// refuses to overwrite without --force and keeps the old database aside.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	ts, tok, auditor := startWithTokens(t, dir)
	var ids []string
	for i := 0; i < 5; i++ {
		id, _, _ := issueCLI(t, dir, ts.URL, tok)
		ids = append(ids, id)
	}
	mustRun(t, dir, "suspend", ids[0], "--reason", "incident", "--server", ts.URL, "--token", auditor)
	backup := filepath.Join(t.TempDir(), "agentcert-backup.db")
	out := mustRun(t, dir, "backup", "--out", backup, "--data-dir", dir)
	if !strings.HasPrefix(out, "backup written: "+backup) {
		t.Fatalf("backup: %s", out)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", err, fi)
	}
	if _, errOut, code := run(t, dir, "backup", "--out", backup, "--data-dir", dir); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("a second backup over the first: exit %d %q", code, errOut)
	}
	after, _, _ := issueCLI(t, dir, ts.URL, tok) // not in the backup
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restore into a fresh directory with the same KEK and public URL.
	restored := t.TempDir()
	kek, err := os.ReadFile(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "restore", "--from", backup, "--data-dir", restored); code != 0 || !strings.Contains(errOut, "kek.key is missing") {
		t.Fatalf("restore without the KEK beside it should warn: exit %d %q", code, errOut)
	}
	write(t, filepath.Join(restored, "kek.key"), string(kek))
	if _, errOut, code := run(t, dir, "restore", "--from", backup, "--data-dir", restored); code != 2 || !strings.Contains(errOut, "pass --force") {
		t.Fatalf("restore over a database without --force: exit %d %q", code, errOut)
	}
	out = mustRun(t, dir, "restore", "--from", backup, "--data-dir", restored, "--force")
	if !strings.Contains(out, "previous database kept as") || !strings.Contains(out, "chain intact") {
		t.Fatalf("restore --force: %s", out)
	}
	write(t, filepath.Join(dir, "junk.db"), "not a database")
	if _, errOut, code := run(t, dir, "restore", "--from", filepath.Join(dir, "junk.db"), "--data-dir", t.TempDir()); code != 2 || !strings.Contains(errOut, "not a usable agentcert database") {
		t.Fatalf("restore of a non-database: exit %d %q", code, errOut)
	}

	ts.DataDir = restored
	ts.WriteConfig()
	ts.Restart()
	for _, id := range ids {
		if status, body := ts.Do(http.MethodGet, "/v1/credentials/"+id, auditor, nil); status != 200 {
			t.Fatalf("credential %s after restore: %d %s", id, status, body)
		}
	}
	_, body := ts.Do(http.MethodGet, "/v1/credentials/"+ids[0], auditor, nil)
	if !strings.Contains(string(body), `"status":"suspended"`) {
		t.Fatalf("the suspension was not restored: %s", body)
	}
	if status, _ := ts.Do(http.MethodGet, "/v1/credentials/"+after, auditor, nil); status != 404 {
		t.Fatalf("a credential issued after the backup exists after restore: %d", status)
	}
	if out := mustRun(t, dir, "audit", "verify", "--data-dir", restored); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify after restore: %s", out)
	}
	// The restored issuer still signs with its key and verifies its own.
	id, cred, key := issueCLI(t, dir, ts.URL, tok)
	if res, code := remoteVerifyCLI(t, dir, ts.URL, "", cred, key, ""); code != 0 || !res.Verified {
		t.Fatalf("verify %s after restore: exit %d %+v", id, code, res.Error)
	}
}

// TestEverydayCLIDetails (defect 8): --help texts, named missing flags,
// durations in errors, completion values, no directory listings and 405s
// from the real binary.
func TestEverydayCLIDetails(t *testing.T) {
	dir := t.TempDir()
	help := mustRun(t, dir, "reinstate", "--help")
	if !strings.Contains(help, "issuer tokens may not reinstate") || strings.Contains(help, "key_compromise") || strings.Contains(help, "or the issuer token that issued") {
		t.Errorf("reinstate --help:\n%s", help)
	}
	if h := mustRun(t, dir, "revoke", "--help"); !strings.Contains(h, "key_compromise") || !strings.Contains(h, "the issuer token that issued the credential") {
		t.Errorf("revoke --help:\n%s", h)
	}
	if h := mustRun(t, dir, "verify", "--help"); !strings.Contains(h, "--token") {
		t.Errorf("verify --help has no --token:\n%s", h)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"present", "--credential", "c", "--key", "k", "--aud", "a"}, "agentcert: --nonce is required\n"},
		{[]string{"present", "--credential", "c", "--key", "k"}, "agentcert: --aud, --nonce are required\n"},
		{[]string{"issue", "--key", "k"}, "agentcert: --claims is required\n"},
		{[]string{"verify", "--presentation", "p", "--no-kb", "--token", "t"}, "--token is sent to a remote verifier; it needs --server"},
		{[]string{"reinstate", "x", "--reason", "key_compromise", "--token", "t"}, "--reason must be one of incident, other"},
	} {
		if _, errOut, code := run(t, dir, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	write(t, filepath.Join(dir, "bad.yaml"), "status:\n  ttl: soon\n")
	if _, errOut, code := run(t, dir, "serve", "--config", "bad.yaml"); code != 2 || !strings.Contains(errOut, `'status.ttl' "soon" is not a duration`) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a bad duration in a file: exit %d %q", code, errOut)
	}
	if _, errOut, code := runEnv(t, dir, []string{"AGENTCERT_VERIFIER_MAX_KB_AGE=5 minutes"}, "serve"); code != 2 || !strings.Contains(errOut, `"5 minutes" is not a duration`) {
		t.Errorf("a bad duration in the environment: exit %d %q", code, errOut)
	}
	for _, tc := range []struct {
		args []string
		want []string
		not  string
	}{
		{[]string{"token", "create", "--role", ""}, []string{"admin", "issuer", "auditor"}, ""},
		{[]string{"revoke", "x", "--reason", ""}, []string{"key_compromise", "policy_violation", "superseded"}, ""},
		{[]string{"reinstate", "x", "--reason", ""}, []string{"incident", "other"}, "key_compromise"},
		{[]string{"did", "create", "--method", ""}, []string{"key", "jwk"}, ""},
		{[]string{"did", "create", "--alg", ""}, []string{"ES256", "EdDSA"}, ""},
		{[]string{"keys", "rotate", "--alg", ""}, []string{"ES256", "EdDSA"}, ""},
		{[]string{"credentials", "list", "--status", ""}, []string{"valid", "revoked", "suspended"}, ""},
	} {
		out := mustRun(t, dir, append([]string{"__complete"}, tc.args...)...)
		for _, w := range tc.want {
			if !regexp.MustCompile(`(?m)^` + w + `$`).MatchString(out) {
				t.Errorf("completion of %v lacks %s:\n%s", tc.args, w, out)
			}
		}
		if tc.not != "" && strings.Contains(out, tc.not) {
			t.Errorf("completion of %v offers %s", tc.args, tc.not)
		}
	}

	ts := startServer(t, t.TempDir())
	for _, path := range []string{"/vct/", "/vct/agent-certification/v1/"} {
		status, hdr, body := ts.DoHeaders(http.MethodGet, path, "", nil, nil)
		if wantProblem(t, "GET "+path, status, hdr, body, 404, "not_found"); strings.Contains(string(body), "href") {
			t.Errorf("GET %s lists a directory: %s", path, body)
		}
	}
	status, hdr, body := ts.DoHeaders(http.MethodDelete, "/v1/verify", "", nil, map[string]string{"X-Request-Id": "del-1"})
	p := wantProblem(t, "DELETE /v1/verify", status, hdr, body, 405, "invalid_input")
	if hdr.Get("Allow") != "POST" || hdr.Get("X-Request-Id") != "del-1" || !strings.Contains(string(body), `"request_id":"del-1"`) {
		t.Errorf("DELETE /v1/verify: Allow %q, X-Request-Id %q, %+v", hdr.Get("Allow"), hdr.Get("X-Request-Id"), p)
	}
	// The request's log line, in the server's own output (written once the
	// answer is complete, so it may follow the answer by a moment).
	line := regexp.MustCompile(`"msg":"request","method":"DELETE","route":"unmatched","status":405,"duration_ms":[0-9.]+,"bytes":\d+,"request_id":"del-1"`)
	deadline := time.Now().Add(10 * time.Second)
	for !line.MatchString(ts.Stderr()) {
		if time.Now().After(deadline) {
			t.Fatalf("no request log line for del-1 in:\n%s", ts.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
