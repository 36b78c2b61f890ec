package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Every route of the URL surface is documented, and the document holds no
// route that does not exist.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	// With Jira Cloud configured, the Forge remote and Sign in with
	// Atlassian routes are served too: the document describes them.
	jiraRoutes := append(jira.NewRemote(jira.Config{}).Routes(), jira.NewSignIn(jira.SignInConfig{}).Routes()...)
	s := New(Config{JiraRoutes: jiraRoutes})
	type route struct{ method, pattern string }
	var all []route
	for _, rt := range s.routes() {
		all = append(all, route{rt.method, rt.pattern})
	}
	for _, rt := range s.jira {
		all = append(all, route{rt.Method, rt.Pattern})
	}
	if len(s.jira) == 0 {
		t.Fatal("no Jira routes")
	}
	served := map[string]bool{}
	for _, rt := range all {
		served[rt.method+" "+rt.pattern] = true
		ops, ok := doc.Paths[rt.pattern]
		if !ok {
			t.Errorf("route %s %s is not documented in openapi.json", rt.method, rt.pattern)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.method)]; !ok {
			t.Errorf("method %s of %s is not documented in openapi.json", rt.method, rt.pattern)
		}
	}
	for _, extra := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "POST /hooks/{integration_id}"} {
		served[extra] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			if !served[strings.ToUpper(method)+" "+path] {
				t.Errorf("openapi.json documents %s %s, which gitrelay does not serve", strings.ToUpper(method), path)
			}
		}
	}
	// Every error code the domain defines for users is in the schema's enum.
	var enum struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `json:"enum"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	_ = json.Unmarshal(openapiDoc, &enum)
	codes := enum.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	for _, c := range []string{relay.EUnauthenticated, relay.EForbidden, relay.ENotFound, relay.EInvalid, relay.EConflict,
		relay.EInternal, relay.EBusy, relay.EUserTokenRequired, relay.EUserTokenExpired, relay.EUserTokenRevoked,
		relay.EUserTokenInsufficientScope, relay.ETokenInvalid, relay.ETokenExpired, relay.ETokenInsufficientScope,
		relay.EPATNotSupported, relay.EInvalidBranchName, relay.EBranchExists, relay.EPullRequestExists, relay.ERateLimited,
		relay.EHostError, relay.EHostTimeout, relay.EIntegrationDisabled, relay.EHostNotAllowed} {
		if !slices.Contains(codes, c) {
			t.Errorf("error code %s missing from the schema", c)
		}
	}
}

func TestUnknownAPIRouteIsJSON404(t *testing.T) {
	s := New(Config{})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/nope", nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("security headers missing")
	}
}

func TestPanicsAnswer500WithoutDetail(t *testing.T) {
	s := New(Config{})
	h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret-in-panic") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret-in-panic") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}

// The document's schemas name exactly the fields the shared wire types
// (httpx) send: the API and the Forge remote answer with those types, so
// the document describes both.
func TestOpenAPISchemasMatchTheWireTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas
	dev := s["Development"].Properties
	errs := s["Error"]
	tests := []struct {
		name   string
		schema schema
		wire   any
	}{
		{"BranchCreated", s["BranchCreated"], httpx.BranchCreated{}},
		{"PullRequestCreated", s["PullRequestCreated"], httpx.PullRequestCreated{}},
		{"Development", s["Development"], httpx.Development{}},
		{"Development.branches", *dev["branches"].Items, httpx.BranchRecord{}},
		{"Development.pull_requests", *dev["pull_requests"].Items, httpx.PullRequestRecord{}},
		{"Development.integrations", *dev["integrations"].Items, httpx.DevIntegration{}},
		{"ActedAs", s["ActedAs"], httpx.ActedAs{}},
		{"Repository", s["Repository"], httpx.Repository{}},
		{"Branch", s["Branch"], httpx.Branch{}},
		{"Token", s["Token"], httpx.Token{}},
		{"Integration", s["Integration"], httpx.Integration{}},
		{"Credential", s["Credential"], httpx.Credential{}},
		{"Webhook", s["Webhook"], webhookAnswer{}},
		{"Error", errs, httpx.ErrorResponse{}},
		{"Error.error", errs.Properties["error"], httpx.ErrorBody{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var documented []string
			for k := range tt.schema.Properties {
				documented = append(documented, k)
			}
			sort.Strings(documented)
			sent := jsonFields(reflect.TypeOf(tt.wire))
			if strings.Join(documented, ",") != strings.Join(sent, ",") {
				t.Errorf("openapi.json documents %v, the wire type sends %v", documented, sent)
			}
		})
	}
}

type schema struct {
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// The document is usable as a contract by generators and linters: every
// operation has a unique, readable operationId, a summary and a tag; the
// document names its server; and every object a response returns says
// which of its fields are always there.
func TestOpenAPIDocumentIsAContract(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Error("the document has no servers entry")
	}
	declared := map[string]bool{}
	tags, _ := doc["tags"].([]any)
	for _, tg := range tags {
		name, _ := tg.(map[string]any)["name"].(string)
		declared[name] = true
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	operationIDs := map[string]string{}
	paths := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			switch {
			case id == "":
				t.Errorf("%s has no operationId", where)
			case !camelCase(id):
				t.Errorf("%s: operationId %q is not camelCase", where, id)
			case operationIDs[id] != "":
				t.Errorf("%s: operationId %q is also %s", where, id, operationIDs[id])
			default:
				operationIDs[id] = where
			}
			if s, _ := o["summary"].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s has no summary", where)
			}
			opTags, _ := o["tags"].([]any)
			if len(opTags) == 0 {
				t.Errorf("%s has no tag", where)
			}
			for _, tg := range opTags {
				if name, _ := tg.(string); !declared[name] {
					t.Errorf("%s: tag %q is not declared in the document's tags", where, name)
				}
			}
			responses, _ := o["responses"].(map[string]any)
			for status, resp := range responses {
				content, _ := resp.(map[string]any)["content"].(map[string]any)
				for mt, media := range content {
					s, _ := media.(map[string]any)["schema"].(map[string]any)
					checkRequired(t, where+" "+status+" "+mt, s, schemas, map[string]bool{})
				}
			}
		}
	}
}

// checkRequired reports every object schema under s without a required
// list, following references once each.
func checkRequired(t *testing.T, where string, s map[string]any, schemas map[string]any, seen map[string]bool) {
	t.Helper()
	if s == nil {
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if seen[name] {
			return
		}
		seen[name] = true
		target, _ := schemas[name].(map[string]any)
		checkRequired(t, where+" → "+name, target, schemas, seen)
		return
	}
	props, _ := s["properties"].(map[string]any)
	if len(props) > 0 {
		if _, ok := s["required"]; !ok {
			t.Errorf("%s: object schema without required (the fields always present)", where)
		}
	}
	for name, p := range props {
		sub, _ := p.(map[string]any)
		checkRequired(t, where+"."+name, sub, schemas, seen)
	}
	if items, ok := s["items"].(map[string]any); ok {
		checkRequired(t, where+"[]", items, schemas, seen)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		list, _ := s[k].([]any)
		for _, sub := range list {
			m, _ := sub.(map[string]any)
			checkRequired(t, where, m, schemas, seen)
		}
	}
}

// camelCase: a lower-case letter, then letters and digits.
func camelCase(s string) bool {
	for i, r := range s {
		lower, upper, digit := r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9'
		if (i == 0 && !lower) || !(lower || upper || digit) {
			return false
		}
	}
	return s != ""
}
