// Package openapitest holds gitrelay's OpenAPI document to its word in
// tests: every answer a test receives from a documented route is checked
// against the operation it belongs to (status, content type, body schema),
// so a drift between the document and the code fails the test that shows
// it. The check is stricter than the document's own words: an object in
// an answer may hold no field the document does not name, so a field added
// to the code but not to the document fails too. The document is loaded
// and routed once per test process.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gitrelay/gitrelay/internal/server"
)

// contract is the loaded document with a router that matches requests the
// way gitrelay's own mux does (the document's paths are ServeMux
// patterns: a test in internal/server keeps the two the same).
type contract struct {
	doc    *openapi3.T
	mux    *http.ServeMux
	routes map[string]*routers.Route // by "METHOD path"
	errors *openapi3.Schema          // for /api/ answers no operation covers
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(server.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("loading openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	c := &contract{doc: doc, mux: http.NewServeMux(), routes: map[string]*routers.Route{}}
	closed := map[*openapi3.Schema]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, media := range resp.Value.Content {
					if media.Schema != nil {
						closeObjects(media.Schema.Value, closed)
					}
				}
			}
			key := method + " " + path
			c.routes[key] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			c.mux.Handle(key, http.NotFoundHandler())
		}
	}
	ref := doc.Components.Schemas["Error"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("openapi.json has no Error schema")
	}
	c.errors = ref.Value
	closeObjects(c.errors, closed)
	return c, nil
})

// closeObjects forbids fields the document does not name in every object
// schema under s that does not say otherwise. Answers are validated
// against response schemas only, so request schemas stay as written.
func closeObjects(s *openapi3.Schema, done map[*openapi3.Schema]bool) {
	if s == nil || done[s] {
		return
	}
	done[s] = true
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	}
	for _, p := range s.Properties {
		closeObjects(p.Value, done)
	}
	if s.Items != nil {
		closeObjects(s.Items.Value, done)
	}
	if s.AdditionalProperties.Schema != nil {
		closeObjects(s.AdditionalProperties.Schema.Value, done)
	}
	for _, list := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		for _, sub := range list {
			closeObjects(sub.Value, done)
		}
	}
}

// Check validates one answer to req against the document: nil when the
// document describes it, an error saying what differs otherwise. An answer
// under /api/ that no operation covers (an unknown route) must still be
// an error in the documented shape; other routes the document does not
// describe (pages) are not its business.
func Check(req *http.Request, status int, header http.Header, body []byte) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	return c.check(req, status, header, body)
}

func (c *contract) check(req *http.Request, status int, header http.Header, body []byte) error {
	_, pattern := c.mux.Handler(req)
	route := c.routes[pattern]
	if route == nil {
		if !strings.HasPrefix(req.URL.Path, "/api/") {
			return nil
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("undocumented route answered %d with a body that is not JSON: %w", status, err)
		}
		return c.errors.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse())
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	// The validator accepts any body for a response documented without
	// content (204): the document says there is none.
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil &&
		len(resp.Value.Content) == 0 && len(bytes.TrimSpace(body)) > 0 {
		return fmt.Errorf("status %d is documented without a body, the answer has %d bytes", status, len(body))
	}
	return nil
}
