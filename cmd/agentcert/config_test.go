package main

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/spf13/cobra"
)

func loadWith(t *testing.T, file string) (config.Config, error) {
	t.Helper()
	cmd := &cobra.Command{}
	cmd.Flags().String("config", file, "")
	return loadConfig(cmd, nil)
}

func TestDevYAMLEqualsDefaults(t *testing.T) {
	got, err := loadWith(t, "../../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.DerivePublicURL() // as loadConfig does
	// An empty YAML list decodes as an empty, non-nil slice.
	want.Verifier.Trusted, got.Verifier.Trusted = nil, nil
	want.Verifier.RequiredClaims, got.Verifier.RequiredClaims = nil, nil
	want.Verifier.NonceSecrets, got.Verifier.NonceSecrets = nil, nil
	want.Verifier.IrreversibleActions, got.Verifier.IrreversibleActions = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("configs/dev.yaml differs from config.Default():\n got %+v\nwant %+v", got, want)
	}
}

func TestConfigRejectsUnknownKeyAndBadValue(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":    {"listen: 127.0.0.1:9\nstatus:\n  tll: 5m\n", "tll"},
		"bad duration":   {"status:\n  ttl: soon\n", "ttl"},
		"bad value":      {"issuer:\n  key_alg: RS256\n", "issuer.key_alg"},
		"small list":     {"status:\n  list_size: 1000\n", "status.list_size"},
		"bad public url": {"public_url: ftp://x\n", "public_url"},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
			if err := os.WriteFile(f, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadWith(t, f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not name %q", err, tc.want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(f, []byte("status:\n  ttl: 2m\nlisten: 127.0.0.1:9001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AGENTCERT_STATUS_TTL", "30s")
	cfg, err := loadWith(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Status.TTL != 30*time.Second {
		t.Errorf("env should override file: ttl = %v", cfg.Status.TTL)
	}
	if cfg.Listen != "127.0.0.1:9001" {
		t.Errorf("file should override default: listen = %v", cfg.Listen)
	}
	if cfg.Status.ListSize != config.MinStatusListSize {
		t.Errorf("default lost: list_size = %d", cfg.Status.ListSize)
	}
}

func TestShippedConfigsLoad(t *testing.T) {
	for _, f := range []string{"../../configs/issuer.yaml", "../../configs/verifier.yaml"} {
		cfg, err := loadWith(t, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(cfg.Fetch.AllowHosts) != 0 {
			t.Errorf("%s: a production-like config must not allow private hosts", f)
		}
	}
	cfg, _ := loadWith(t, "../../configs/verifier.yaml")
	if cfg.Issuer.Enabled || !cfg.Verifier.Enabled {
		t.Fatal("verifier.yaml must run the verifier alone")
	}
	cfg, _ = loadWith(t, "../../configs/issuer.yaml")
	if cfg.Issuer.GenerateKEK || !cfg.Verifier.RequireToken || cfg.Issuer.DIDMethod != "web" {
		t.Fatal("issuer.yaml must take the KEK from the environment, require tokens and use did:web")
	}
	// Behind its TLS proxy the plain-HTTP port is for the proxy alone
	// (docs/operations.md, "TLS termination"); the image widens it to the
	// container network (AGENTCERT_LISTEN in the Dockerfile).
	if host, _, _ := net.SplitHostPort(cfg.Listen); host != "127.0.0.1" {
		t.Errorf("issuer.yaml listens on %s, want loopback: plain HTTP only the local proxy reaches", cfg.Listen)
	}
}
