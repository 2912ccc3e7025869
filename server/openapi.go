package server

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the API description served at /openapi.yaml; TestOpenAPIMatchesRouter
// keeps it and the router in agreement.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPI)
}
