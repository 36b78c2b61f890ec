// Package server is gitrelay's HTTP edge: the URL surface (routes.go),
// authentication, the JSON API, error translation (errors.go) and
// operational endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/web"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// Config is what the server needs.
type Config struct {
	Actions   *action.Service
	Directory *directory.Service
	Hosts     relay.Hosts
	Kinds     []relay.Kind
	// TenantID is the built-in directory's tenant.
	TenantID string
	Logger   *slog.Logger
	Metrics  *Metrics
	// Ready reports whether dependencies (the database) answer.
	Ready   func(ctx context.Context) error
	Version string
	// Web serves the HTML pages; nil serves the JSON API only.
	Web *web.Pages
	// JiraRoutes are the Forge remote endpoints and Sign in with Atlassian
	// (internal/jira); empty without Jira.
	JiraRoutes []jira.Route
	// Webhooks receives git hosts' deliveries at /hooks/{integration_id}
	// and serves the webhook API; nil serves neither.
	Webhooks *webhook.Service
	// HSTS makes every answer carry Strict-Transport-Security: set it when
	// the public URL is https, so browsers never reach gitrelay over plain
	// HTTP again.
	HSTS bool
	// MetricsElsewhere leaves GET /metrics out of the handler: the metrics
	// are served on a listener of their own (--metrics-addr).
	MetricsElsewhere bool
}

// Server serves gitrelay over HTTP.
type Server struct {
	actions  *action.Service
	dir      *directory.Service
	hosts    relay.Hosts
	kindList []relay.Kind
	tenant   string
	log      *slog.Logger
	metrics  *Metrics
	ready    func(ctx context.Context) error
	version  string
	web      *web.Pages
	jira     []jira.Route
	hooks    *webhook.Service
	handler  http.Handler
	// publicMetrics serves GET /metrics on the handler (the default).
	publicMetrics bool
}

// New builds the server and its routes.
func New(c Config) *Server {
	s := &Server{actions: c.Actions, dir: c.Directory, hosts: c.Hosts, kindList: c.Kinds,
		tenant: c.TenantID, log: c.Logger, metrics: c.Metrics, ready: c.Ready, version: c.Version, web: c.Web,
		jira: c.JiraRoutes, publicMetrics: !c.MetricsElsewhere, hooks: c.Webhooks}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = slog.New(httpx.LogHandler(s.log.Handler()))
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if s.tenant == "" {
		s.tenant = relay.LocalTenant
	}
	s.metrics.setBuildInfo(c.Version)
	s.handler = s.observe(s.recoverer(securityHeaders(s.mux(), c.HSTS)))
	return s
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Links builds gitrelay's own URLs for the action layer.
type Links struct {
	// Base is the public URL gitrelay is reached at; empty gives relative
	// links.
	Base string
}

// SetupURL is the User settings entry for an integration, returning to the
// issue afterwards.
//
// The development panel builds one per integration on every read, so the
// query is written directly rather than through url.Values (the same
// text: keys in order, values query-escaped).
func (l Links) SetupURL(integrationID, issueKey string) string {
	base := strings.TrimRight(l.Base, "/")
	id := url.QueryEscape(integrationID)
	var b strings.Builder
	b.Grow(len(base) + len("/settings/tokens?integration=&return_to=%2Fissues%2F#integration-") +
		len(id) + 2*len(issueKey) + len(integrationID))
	b.WriteString(base)
	b.WriteString("/settings/tokens?integration=")
	b.WriteString(id)
	if issueKey != "" {
		b.WriteString("&return_to=%2Fissues%2F")
		b.WriteString(url.QueryEscape(issueKey))
	}
	b.WriteString("#integration-")
	b.WriteString(integrationID)
	return b.String()
}

type ctxKey int

const principalKey ctxKey = 0

func principalFrom(ctx context.Context) relay.Principal {
	p, _ := ctx.Value(principalKey).(relay.Principal)
	return p
}

// apiFunc is a JSON handler; a returned error is written by httpx.WriteError.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api wraps a JSON handler with authentication and error writing.
func (s *Server) api(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.auth == "user" || rt.auth == "issue" {
			ctx, p, err := s.authenticate(r, rt.auth == "issue")
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gitrelay"`)
				httpx.WriteError(w, r, s.log, err)
				return
			}
			httpx.NoteUser(ctx, p.TenantID, p.UserID)
			r = r.WithContext(context.WithValue(ctx, principalKey, p))
		}
		r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
		if err := rt.handler(w, r); err != nil {
			if relay.ErrorCode(err) == relay.EUnauthenticated {
				// The token's check was made with the request's first read.
				w.Header().Set("WWW-Authenticate", `Bearer realm="gitrelay"`)
			}
			httpx.WriteError(w, r, s.log, err)
		}
	})
}

// authenticate accepts an API token, or a signed-in browser session (with
// the CSRF header on unsafe methods) so that the pages' script can call
// the API. The request runs with the returned context: a Jira user's
// browser session brings the user's Jira token for permission checks.
// onIssue says the request is on the issue its path names and checks the
// API token with its first database read (route auth "issue").
func (s *Server) authenticate(r *http.Request, onIssue bool) (context.Context, relay.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" && s.web != nil {
		ctx, p, ok, err := s.web.APIPrincipal(r)
		if err != nil {
			return r.Context(), relay.Principal{}, err
		}
		if ok {
			return ctx, p, nil
		}
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return r.Context(), relay.Principal{}, relay.Errorf(relay.EUnauthenticated,
			"Send an API token as 'Authorization: Bearer <token>'. Create one with `gitrelay users api-token USERNAME`.")
	}
	token = strings.TrimSpace(token)
	if onIssue {
		project := ""
		if _, pr, err := httpx.IssueKey(r); err == nil {
			project = pr
		}
		return s.dir.AuthenticateTokenChecked(r.Context(), token, project)
	}
	p, err := s.dir.AuthenticateToken(r.Context(), token)
	return r.Context(), p, err
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) error {
	return relay.Errorf(relay.ENotFound, "No API route %s %s. See /api/v1/openapi.json for the routes.", r.Method, r.URL.Path)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database is not answering"})
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The panic value and stack may hold anything; they go to
				// the log only, with the stack, never to the client.
				s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
				httpx.WriteError(w, r, s.log, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// hstsValue is a year: the public URL is meant to stay https.
const hstsValue = "max-age=31536000"

func securityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
