package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	s := New(Config{})
	served := map[string]bool{}
	for _, rt := range s.routes() {
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
	for _, extra := range []string{"GET /healthz", "GET /readyz", "GET /metrics"} {
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
	codes := strings.Join(enum.Components.Schemas.Error.Properties.Error.Properties.Code.Enum, ",")
	for _, c := range []string{relay.EUserTokenRequired, relay.EPATNotSupported, relay.EBranchExists, relay.EHostTimeout} {
		if !strings.Contains(codes, c) {
			t.Errorf("error code %s missing from the schema", c)
		}
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	for code, want := range map[string]int{
		relay.EUnauthenticated: 401, relay.EForbidden: 403, relay.ENotFound: 404,
		relay.EUserTokenRequired: 428, relay.EUserTokenExpired: 428, relay.EUserTokenRevoked: 428, relay.EUserTokenInsufficientScope: 428,
		relay.EPATNotSupported: 422, relay.EInvalidBranchName: 422, relay.EInvalid: 422, relay.ETokenInvalid: 422,
		relay.EBranchExists: 409, relay.EPullRequestExists: 409, relay.ERateLimited: 429,
		relay.EHostError: 502, relay.EHostTimeout: 504, relay.EInternal: 500, relay.EBusy: 503,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestBadRequestBodiesSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct{ body, says string }{
		{``, "empty"},
		{`{"kind": 3}`, "wrong type"},
		{`{"kinnd": "github"}`, "unknown field kinnd"},
		{`{"kind": "github"} {}`, "single JSON object"},
		{`{"kind": `, "not valid JSON"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		var v struct {
			Kind string `json:"kind"`
		}
		err := decodeJSON(r, &v)
		if relay.ErrorCode(err) != relay.EInvalid || !strings.Contains(relay.ErrorMessage(err), tc.says) {
			t.Errorf("%q: got %v, want invalid_request saying %q", tc.body, err, tc.says)
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
