package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/benchreport"
)

const root = "../.."

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-secs", "2.5", "-clients", "4"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.secs != 2500*time.Millisecond || o.clients != 4 || o.issueClients != 32 || o.doc != filepath.Join(".", "docs/benchmarks.md") {
		t.Errorf("%+v", o)
	}
	if o.command != "go run ./cmd/benchreport -secs 2.5 -clients 4" {
		t.Errorf("command %q", o.command)
	}
	if o, err := parseFlags([]string{"-secs", "1m30s"}, &bytes.Buffer{}); err != nil || o.secs != 90*time.Second {
		t.Errorf("-secs 1m30s: %v %v", o.secs, err)
	}
	if !strings.Contains(o.settings(), "the server's default verify slots") {
		t.Errorf("settings without -verify-slots: %s", o.settings())
	}
	if o, err := parseFlags([]string{"-verify-slots", "2"}, &bytes.Buffer{}); err != nil || o.verifySlots != 2 || !strings.Contains(o.settings(), "2 verify slots") {
		t.Errorf("-verify-slots 2: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"-secs", "0"}, {"-secs", "-1"}, {"-secs", "ten"}, {"-secs", "50ms"}, {"-secs", "2h"},
		{"-clients", "0"}, {"-issue-clients", "-1"}, {"-raw-n", "0"}, {"-verify-slots", "-1"},
		{"extra"}, {"-nope"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// The document is checked before anything is measured: without markers the
// tool stops at once with a usage error naming the marker, and leaves the
// file alone.
func TestRunRefusesADocumentWithoutMarkers(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "b.md")
	const text = "# Benchmarks\n\nno markers here\n"
	if err := os.WriteFile(doc, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if rc := run(context.Background(), []string{"-root", root, "-doc", doc}, &stdout, &stderr); rc != 2 {
		t.Fatalf("rc %d, stderr %s", rc, stderr.String())
	}
	if !strings.Contains(stderr.String(), benchreport.BeginMarker) || strings.Contains(stderr.String(), "building") {
		t.Errorf("stderr: %s", stderr.String())
	}
	if b, _ := os.ReadFile(doc); string(b) != text {
		t.Errorf("the document changed: %q", b)
	}
	if rc := run(context.Background(), []string{"-root", t.TempDir(), "-doc", doc}, &stdout, &stderr); rc != 2 {
		t.Errorf("a root without go.mod: rc %d", rc)
	}
	if rc := run(context.Background(), []string{"-root", root, "-doc", filepath.Join(t.TempDir(), "missing.md")}, &stdout, &stderr); rc != 2 {
		t.Errorf("a missing document: rc %d", rc)
	}
}

// TestQuickRun runs the whole tool in -quick mode: it builds the binaries,
// runs the benchmarks, the real server and loadgen, and rewrites a copy of
// docs/benchmarks.md. It checks what was written, never how fast anything
// was.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the real server")
	}
	orig, err := os.ReadFile(filepath.Join(root, "docs", "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	doc, figs := filepath.Join(dir, "benchmarks.md"), filepath.Join(dir, "figures.json")
	if err := os.WriteFile(doc, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// Two verify slots: the server takes the admission setting it is given.
	if rc := run(ctx, []string{"-quick", "-verify-slots", "2", "-root", root, "-doc", doc, "-json", figs}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d\nstdout %s\nstderr %s", rc, stdout.String(), stderr.String())
	}
	got, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	// Outside the markers, byte for byte the same.
	o, g := string(orig), string(got)
	ob, oe := strings.Index(o, benchreport.BeginMarker), strings.Index(o, benchreport.EndMarker)
	gb, ge := strings.Index(g, benchreport.BeginMarker), strings.Index(g, benchreport.EndMarker)
	if ob < 0 || gb < 0 || o[:ob] != g[:gb] || o[oe:] != g[ge:] {
		t.Fatal("the text outside the markers changed")
	}
	gen := g[gb:ge]
	for _, want := range []string{"A quick run", "| measure | target | measured | ratio | result |", "Load average", "durable issuance over HTTP, 4 clients", "verify, open loop"} {
		if !strings.Contains(gen, want) {
			t.Errorf("the generated section lacks %q:\n%s", want, gen)
		}
	}
	rows := 0
	for _, line := range strings.Split(gen, "\n") {
		if strings.HasSuffix(line, "| pass |") || strings.HasSuffix(line, "| **miss** |") {
			rows++
		}
	}
	if rows != 6 {
		t.Errorf("%d judged rows, want 6:\n%s", rows, gen)
	}
	if strings.Contains(gen, "not measured") {
		t.Errorf("a figure was not measured:\n%s", gen)
	}
	var f benchreport.Figures
	b, err := os.ReadFile(figs)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Raw) != 2 || f.Raw[0].Raw2 <= 0 || f.InProcPerSecond <= 0 || f.HandlerOverVerify <= 0 || f.RevokeToServed <= 0 || len(f.Encodes) != 2 {
		t.Errorf("in-process figures: %+v", f)
	}
	for name, l := range map[string]*benchreport.Load{"verify max": f.VerifyMax, "verify open": f.VerifyOpen, "issue": f.Issue} {
		if l == nil || l.Requests == 0 || l.Succeeded == 0 {
			t.Errorf("%s: %+v", name, l)
		}
	}
	if f.VerifyOpen != nil && f.VerifyMax != nil && f.VerifyOpen.OfferedRate != 0.8*f.VerifyMax.OKPerSecond {
		// The offered rate is printed with one decimal.
		if d := f.VerifyOpen.OfferedRate - 0.8*f.VerifyMax.OKPerSecond; d > 0.05 || d < -0.05 {
			t.Errorf("open loop offered %v, 80%% of %v", f.VerifyOpen.OfferedRate, f.VerifyMax.OKPerSecond)
		}
	}
	if f.LoadBefore == (benchreport.Loadavg{}) && f.LoadAfter == (benchreport.Loadavg{}) {
		t.Error("no load average")
	}
}
