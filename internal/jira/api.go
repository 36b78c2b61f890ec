package jira

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The remote's payloads are the JSON API's shapes (internal/server), so the
// Forge panel and gitrelay's own pages read the same fields. Like there, no
// response type has a secret field.

type actedAsJSON struct {
	Via   relay.Via `json:"via"`
	Login string    `json:"login"`
}

type branchJSON struct {
	Name          string      `json:"name"`
	URL           string      `json:"url"`
	IntegrationID string      `json:"integration_id"`
	RepositoryID  string      `json:"repository_id"`
	Repository    string      `json:"repository"`
	ActedAs       actedAsJSON `json:"acted_as"`
	CreatedAt     time.Time   `json:"created_at"`
}

type pullRequestJSON struct {
	Number        int         `json:"number"`
	Title         string      `json:"title"`
	URL           string      `json:"url"`
	Source        string      `json:"source"`
	Target        string      `json:"target"`
	Draft         bool        `json:"draft"`
	IntegrationID string      `json:"integration_id"`
	RepositoryID  string      `json:"repository_id"`
	Repository    string      `json:"repository"`
	ActedAs       actedAsJSON `json:"acted_as"`
	CreatedAt     time.Time   `json:"created_at"`
}

type devIntegrationJSON struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	RequireUserPAT  bool   `json:"require_user_pat"`
	UserTokenStatus string `json:"user_token_status"`
	SetupURL        string `json:"setup_url"`
}

type developmentJSON struct {
	IssueKey     string               `json:"issue_key"`
	Branches     []branchJSON         `json:"branches"`
	PullRequests []pullRequestJSON    `json:"pull_requests"`
	Integrations []devIntegrationJSON `json:"integrations"`
}

type accountJSON struct {
	Login string `json:"login"`
	Name  string `json:"name"`
}

type integrationJSON struct {
	ID             string            `json:"id"`
	Kind           relay.Kind        `json:"kind"`
	Name           string            `json:"name"`
	BaseURL        string            `json:"base_url"`
	Options        map[string]string `json:"options"`
	Enabled        bool              `json:"enabled"`
	RequireUserPAT bool              `json:"require_user_pat"`
	Projects       []string          `json:"projects"`
	Account        accountJSON       `json:"account"`
	Warnings       []string          `json:"warnings,omitempty"`
}

func toIntegrationJSON(in relay.Integration, warnings []string) integrationJSON {
	opts := in.Options
	if opts == nil {
		opts = map[string]string{}
	}
	return integrationJSON{ID: in.ID, Kind: in.Kind, Name: in.Name, BaseURL: in.BaseURL, Options: opts,
		Enabled: in.Enabled, RequireUserPAT: in.RequireUserPAT, Projects: in.Projects,
		Account: accountJSON{Login: in.Account.Login, Name: in.Account.Name}, Warnings: warnings}
}

// credentialJSON is the only request type holding a secret; it is never
// written back.
type credentialJSON struct {
	Token           string `json:"token"`
	Username        string `json:"username"`
	Password        string `json:"password"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

func (c credentialJSON) credential() relay.Credential {
	return relay.NewCredential(c.Token, c.Username, c.Password, c.AccessKeyID, c.SecretAccessKey)
}

type tokenJSON struct {
	IntegrationID   string `json:"integration_id"`
	IntegrationName string `json:"integration_name"`
	Kind            string `json:"kind"`
	Required        bool   `json:"required"`
	PATSupported    bool   `json:"pat_supported"`
	Status          string `json:"status"`
	// StatusReason says why, when gitrelay deleted the token (the
	// integration now points at another host).
	StatusReason string       `json:"status_reason,omitempty"`
	Account      *accountJSON `json:"account"`
	Scopes       []string     `json:"scopes"`
	ExpiresAt    *time.Time   `json:"expires_at"`
	NewTokenURL  string       `json:"new_token_url"`
	Help         string       `json:"help"`
}

func toTokenJSON(v action.TokenView) tokenJSON {
	t := tokenJSON{IntegrationID: v.IntegrationID, IntegrationName: v.IntegrationName, Kind: string(v.Kind),
		Required: v.Required, PATSupported: v.PATSupported, Status: string(v.Status), StatusReason: v.StatusReason, Scopes: []string{},
		ExpiresAt: v.ExpiresAt, NewTokenURL: v.NewTokenURL, Help: v.Help}
	if v.Account != nil {
		t.Account = &accountJSON{Login: v.Account.Login, Name: v.Account.Name}
		if v.Account.Scopes != nil {
			t.Scopes = v.Account.Scopes
		}
	}
	return t
}

type queuedJSON struct {
	ID               string    `json:"id"`
	Op               string    `json:"op"`
	UpdateSequenceID int64     `json:"update_sequence_id"`
	Attempts         int       `json:"attempts"`
	NextAttemptAt    time.Time `json:"next_attempt_at"`
	LastError        string    `json:"last_error"`
	QueuedAt         time.Time `json:"queued_at"`
}

type failureJSON struct {
	At           time.Time `json:"at"`
	EntityType   string    `json:"entity_type"`
	EntityID     string    `json:"entity_id"`
	RepositoryID string    `json:"repository_id"`
	IssueKeys    []string  `json:"issue_keys"`
	Reason       string    `json:"reason"`
}

type devinfoStatusJSON struct {
	Queued   []queuedJSON  `json:"queued"`
	Failures []failureJSON `json:"failures"`
}

// statusOf maps a domain error code to an HTTP status, as every HTTP edge
// of gitrelay does, so that the Forge panel and gitrelay's pages see the
// same answers.
func statusOf(code string) int { return httperr.Status(code) }

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

// writeError answers with the error's status and safe message. Only
// internal and upstream errors are logged; causes are never sent.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := relay.ErrorCode(err)
	body := errorBody{Code: code, Message: relay.ErrorMessage(err)}
	if e, ok := relay.AsError(err); ok {
		body.Fields, body.SetupURL, body.NewTokenURL, body.URL, body.Scope = e.Fields, e.SetupURL, e.NewTokenURL, e.URL, e.Scope
		if code == relay.ECredentialRejected || code == relay.EScopeMissing {
			body.Code = relay.EHostError
		}
		if e.RetryAfter > 0 {
			secs := int(e.RetryAfter.Seconds() + 0.999)
			body.RetryAfter = secs
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	status := statusOf(code)
	if status >= 500 {
		level := slog.LevelWarn
		if status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "Forge invocation failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
