package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/agentcert/agentcert/internal/config"
)

// TestComposeFile keeps docker-compose.yaml honest: it has a PostgreSQL, a
// Redis, two issuer nodes and two verifier replicas; each service's config
// file, with the environment the file gives it, loads and validates; the
// issuer nodes share one database, key-encryption key and public URL; the
// replicas share Redis and nonce secrets.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "redis", "issuer-a", "issuer-b", "verifier-a", "verifier-b"} {
		if _, ok := doc.Services[name]; !ok {
			t.Fatalf("docker-compose.yaml has no service %q", name)
		}
	}
	// ${VAR:?message} takes a test value.
	subst := regexp.MustCompile(`\$\{[A-Z_]+:\?[^}]*\}`)
	load := func(name string) config.Config {
		t.Helper()
		s := doc.Services[name]
		var file string
		for _, v := range s.Volumes {
			if host, target, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(target, "/etc/agentcert/config.yaml") {
				file = "../../" + strings.TrimPrefix(host, "./")
			}
		}
		if file == "" {
			t.Fatalf("%s mounts no config file", name)
		}
		for k, v := range s.Environment {
			t.Setenv(k, subst.ReplaceAllString(v, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="))
		}
		cfg, err := loadWith(t, file)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k := range s.Environment {
			os.Unsetenv(k)
		}
		return cfg
	}
	a, bb := load("issuer-a"), load("issuer-b")
	for _, c := range []config.Config{a, bb} {
		if !c.Issuer.Enabled || !strings.HasPrefix(c.Store.URL, "postgres://") || c.Issuer.GenerateKEK {
			t.Fatalf("issuer node config: %+v", c)
		}
	}
	if a.Store.URL != bb.Store.URL || a.PublicURL != bb.PublicURL {
		t.Fatalf("issuer nodes differ: %s %s / %s %s", a.Store.URL, a.PublicURL, bb.Store.URL, bb.PublicURL)
	}
	va, vb := load("verifier-a"), load("verifier-b")
	for _, c := range []config.Config{va, vb} {
		if c.Issuer.Enabled || !c.Verifier.RequireNonce || !strings.HasPrefix(c.Verifier.NonceStore, "redis://redis:") || len(c.Verifier.NonceSecrets) != 1 {
			t.Fatalf("verifier replica config: %+v", c.Verifier)
		}
		if len(c.Verifier.Trusted) != 1 || c.Verifier.Trusted[0].Issuer != "did:web:issuer%3A8080" || a.PublicURL != "http://issuer:8080" {
			t.Fatalf("replicas trust %+v; the issuer nodes are %s", c.Verifier.Trusted, a.PublicURL)
		}
	}
}
