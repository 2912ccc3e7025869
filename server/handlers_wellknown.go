package server

import (
	"net/http"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func (s *Server) publicKeys() []jwk.Key { return s.issuer.Keys().PublicKeys() }

func (s *Server) didDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := DIDDocument(s.issuer.Keys().Issuer(), s.publicKeys(), s.receipts)
	if err != nil {
		// The key ring is ours: a document we cannot build is our fault.
		writeError(w, r, s.log, errcode.Wrap(errcode.Internal, err, "build the issuer DID document"))
		return
	}
	w.Header().Set("Cache-Control", wellKnownMaxAge)
	writeJSONType(w, http.StatusOK, "application/did+json", doc)
}

func (s *Server) issuerMetadata(w http.ResponseWriter, r *http.Request) {
	set := jwk.NewSet()
	for _, k := range s.publicKeys() {
		if err := set.AddKey(k); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	w.Header().Set("Cache-Control", wellKnownMaxAge)
	writeJSON(w, http.StatusOK, map[string]any{"issuer": s.issuer.Keys().Issuer(), "jwks": set})
}
