package config

import (
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("the embedded defaults must validate: %v", err)
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	for key, mutate := range map[string]func(*Config){
		"listen":                   func(c *Config) { c.Listen = "8080" },
		"public_url":               func(c *Config) { c.PublicURL = "http://x/?q=1" },
		"log_level":                func(c *Config) { c.LogLevel = "loud" },
		"http.max_body_bytes":      func(c *Config) { c.HTTP.MaxBodyBytes = 0 },
		"http.read_timeout":        func(c *Config) { c.HTTP.ReadTimeout = 0 },
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

func TestValidateAcceptsScaleOut(t *testing.T) {
	c := Default()
	c.Store.URL = "postgres://agentcert@db:5432/agentcert"
	c.Verifier.NonceStore = "redis://redis:6379/0"
	c.Verifier.NonceSecrets = []string{"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
