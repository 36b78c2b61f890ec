package openapitest

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/server"
)

// The contract check refuses answers the document does not describe and
// accepts those it does.
func TestCheck(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	kind := `{"kind":"codecommit","label":"AWS CodeCommit","base_url":false,"base_url_hint":"",` +
		`"options":[{"key":"region","label":"Region","hint":"","default":"","choices":[]}],` +
		`"credential":[{"name":"access_key_id","label":"Access key ID","secret":false}],` +
		`"no_pat":{"option":"","values":[],"credential":[],"warning":""},"new_token_url":"",` +
		`"pat":false,"drafts":false,"token_help":"h","required_scopes":`
	tests := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		valid              bool
	}{
		{"a documented answer passes", "GET", "/api/v1/kinds", 200, jsonCT, "[" + kind + "[]}]", true},
		{"null where the document says array fails", "GET", "/api/v1/kinds", 200, jsonCT, "[" + kind + "null}]", false},
		{"a missing required field fails", "GET", "/api/v1/projects", 200, jsonCT, `[{"key":"ABC"}]`, false},
		{"a field the document does not name fails", "GET", "/api/v1/projects", 200, jsonCT, `[{"key":"ABC","name":"Alpha","secret":"x"}]`, false},
		{"an undocumented status fails", "GET", "/api/v1/projects", 418, jsonCT, `{"error":{"code":"internal","message":"m"}}`, false},
		{"an undocumented content type fails", "GET", "/api/v1/projects", 200, http.Header{"Content-Type": {"text/html"}}, `[]`, false},
		{"a body where none is documented fails", "DELETE", "/api/v1/projects/ABC", 204, http.Header{}, `{"deleted":true}`, false},
		{"an error answer in the documented shape passes", "DELETE", "/api/v1/projects/ABC", 404, jsonCT, `{"error":{"code":"not_found","message":"No such project."}}`, true},
		{"an unknown error code fails", "DELETE", "/api/v1/projects/ABC", 404, jsonCT, `{"error":{"code":"gone","message":"m"}}`, false},
		{"an unknown route answers a documented error", "GET", "/api/v1/nope", 404, jsonCT, `{"error":{"code":"not_found","message":"m"}}`, true},
		{"an unknown route answering something else fails", "GET", "/api/v1/nope", 404, jsonCT, `{"oops":1}`, false},
		{"a Forge remote answer is checked", "GET", "/forge/me/tokens", 200, jsonCT, `[{"integration_id":"1"}]`, false},
		{"the document describes itself", "GET", "/api/v1/openapi.json", 200, jsonCT, string(server.OpenAPIDocument()), true},
		{"a page is not the document's", "GET", "/settings/tokens", 200, http.Header{"Content-Type": {"text/html"}}, `<p>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://gitrelay.test"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.check(req, tt.status, tt.header, []byte(tt.body))
			if (err == nil) != tt.valid {
				t.Errorf("check = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}
