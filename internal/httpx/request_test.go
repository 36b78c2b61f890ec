package httpx_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

// Lines logged with a request's context carry its id, through loggers
// derived with With; lines logged without one are unchanged.
func TestLogLinesCarryTheRequestID(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(httpx.LogHandler(slog.NewJSONHandler(&b, nil))).With("component", "x")
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(httpx.RequestIDHeader, "req-42")
	w := httptest.NewRecorder()
	req, q := httpx.StartRequest(w, req)
	if q.ID != "req-42" || w.Header().Get(httpx.RequestIDHeader) != "req-42" || httpx.RequestID(req.Context()) != "req-42" {
		t.Fatalf("request id %q, header %q", q.ID, w.Header().Get(httpx.RequestIDHeader))
	}
	httpx.NoteUser(req.Context(), "tenant-1", "user-1")
	if tenant, user := q.Who(); tenant != "tenant-1" || user != "user-1" {
		t.Errorf("noted %q %q", tenant, user)
	}
	log.InfoContext(req.Context(), "inside")
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"request_id":"req-42"`) || !strings.Contains(lines[0], `"component":"x"`) ||
		strings.Contains(lines[1], "request_id") {
		t.Errorf("log lines:\n%s", b.String())
	}
	if httpx.LogHandler(httpx.LogHandler(slog.DiscardHandler)) != httpx.LogHandler(slog.DiscardHandler) {
		t.Error("wrapping twice adds the id twice")
	}
}

func TestGeneratedRequestIDsAreWellFormedAndDistinct(t *testing.T) {
	a, b := httpx.NewRequestID(), httpx.NewRequestID()
	if a == b || !httpx.ValidRequestID(a) || len(a) != 32 {
		t.Errorf("generated %q and %q", a, b)
	}
}
