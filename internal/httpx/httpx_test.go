package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// request is the shape the decoder tests decode into: a string, a number,
// a flag, a pointer, a list and a nested object, like the edges' requests.
type request struct {
	Name       string            `json:"name"`
	Count      int               `json:"count"`
	Draft      bool              `json:"draft"`
	Enabled    *bool             `json:"enabled"`
	Projects   []string          `json:"projects"`
	Options    map[string]string `json:"options"`
	Credential struct {
		Token string `json:"token"`
	} `json:"credential"`
}

func TestDecodeRefusesWhatItCannotUse(t *testing.T) {
	long := strings.Repeat("f", 5000)
	tests := []struct {
		name, body, says, field string
	}{
		{"an empty body", ``, "empty", ""},
		{"only spaces", "  \n\t ", "empty", ""},
		{"a list", `[{"name":"x"}]`, "must be a JSON object", ""},
		{"null", `null`, "must be a JSON object", ""},
		{"a string", `"name"`, "must be a JSON object", ""},
		{"a number", `12`, "must be a JSON object", ""},
		{"a field of the wrong type", `{"name": 3}`, "field name has the wrong type: it must be a string", "name"},
		{"a flag given as a string", `{"enabled": "yes"}`, "must be true or false", "enabled"},
		{"a count with a fraction", `{"count": 1.5}`, "must be a whole number", "count"},
		{"a nested field of the wrong type", `{"credential": {"token": 1}}`, "wrong type", "credential.token"},
		{"a list given as an object", `{"projects": {}}`, "must be a list", "projects"},
		{"an unknown field", `{"nmae": "x"}`, "unknown field nmae", "nmae"},
		{"two objects", `{"name":"a"} {"name":"b"}`, "single JSON object", ""},
		{"a stray closing brace", `{"name":"a"}}`, "single JSON object", ""},
		{"a cut-off object", `{"name": "a`, "ends in the middle", ""},
		{"not JSON", `{name: a}`, "not valid JSON (at byte", ""},
		{"a number too large for its field", `{"count": 1e400}`, "", "count"},
		{"an unknown field with a very long name", `{"` + long + `": 1}`, "unknown field fff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v request
			err := httpx.Decode(strings.NewReader(tt.body), &v)
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid {
				t.Fatalf("got %v, want an invalid_request error", err)
			}
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
			if tt.field != "" && e.Fields[tt.field] == "" && !strings.Contains(e.Message, "expected shape") {
				t.Errorf("fields %v do not name %s", e.Fields, tt.field)
			}
			if len(e.Message) > 300 {
				t.Errorf("the message quotes too much of the request (%d bytes)", len(e.Message))
			}
		})
	}
}

func TestDecodeIsBoundedByMaxBody(t *testing.T) {
	obj := `{"name":"a"}`
	tests := []struct {
		name   string
		size   int
		wantOK bool
	}{
		{"a body of exactly MaxBody bytes is read", httpx.MaxBody, true},
		{"a body one byte over MaxBody is refused", httpx.MaxBody + 1, false},
		{"a body far over MaxBody is refused", 8 * httpx.MaxBody, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := obj + strings.Repeat(" ", tt.size-len(obj))
			var v request
			err := httpx.Decode(strings.NewReader(body), &v)
			if tt.wantOK {
				if err != nil || v.Name != "a" {
					t.Fatalf("got %v (%+v), want the object", err, v)
				}
				return
			}
			if relay.ErrorCode(err) != relay.EInvalid || !strings.Contains(relay.ErrorMessage(err), "larger than 1024 KiB") {
				t.Fatalf("got %v, want invalid_request saying the body is too large", err)
			}
		})
	}
	t.Run("the edge's own byte limit reads as the same refusal", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(obj+strings.Repeat(" ", 100)))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 20)
		var v request
		if err := httpx.DecodeJSON(r, &v); !strings.Contains(relay.ErrorMessage(err), "larger than") {
			t.Fatalf("got %v, want the body refused as too large", err)
		}
	})
}

