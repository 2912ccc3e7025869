package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store/postgres"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// receiptKeyFile is the sealed receipt key's name in the data directory.
const receiptKeyFile = "receipt.key"

// receiptSigner returns the verifier's receipt signer, or nil when receipts
// are off. In issuer mode the key is sealed under kek in the data directory
// and receipts are signed under issuerDID when it is a did:web (else under
// the key's own did:key). In verifier-only mode the key comes from
// receipts.key_file (read, never written) or is made for this process
// alone; the DID is the did:web of public_url or the key's did:key.
//
// The same key, under the same DID, signs the verifier's OpenID4VP request
// objects (server.NewOID4VP): the second result is the private JWK.
func receiptSigner(cfg config.Config, kek []byte, issuerDID string) (*receipt.Signer, jwk.Key, error) {
	if !cfg.Receipts.Enabled || !cfg.Verifier.Enabled {
		return nil, nil, nil
	}
	var k jwk.Key
	var err error
	web := ""
	switch {
	case cfg.Issuer.Enabled:
		if k, err = receipt.LoadSealedKey(filepath.Join(cfg.DataDir, receiptKeyFile), kek, jwa.ES256); err != nil {
			return nil, nil, err
		}
		if cfg.Issuer.DIDMethod == "web" {
			web = issuerDID
		}
	default:
		if cfg.Receipts.KeyFile != "" {
			k, err = keyutil.ReadPrivateFile(cfg.Receipts.KeyFile)
		} else {
			k, err = keyutil.Generate(jwa.ES256)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receipts.key_file: %w", err)
		}
		if cfg.Receipts.DIDMethod == "web" {
			if web, err = webDID(cfg.PublicURL); err != nil {
				return nil, nil, err
			}
		}
	}
	sig, err := receipt.SignerFor(k, web)
	return sig, k, err
}

// sinkCloser is a receipt sink to close at shutdown.
type sinkCloser interface {
	receipt.Sink
	Close() error
}

// receiptSink opens the receipt log (a JSON-lines file, or a PostgreSQL
// database), or returns nil when none is configured.
func receiptSink(ctx context.Context, cfg config.Config) (sinkCloser, error) {
	switch {
	case cfg.Receipts.LogStore != "":
		s, err := postgres.Open(ctx, cfg.Receipts.LogStore)
		if err != nil {
			return nil, unavailable(fmt.Errorf("receipts.log_store: %w", err))
		}
		return s, nil
	case cfg.Receipts.LogFile != "":
		s, err := receipt.OpenFileSink(cfg.Receipts.LogFile, cfg.Receipts.LogMaxBytes, cfg.Receipts.LogMaxFiles)
		if err != nil {
			return nil, fmt.Errorf("receipts.log_file: %w", err)
		}
		return s, nil
	}
	return nil, nil
}

// withOwnDocument resolves id to the document doc builds (this service's
// own did:web) and every other DID through next.
func withOwnDocument(next did.Resolver, id string, doc func() (*did.Document, error)) did.Resolver {
	return did.ResolverFunc(func(ctx context.Context, d string) (*did.Document, error) {
		if d == id {
			return doc()
		}
		return next.Resolve(ctx, d)
	})
}
