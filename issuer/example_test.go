package issuer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Issue a certification for an agent's did:key, then revoke it and publish
// the status list.
func ExampleService_Issue() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "issuer-example-")
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "agentcert.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	kek, _ := issuer.LoadKEK("", filepath.Join(dir, "kek.key"), true) // dev: a generated 0600 file
	keys, err := issuer.NewKeyRing(ctx, st, kek, "web", "did:web:issuer.example", jwa.ES256, nil)
	if err != nil {
		panic(err)
	}
	reg, _ := schemas.New()
	svc, err := issuer.New(ctx, issuer.Config{
		PublicURL: "https://issuer.example", VCT: config.AgentCertificationVCT, ListSize: config.MinStatusListSize,
		DefaultValidity: 30 * 24 * time.Hour, MaxValidity: 366 * 24 * time.Hour,
	}, st, keys, reg, did.ResolverFunc(func(context.Context, string) (*did.Document, error) { return nil, fmt.Errorf("offline") }), nil)
	if err != nil {
		panic(err)
	}

	const agent = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	out, err := svc.Issue(ctx, issuer.Actor{TokenID: "tok-1", Role: "issuer"}, issuer.IssueRequest{
		Subject: agent,
		Claims: map[string]any{
			"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
			"agent":        map[string]any{"class": "invoice-assistant"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "read-only",
		},
		SelectivelyDisclosable: []string{"/permissions/*"},
		ValidFor:               "24h",
	}, "", nil)
	if err != nil {
		panic(err)
	}
	tok, _ := sdjwt.Parse(out.Credential, sdjwt.Limits{})
	fmt.Println("iss:", tok.UnverifiedPayload()["iss"])
	fmt.Println("sub:", tok.UnverifiedPayload()["sub"])
	fmt.Println("disclosures:", len(tok.Disclosures))

	statuses := issuer.NewStatuses(st, keys, svc.StatusURI, 5*time.Minute, 24*time.Hour, nil)
	c, err := statuses.Change(ctx, issuer.Actor{TokenID: "tok-2", Role: "auditor"}, out.ID, "revoke", issuer.StatusRequest{Reason: "key_compromise"})
	if err != nil {
		panic(err)
	}
	fmt.Println("status:", c.Status == store.StatusRevoked)
	// Output:
	// iss: did:web:issuer.example
	// sub: did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK
	// disclosures: 1
	// status: true
}