func TestDecodeReadsOneObject(t *testing.T) {
	var v request
	err := httpx.Decode(strings.NewReader(` {"name":"x","count":2,"draft":true,"enabled":false,"projects":["ABC"],"options":{"a":"b"},"credential":{"token":"t"}} `+"\n"), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "x" || v.Count != 2 || !v.Draft || v.Enabled == nil || *v.Enabled || len(v.Projects) != 1 || v.Options["a"] != "b" || v.Credential.Token != "t" {
		t.Fatalf("decoded %+v", v)
	}
}

func TestIssueKeyFromThePath(t *testing.T) {
	tests := []struct {
		name, path, wantKey, wantProject, wantCode string
	}{
		{"an issue key", "ABC-12", "ABC-12", "ABC", ""},
		{"a lower-case key is upper-cased", "abc-12", "ABC-12", "ABC", ""},
		{"a key with digits in the project", "A1B-7", "A1B-7", "A1B", ""},
		{"no number", "ABC", "", "", relay.ENotFound},
		{"a leading zero", "ABC-012", "", "", relay.ENotFound},
		{"a number first", "1BC-2", "", "", relay.ENotFound},
		{"a branch name", "ABC-1-fix", "", "", relay.ENotFound},
		{"a very long key", strings.Repeat("A", 500) + "-1x", "", "", relay.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.SetPathValue("key", tt.path)
			key, project, err := httpx.IssueKey(r)
			if relay.ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("error %v, want code %q", err, tt.wantCode)
			}
			if key != tt.wantKey || project != tt.wantProject {
				t.Errorf("got %q %q, want %q %q", key, project, tt.wantKey, tt.wantProject)
			}
			if err != nil && utf8.RuneCountInString(relay.ErrorMessage(err)) > 200 {
				t.Errorf("the message quotes the whole path: %q", relay.ErrorMessage(err))
			}
		})
	}
}

// Every edge answers errors in one shape: error.code and error.message,
// the fields and links both inside error and at the top level, a
// Retry-After header with retry_after, and never the cause.
func TestErrorAnswerShape(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		want       string
		header     string
	}{
		{"a refusal with fields", &relay.Error{Code: relay.EInvalid, Message: "Fix it.", Fields: map[string]string{"name": "required"}},
			http.StatusUnprocessableEntity,
			`{"error":{"code":"invalid_request","message":"Fix it.","fields":{"name":"required"}},"fields":{"name":"required"}}`, ""},
		{"setup required with links", &relay.Error{Code: relay.EUserTokenRequired, Message: "Add your PAT.", SetupURL: "/settings/tokens?x=1", NewTokenURL: "https://host/new"},
			http.StatusPreconditionRequired,
			`{"error":{"code":"user_token_required","message":"Add your PAT.","setup_url":"/settings/tokens?x=1","new_token_url":"https://host/new"},"setup_url":"/settings/tokens?x=1","new_token_url":"https://host/new"}`, ""},
		{"rate limited says when to retry", &relay.Error{Code: relay.ERateLimited, Message: "Slow down.", RetryAfter: 1500 * time.Millisecond},
			http.StatusTooManyRequests,
			`{"error":{"code":"rate_limited","message":"Slow down.","retry_after":2}}`, "2"},
		{"an adapter code reads as host_error", &relay.Error{Code: relay.ECredentialRejected, Message: "The host refused the credential."},
			http.StatusBadGateway,
			`{"error":{"code":"host_error","message":"The host refused the credential."}}`, ""},
		{"an internal error keeps its cause to the log", &relay.Error{Code: relay.EInternal, Message: "Something failed.", Err: errors.New("secret cause")},
			http.StatusInternalServerError,
			`{"error":{"code":"internal","message":"Something failed."}}`, ""},
		{"a plain error is internal", errors.New("secret cause"), http.StatusInternalServerError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := httptest.NewRecorder()
			httpx.WriteError(w, httptest.NewRequest("GET", "/x", nil), slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			body := strings.TrimSpace(w.Body.String())
			if tt.want != "" && body != tt.want {
				t.Errorf("body\n%s\nwant\n%s", body, tt.want)
			}
			if strings.Contains(body, "secret cause") {
				t.Error("the cause reached the answer")
			}
			if got := w.Header().Get("Retry-After"); got != tt.header {
				t.Errorf("Retry-After %q, want %q", got, tt.header)
			}
			if (tt.wantStatus >= 500) != strings.Contains(logs.String(), "request failed") {
				t.Errorf("logged %q; want a log line exactly for server-side failures", logs.String())
			}
			var shape struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &shape); err != nil || shape.Error.Code == "" || shape.Error.Message == "" {
				t.Errorf("body %s lacks error.code or error.message (%v)", body, err)
			}
		})
	}
}

func TestWriteJSONEscapesMarkup(t *testing.T) {
	w := httptest.NewRecorder()
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"x": "<script>"})
	if strings.Contains(w.Body.String(), "<script>") || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("got %q (%s)", w.Body, w.Header().Get("Content-Type"))
	}
}
