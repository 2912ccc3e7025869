package config

import (
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/revocation"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	c.DerivePublicURL()
	if err := c.Validate(); err != nil {
		t.Fatalf("the embedded defaults must validate: %v", err)
	}
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("the defaults' public URL is %q, want it derived from listen", c.PublicURL)
	}
}

// TestPublicURLDerivedOnlyFromLoopback: a loopback listen address gives
// the public URL; any other leaves it to the operator, and an issuer
// without one is refused.
func TestPublicURLDerivedOnlyFromLoopback(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:9300": "http://127.0.0.1:9300",
		"localhost:9300": "http://localhost:9300",
		"[::1]:9300":     "http://[::1]:9300",
		"127.0.0.2:80":   "http://127.0.0.2:80",
		"0.0.0.0:8080":   "",
		"[::]:8080":      "",
		"10.0.0.1:8080":  "",
		":8080":          "",
		"127.0.0.1:0":    "",
	} {
		c := Default()
		c.Listen = listen
		c.DerivePublicURL()
		if c.PublicURL != want {
			t.Errorf("listen %s: public URL %q, want %q", listen, c.PublicURL, want)
		}
		err := c.Validate()
		if want == "" && (err == nil || !strings.Contains(err.Error(), "public_url: is required")) {
			t.Errorf("listen %s without a public URL: %v, want public_url required", listen, err)
		}
		if want != "" && err != nil {
			t.Errorf("listen %s: %v", listen, err)
		}
		// The reason named is the true one: port 0 is loopback enough.
		if err != nil && strings.HasSuffix(listen, ":0") != strings.Contains(err.Error(), "has no fixed port") {
			t.Errorf("listen %s: %v, the wrong reason", listen, err)
		}
	}
	c := Default()
	c.Listen, c.PublicURL = "127.0.0.1:9300", "https://issuer.example"
	c.DerivePublicURL()
	if c.PublicURL != "https://issuer.example" {
		t.Errorf("a set public URL was replaced by %q", c.PublicURL)
	}
	v := Default()
	v.Listen, v.Issuer.Enabled = "0.0.0.0:8081", false
	if err := v.Validate(); err != nil {
		t.Errorf("a verifier-only config needs no public URL: %v", err)
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	for key, mutate := range map[string]func(*Config){
		"listen":                   func(c *Config) { c.Listen = "8080" },
		"public_url":               func(c *Config) { c.PublicURL = "http://x/?q=1" },
		"log_level":                func(c *Config) { c.LogLevel = "loud" },
		"http.max_body_bytes":      func(c *Config) { c.HTTP.MaxBodyBytes = 0 },
		"http.read_timeout":        func(c *Config) { c.HTTP.ReadTimeout = 0 },
		"http.max_connections":     func(c *Config) { c.HTTP.MaxConnections = -1 },
		"http.token_cache_ttl":     func(c *Config) { c.HTTP.TokenCacheTTL = -time.Second },
		"memory_limit_mb":          func(c *Config) { c.MemoryLimitMB = MinMemoryLimitMB - 1 },
		"issuer.did_method":        func(c *Config) { c.Issuer.DIDMethod = "ion" },
		"issuer.key_alg":           func(c *Config) { c.Issuer.KeyAlg = "RS256" },
		"issuer.default_validity":  func(c *Config) { c.Issuer.MaxValidity = c.Issuer.DefaultValidity / 2 },
		"status.list_size":         func(c *Config) { c.Status.ListSize = 131073 },
		"status.ttl":               func(c *Config) { c.Status.TTL = c.Status.Validity * 2 },
		"verifier.algorithms[0]":   func(c *Config) { c.Verifier.Algorithms = []string{"HS256"} },
		"verifier.trusted[0].vcts": func(c *Config) { c.Verifier.Trusted = []Trust{{Issuer: "did:web:x"}} },
		"verifier.trusted[0].issuer": func(c *Config) {
			c.Verifier.Trusted = []Trust{{Issuer: "http://x", VCTs: []string{AgentCertificationVCT}}}
		},
		"verifier.require_token": func(c *Config) { c.Issuer.Enabled = false; c.Verifier.RequireToken = true },
		"fetch.max_bytes":        func(c *Config) { c.Fetch.MaxBytes = -1 },
		"store.url":              func(c *Config) { c.Store.URL = "mysql://db/agentcert" },
		"receipts.key_file":      func(c *Config) { c.Receipts.KeyFile = "receipt.jwk" },
		"store.refresh_interval": func(c *Config) { c.Store.RefreshInterval = 0 },
		"verifier.nonce_store":   func(c *Config) { c.Verifier.NonceStore = "memcached://x" },
		"a shared nonce store needs verifier.nonce_secrets": func(c *Config) {
			c.Verifier.NonceStore = "redis://127.0.0.1:6379/0"
		},
		"neither issuer nor verifier": func(c *Config) {
			c.Issuer.Enabled, c.Verifier.Enabled = false, false
		},
	} {
		c := Default()
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name it", key, err)
		}
	}
}

