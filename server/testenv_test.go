package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/incident"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// TestEnv is a complete server (issuer and verifier) over a SQLite store in
// a temporary directory, wired as `agentcert serve` wires it, with an
// offline DID resolver and no network. Tests in this package and in
// server_test share it.
type TestEnv struct {
	Cfg    config.Config
	Store  *store.SQLite
	Parts  *issuer.Parts
	Server *Server
	// Receipts signs this server's verification receipts (under its did:web);
	// Resolver resolves did:key, did:jwk and this server's own did:web.
	Receipts *receipt.Signer
	Resolver did.Resolver
}

// TestIssuerDID is the issuer DID of every TestEnv.
const TestIssuerDID = "did:web:127.0.0.1%3A8080"

// NewTestEnv builds a TestEnv from config.Default() with the data directory
// in a temporary folder; mod, if not nil, adjusts the config first.
func NewTestEnv(t testing.TB, mod func(*config.Config)) *TestEnv {
	t.Helper()
	return newTestEnv(t, mod, nil)
}

// newTestEnv is NewTestEnv whose verifier also takes the options more
// returns for the issuer's parts (nil: none).
func newTestEnv(t testing.TB, mod func(*config.Config), more func(config.Config, *issuer.Parts) []verifier.Option) *TestEnv {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DerivePublicURL() // as the CLI does
	if mod != nil {
		mod(&cfg)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "agentcert.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	alg, err := keyutil.ParseAlg(cfg.Issuer.KeyAlg)
	if err != nil {
		t.Fatalf("issuer.key_alg: %v", err)
	}
	// The settings agentcert serve takes from the same config.
	settings := issuer.Settings{DIDMethod: cfg.Issuer.DIDMethod, WebDID: TestIssuerDID, KeyAlg: alg, StatusTTL: cfg.Status.TTL, StatusValidity: cfg.Status.Validity}
	settings.Config = issuer.Config{PublicURL: cfg.PublicURL, VCT: config.AgentCertificationVCT, ListSize: cfg.Status.ListSize, DefaultValidity: cfg.Issuer.DefaultValidity, MaxValidity: cfg.Issuer.MaxValidity}
	reg, err := schemas.New()
	if err != nil {
		t.Fatalf("schemas.New: %v", err)
	}
	offline := did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) {
		if doc, err := did.DocumentFor(id); err == nil {
			return doc, nil
		}
		return nil, errcode.New(errcode.DIDResolutionFailed, "offline test resolver")
	})
	parts, err := issuer.Open(ctx, st, bytes.Repeat([]byte{7}, issuer.KEKSize), settings, reg, offline, nil)
	if err != nil {
		t.Fatalf("issuer.Open: %v", err)
	}
	kek := bytes.Repeat([]byte{7}, issuer.KEKSize)
	rk, err := receipt.LoadSealedKey(filepath.Join(cfg.DataDir, "receipt.key"), kek, jwa.ES256)
	if err != nil {
		t.Fatalf("receipt key: %v", err)
	}
	signer, err := receipt.SignerFor(rk, TestIssuerDID)
	if err != nil {
		t.Fatalf("receipt signer: %v", err)
	}
	// Receipts this service signed resolve to its own document.
	own := did.ResolverFunc(func(ctx context.Context, id string) (*did.Document, error) {
		if id == TestIssuerDID {
			return DIDDocument(id, parts.Keys.PublicKeys(), signer)
		}
		return offline(ctx, id)
	})
	incidents, err := incident.New(st, parts.Statuses, incident.Config{
		Issuer: parts.Keys.Issuer(), StatusListPrefix: parts.Service.StatusURI(""), Keys: receipt.DIDKeys(own),
	})
	if err != nil {
		t.Fatalf("incident.New: %v", err)
	}
	nonces, err := verifier.NewNonces(nil, cfg.Verifier.NonceTTL, nil)
	if err != nil {
		t.Fatalf("NewNonces: %v", err)
	}
	policy := verifier.DefaultPolicy()
	policy.Trusted[parts.Keys.Issuer()] = []string{config.AgentCertificationVCT}
	vopts := []verifier.Option{
		verifier.WithResolver(own),
		verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
			return nil, errors.New("no network in this test")
		}),
		verifier.WithNonces(nonces),
		verifier.WithReceipts(signer),
	}
	if more != nil {
		vopts = append(vopts, more(cfg, parts)...)
	}
	v, err := verifier.New(policy, vopts...)
	if err != nil {
		t.Fatalf("verifier.New: %v", err)
	}
	vci, err := NewOID4VCI(cfg, st, parts.Service, bytes.Repeat([]byte{7}, issuer.KEKSize), offline, nil)
	if err != nil {
		t.Fatalf("NewOID4VCI: %v", err)
	}
	vp, err := NewOID4VP(cfg, nil, v, nonces, signer, rk, nil, nil)
	if err != nil {
		t.Fatalf("oid4vp.New: %v", err)
	}
	s, err := New(Options{
		Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store: st, Issuer: parts.Service, Statuses: parts.Statuses, Schemas: reg, Verifier: v, Nonces: nonces, OID4VCI: vci, OID4VP: vp,
		Receipts: signer, Incidents: incidents,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	return &TestEnv{Cfg: cfg, Store: st, Parts: parts, Server: s, Receipts: signer, Resolver: own}
}
