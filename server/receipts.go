package server

import (
	"context"
	"net/http"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// recordReceipt hands the receipt of res to the configured sink, if any.
func (s *Server) recordReceipt(ctx context.Context, res *verifier.Result) error {
	if s.receiptSink == nil || res.Receipt == "" {
		return nil
	}
	c, err := receipt.Unverified(res.Receipt)
	if err != nil {
		return err
	}
	if err := s.receiptSink.Put(ctx, receipt.Record{Receipt: res.Receipt, Claims: *c}); err != nil {
		return errcode.Wrap(errcode.Internal, err, "the receipt could not be recorded")
	}
	return nil
}

// DIDDocument is the document this service serves at
// /.well-known/did.json for its did:web id: the issuer's keys (none in
// verifier-only mode) under assertionMethod, and the receipt key, when
// receipts are signed under id, as a verification method under no
// relationship, so that it can never pass for an issuer key.
func DIDDocument(id string, issuerKeys []jwk.Key, receipts *receipt.Signer) (*did.Document, error) {
	doc := &did.Document{Context: []any{did.ContextDIDv1, did.ContextJWS2020}, ID: id}
	if len(issuerKeys) > 0 {
		var err error
		if doc, err = did.NewWebDocument(id, issuerKeys); err != nil {
			return nil, err
		}
	}
	if receipts == nil || receipts.Issuer() != id {
		return doc, nil
	}
	rd, err := did.NewWebDocument(id, []jwk.Key{receipts.PublicKey()})
	if err != nil {
		return nil, err
	}
	doc.VerificationMethod = append(doc.VerificationMethod, rd.VerificationMethod...)
	return doc, nil
}

// verifierDocument serves the DID document of a verifier-only service
// whose receipts are signed under the did:web of its public URL.
func (s *Server) verifierDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := DIDDocument(s.receipts.Issuer(), nil, s.receipts)
	if err != nil {
		writeError(w, r, s.log, errcode.Wrap(errcode.Internal, err, "build the verifier DID document"))
		return
	}
	w.Header().Set("Cache-Control", wellKnownMaxAge)
	writeJSONType(w, http.StatusOK, "application/did+json", doc)
}