// TestStatusListSizeBounds: a list size past what a verifier inflates
// (revocation.DefaultMaxBytes at 2 bits an entry) is refused at start,
// not found when the first credential on it fails to verify.
func TestStatusListSizeBounds(t *testing.T) {
	if want := revocation.DefaultMaxBytes * 8 / 2; MaxStatusListSize != want {
		t.Fatalf("MaxStatusListSize = %d, but a verifier inflates lists of up to %d entries", MaxStatusListSize, want)
	}
	for size, ok := range map[int]bool{
		MinStatusListSize: true, MaxStatusListSize: true, MinStatusListSize - 8: false,
		MaxStatusListSize + 8: false, 80_000_000_000_000: false,
	} {
		c := Default()
		c.Status.ListSize = size
		err := c.Validate()
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "status.list_size")) {
			t.Errorf("list_size %d: %v", size, err)
		}
	}
}

func TestTokenCacheTTLBounds(t *testing.T) {
	for ttl, ok := range map[time.Duration]bool{0: true, time.Second: true, MaxTokenCacheTTL: true, MaxTokenCacheTTL + 1: false, -1: false} {
		c := Default()
		c.HTTP.TokenCacheTTL = ttl
		err := c.Validate()
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "http.token_cache_ttl")) {
			t.Errorf("token_cache_ttl %s: %v", ttl, err)
		}
	}
}

func TestValidateAcceptsScaleOut(t *testing.T) {
	c := Default()
	c.Store.URL = "postgres://agentcert@db:5432/agentcert"
	c.Verifier.NonceStore = "redis://redis:6379/0"
	c.Verifier.NonceSecrets = []string{"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestAdmissionValidated: every admission bound out of range is refused
// with its key.
func TestAdmissionValidated(t *testing.T) {
	for key, mod := range map[string]func(*Admission){
		"http.admission.verify.max_concurrent": func(a *Admission) { a.Verify.MaxConcurrent = -1 },
		"http.admission.overload_after":        func(a *Admission) { a.OverloadAfter = -time.Millisecond },
		"http.admission.overload_wait":         func(a *Admission) { a.OverloadWait = 0 },
		"http.admission.issue.max_queue":       func(a *Admission) { a.Issue.MaxQueue = -1 },
		"http.admission.status.queue_timeout":  func(a *Admission) { a.Status.QueueTimeout = 0 },
		"http.admission.admin.max_concurrent":  func(a *Admission) { a.Admin.MaxConcurrent = -3 },
		"http.admission.retry_after":           func(a *Admission) { a.RetryAfter = 0 },
		"http.admission.token_rate":            func(a *Admission) { a.TokenRate = -1 },
		"http.admission.token_burst":           func(a *Admission) { a.TokenRate, a.TokenBurst = 5, 0 },
	} {
		c := Default()
		mod(&c.HTTP.Admission)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%s out of range: %v", key, err)
		}
	}
	c := Default()
	c.HTTP.Admission.Verify.MaxQueue = 0 // no queue: shed at once
	c.HTTP.Admission.TokenRate, c.HTTP.Admission.TokenBurst = 0.5, 1
	c.HTTP.Admission.OverloadAfter, c.HTTP.Admission.OverloadWait = 0, 0 // never overloaded: no wait needed
	c.HTTP.Admission.Admin.MaxConcurrent = 0                             // derived from GOMAXPROCS
	if err := c.Validate(); err != nil {
		t.Fatalf("valid admission settings refused: %v", err)
	}
}
