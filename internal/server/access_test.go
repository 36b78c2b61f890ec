package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/logbuf"
)

// logLines decodes the JSON log lines whose msg is msg.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func newLoggedServer(version string) (*Server, *logbuf.Buffer) {
	logs := &logbuf.Buffer{}
	s := New(Config{Version: version, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return s, logs
}

func TestRequestIDIsAcceptedReplacedOrGenerated(t *testing.T) {
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"a well-formed id is kept", "abc-123_X.9", true},
		{"64 characters are kept", strings.Repeat("a", 64), true},
		{"65 characters are replaced", strings.Repeat("a", 65), false},
		{"spaces and quotes are replaced", `a b"c`, false},
		{"a forged log line is replaced", "id\nlevel=ERROR", false},
		{"non-ASCII is replaced", "idé", false},
		{"none is generated", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newLoggedServer("test")
			for _, path := range []string{"/healthz", "/readyz", "/api/v1/nope"} {
				req := httptest.NewRequest("GET", path, nil)
				if tt.sent != "" {
					req.Header.Set("X-Request-ID", tt.sent)
				}
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, req)
				got := w.Header().Get("X-Request-ID")
				if tt.kept && got != tt.sent {
					t.Errorf("%s: answered request id %q, want the client's %q", path, got, tt.sent)
				}
				if !tt.kept && (got == tt.sent || !httpx.ValidRequestID(got)) {
					t.Errorf("%s: answered request id %q for %q, want a fresh well-formed one", path, got, tt.sent)
				}
				if w.Code >= 400 {
					var body httpx.ErrorResponse
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.RequestID != got {
						t.Errorf("%s: error body %s does not quote the request id %q", path, w.Body, got)
					}
				}
			}
		})
	}
}

func TestEveryRequestIsLoggedOnceWithoutSecrets(t *testing.T) {
	s, logs := newLoggedServer("test")
	req := httptest.NewRequest("GET", "/api/v1/me?token=QUERY-CANARY", nil)
	req.Header.Set("Authorization", "Bearer gra_TOKEN-CANARY")
	req.Header.Set("Cookie", "gitrelay_session=COOKIE-CANARY")
	req.Header.Set("X-Request-ID", "req-logged-1")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))

	lines := logLines(t, logs.String(), "request")
	if len(lines) != 2 {
		t.Fatalf("got %d access-log lines, want one per request:\n%s", len(lines), logs)
	}
	api := lines[0]
	want := map[string]any{"level": "INFO", "method": "GET", "route": "GET /api/v1/me", "status": float64(401),
		"request_id": "req-logged-1", "bytes": float64(w.Body.Len())}
	for k, v := range want {
		if api[k] != v {
			t.Errorf("access log %s = %v, want %v (line %v)", k, api[k], v, api)
		}
	}
	if _, ok := api["duration_ms"].(float64); !ok {
		t.Errorf("access log has no duration: %v", api)
	}
	if lines[1]["level"] != "DEBUG" || lines[1]["route"] != "GET /healthz" {
		t.Errorf("a health check is logged as %v, want at debug level", lines[1])
	}
	for _, canary := range []string{"QUERY-CANARY", "TOKEN-CANARY", "COOKIE-CANARY"} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("the log holds %s:\n%s", canary, logs)
		}
	}
}

func TestRequestMetricsAreLabelledByRoutePattern(t *testing.T) {
	s, _ := newLoggedServer("v9.8.7")
	for _, path := range []string{"/healthz", "/api/v1/integrations/int-1234"} {
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	text := w.Body.String()
	for _, want := range []string{
		`gitrelay_http_requests_total{route="GET /healthz",status="200"} 1`,
		`gitrelay_http_requests_total{route="GET /api/v1/integrations/{id}",status="401"} 1`,
		`gitrelay_build_info{goversion="go`,
		`version="v9.8.7"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "int-1234") {
		t.Error("a path value reached a metric label")
	}
}
