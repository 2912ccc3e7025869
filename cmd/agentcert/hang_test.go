package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/testcred"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/goleak"
)

// listenWriter is serve's stdout: it hands over the address of the
// "listening on" line.
type listenWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

func (w *listenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, line := range strings.Split(w.buf.String(), "\n") {
		if a, ok := strings.CutPrefix(line, "listening on "); ok && strings.HasSuffix(w.buf.String(), "\n") {
			select {
			case w.addr <- strings.TrimSpace(a):
			default:
			}
		}
	}
	return len(p), nil
}

// TestVerifyWithHangingDependencies runs the service as `agentcert serve`
// does (in this process, verifier only), trusting an issuer whose did:web
// host and another whose status-list host accept connections and never
// answer. POST /v1/verify answers within the configured fetch timeout with
// the code of the failure and a receipt of it, and once the service has
// stopped no goroutine is left behind.
func TestVerifyWithHangingDependencies(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const timeout = 500 * time.Millisecond
	didHost, statusHost := testkit.SilentListener(t), testkit.SilentListener(t)
	defer didHost.Stop()
	defer statusHost.Stop()

	webKey, _ := testkeys.DIDKey(t, jwa.ES256)
	webDID := "did:web:" + strings.ReplaceAll(didHost.Addr, ":", "%3A")
	_ = webKey.Set(jwk.KeyIDKey, webDID+"#key-1")
	keyIss, keyDID := testkeys.DIDKey(t, jwa.ES256)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Issuer.Enabled = false
	cfg.Verifier.Trusted = []config.Trust{{Issuer: webDID, VCTs: []string{testcred.VCT}}, {Issuer: keyDID, VCTs: []string{testcred.VCT}}}
	cfg.Fetch.AllowHosts, cfg.Fetch.Timeout = []string{"127.0.0.1"}, timeout
	cfg.DerivePublicURL()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &listenWriter{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, out, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var base string
	select {
	case base = <-out.addr:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the service did not start")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}

	for _, tc := range []struct {
		name        string
		pres        string
		code, cause errcode.Code
	}{
		{"did:web host", testcred.Presentation(t, webKey, webDID, "https://issuer.example/statuslists/1", "aud", "n"), errcode.DIDResolutionFailed, errcode.FetchFailed},
		{"status-list host", testcred.Presentation(t, keyIss, keyDID, "http://"+statusHost.Addr+"/statuslists/1", "aud", "n"), errcode.StatusUnavailable, errcode.FetchFailed},
	} {
		body, _ := json.Marshal(map[string]any{"presentation": tc.pres, "audience": "aud", "nonce": "n"})
		start := time.Now()
		resp, err := client.Post(base+"/v1/verify", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		took := time.Since(start)
		var res struct {
			Verified bool `json:"verified"`
			Errors   []struct {
				Code  errcode.Code `json:"code"`
				Cause errcode.Code `json:"cause"`
			} `json:"errors"`
			Receipt string `json:"receipt"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || res.Verified || len(res.Errors) != 1 || res.Errors[0].Code != tc.code || res.Errors[0].Cause != tc.cause {
			t.Fatalf("%s: HTTP %d %+v (%v), want %s caused by %s", tc.name, resp.StatusCode, res, err, tc.code, tc.cause)
		}
		c, err := receipt.Unverified(res.Receipt)
		if err != nil || c.Result != receipt.Error || c.Error != string(tc.code) {
			t.Fatalf("%s: receipt %+v %v", tc.name, c, err)
		}
		// A generous bound: a hang would never answer; this is no speed test.
		if took < timeout || took > timeout+20*time.Second {
			t.Fatalf("%s: answered after %s (fetch timeout %s)", tc.name, took, timeout)
		}
		t.Logf("%s: %s caused by %s after %s (fetch.timeout %s)", tc.name, tc.code, tc.cause, took.Round(time.Millisecond), timeout)
	}
	if didHost.Accepted() == 0 || statusHost.Accepted() == 0 {
		t.Fatalf("connections: did:web host %d, status host %d", didHost.Accepted(), statusHost.Accepted())
	}
}
