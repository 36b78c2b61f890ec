package server

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// statusOf maps a domain error code to its HTTP status (httperr holds the
// one mapping every HTTP edge shares).
func statusOf(code string) int { return httperr.Status(code) }

// errorBody is the JSON shape of every error.
type errorBody struct {
	Code        string            `json:"code"`
	Message     string            `json:"message"`
	Fields      map[string]string `json:"fields,omitempty"`
	SetupURL    string            `json:"setup_url,omitempty"`
	NewTokenURL string            `json:"new_token_url,omitempty"`
	URL         string            `json:"url,omitempty"`
	Scope       string            `json:"scope,omitempty"`
	RetryAfter  int               `json:"retry_after,omitempty"`
}

// writeError answers with the error's status and body. Only internal
// errors are logged: the others are the user's to act on. Causes (Err) are
// never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := relay.ErrorCode(err)
	body := errorBody{Code: code, Message: relay.ErrorMessage(err)}
	if e, ok := relay.AsError(err); ok {
		body.Fields, body.SetupURL, body.NewTokenURL, body.URL, body.Scope = e.Fields, e.SetupURL, e.NewTokenURL, e.URL, e.Scope
		if code == relay.ECredentialRejected || code == relay.EScopeMissing {
			// Adapter codes that escaped translation: say what they mean.
			body.Code = relay.EHostError
		}
		if e.RetryAfter > 0 {
			secs := int(e.RetryAfter.Seconds() + 0.999)
			body.RetryAfter = secs
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	status := statusOf(code)
	if status == http.StatusInternalServerError || status == http.StatusBadGateway {
		level := slog.LevelWarn
		if status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	// The extra fields are repeated at the top level for clients that read
	// them there.
	writeJSON(w, status, struct {
		Error       errorBody         `json:"error"`
		Fields      map[string]string `json:"fields,omitempty"`
		SetupURL    string            `json:"setup_url,omitempty"`
		NewTokenURL string            `json:"new_token_url,omitempty"`
		URL         string            `json:"url,omitempty"`
	}{body, body.Fields, body.SetupURL, body.NewTokenURL, body.URL})
}
