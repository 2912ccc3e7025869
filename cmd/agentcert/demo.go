package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run an offline issue -> present -> verify round trip and print each step",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout())
		},
	}
}

// demoClaims is the certification the demo issues.
func demoClaims() map[string]any {
	return map[string]any{
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":     map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0", "operator": "ACME IT", "model": "example-model"},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "invoices:list"},
			map[string]any{"action": "vendors:read"},
		},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
	}
}

func runDemo(ctx context.Context, w io.Writer) error {
	issuerKey, issuerDID, err := createDIDKey("key", "ES256")
	if err != nil {
		return err
	}
	agentKey, agentDID, err := createDIDKey("key", "EdDSA")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. issuer DID: %s\n2. agent DID:  %s\n", issuerDID, agentDID)

	now := time.Now()
	cred, err := issueOffline(issuerKey, demoClaims(), offlineIssue{
		SD: []string{"/permissions/*"}, Holder: agentDID, VCT: config.AgentCertificationVCT, TTL: 24 * time.Hour, Now: now,
	})
	if err != nil {
		return fmt.Errorf("issue: %w", err)
	}
	fmt.Fprintf(w, "3. issued certification (%d bytes): permissions invoices:read, invoices:list, vendors:read; payments:initiate prohibited\n", len(cred))

	const aud, nonce = "https://invoices.example", "demo-nonce-1"
	pres, err := sdjwt.Present(cred, []string{"/permissions/0", "/permissions/1"}, &sdjwt.KBOptions{Key: agentKey, Audience: aud, Nonce: nonce, IssuedAt: now})
	if err != nil {
		return fmt.Errorf("present: %w", err)
	}
	fmt.Fprintf(w, "4. agent presents two permissions with key binding:\n   %s\n", pres)

	resolver := did.NewResolver(newFetcher(config.Default()))
	res, err := sdjwt.Verify(ctx, pres, sdjwt.VerifyOptions{
		IssuerKey: func(ctx context.Context, iss string, hdr jws.Headers) (jwk.Key, error) {
			return did.IssuerKey(ctx, resolver, iss, hdr.KeyID())
		},
		RequireKB: true, Audience: aud, Nonce: nonce,
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	b, err := json.MarshalIndent(res.Claims, "   ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "5. verified: issuer %s, subject %s\n   disclosed claims: %s\n", res.Claims["iss"], res.Claims["sub"], b)
	for _, action := range []string{"invoices:read", "payments:initiate"} {
		d := verifier.Authorize(res.Claims, action, nil, now)
		fmt.Fprintf(w, "6. may the agent %s? %v (%s)\n", action, d.Allowed, d.Reason)
	}
	return nil
}
