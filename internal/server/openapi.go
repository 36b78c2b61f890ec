package server

import (
	"bytes"
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
	return nil
}

// OpenAPIDocument is the API's OpenAPI document, the one served at
// /api/v1/openapi.json (a copy: callers may keep or change it).
func OpenAPIDocument() []byte { return bytes.Clone(openapiDoc) }
