// Package web is gitrelay's browser front-end: server-rendered pages
// (html/template, embedded and parsed once at start), browser sessions kept
// in the database, CSRF protection and the security headers every page
// carries. internal/server owns the URL surface and mounts these handlers
// from routes.go.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/clientip"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Store is what the pages keep of their own: sessions and preferences.
type Store interface {
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, tokenHash []byte) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteUserSessions(ctx context.Context, tenantID, userID string, keep []byte) error
	DeleteExpiredSessions(ctx context.Context) (int64, error)
	RepoDefault(ctx context.Context, tenantID, userID, projectKey string) (store.RepoDefault, error)
	PutRepoDefault(ctx context.Context, d store.RepoDefault) error
	// The sign-in throttle's counts, shared by every replica.
	SignInFailures(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration) (store.SignInFailures, error)
	RecordSignInFailure(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration, addressLimit int) error
	ForgetSignInFailures(ctx context.Context, tenantID, address, username string) error
	// Page messages across a redirect (flash.go).
	PutFlash(ctx context.Context, f store.Flash) error
	TakeFlash(ctx context.Context, sessionHash []byte, path string) (store.Flash, error)
	DeleteExpiredFlashes(ctx context.Context) (int64, error)
	// Names of cached repositories and of users, for the audit log.
	RepositoryNames(ctx context.Context, tenantID string, repositoryIDs []string) (map[string]string, error)
	User(ctx context.Context, tenantID, id string) (relay.User, error)
}

// Demo describes the demo's simulated hosts for the banner and landing page.
type Demo struct {
	// Issues are issue keys (with summaries) the landing page links to.
	Issues []DemoIssue
	// Hosts name the simulated hosts and where the browser reaches them.
	Hosts []DemoHost
}

// DemoIssue is an issue the demo landing page links to.
type DemoIssue struct {
	Key, Summary, Type string
}

// DemoHost is one simulated git host of the demo.
type DemoHost struct {
	Name, URL string
}

// Config is what the pages need.
type Config struct {
	Actions   *action.Service
	Directory *directory.Service
	DirStore  directory.Store
	Store     Store
	Hosts     relay.Hosts
	Kinds     []relay.Kind
	TenantID  string
	Logger    *slog.Logger
	// SecureCookies marks cookies Secure even on plain-HTTP requests: set
	// it when gitrelay is reached over https through a proxy.
	SecureCookies bool
	// SessionLifetime bounds a session (default 12 hours).
	SessionLifetime time.Duration
	Now             func() time.Time
	// Demo, when set, shows the demo banner and landing page.
	Demo *Demo
	// External, when set, resolves the sessions of every tenant other
	// than TenantID (Jira users signed in with Atlassian), and the login
	// page offers its sign-in next to the password form.
	External External
	// ClientAddr tells the client's address (sign-in throttling); its
	// zero value trusts no proxy.
	ClientAddr clientip.Resolver
	// Webhooks, when set, shows each integration's webhook (URL and
	// secret) to administrators on its page, with a Rotate button.
	Webhooks *webhook.Service
}

// Pages serves the HTML front-end.
type Pages struct {
	c         Config
	log       *slog.Logger
	now       func() time.Time
	templates map[string]*template.Template
	static    http.Handler
	staticFS  fs.FS
	xorigin   *http.CrossOriginProtection
	throttle  *throttle
	// secret names the form fields never kept in a flash (secretFields).
	secret map[string]bool
}

// New parses the embedded templates. A template that does not parse is a
// start-up failure, never a runtime one.
func New(c Config) (*Pages, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TenantID == "" {
		c.TenantID = relay.LocalTenant
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	p := &Pages{c: c, log: c.Logger, now: c.Now, templates: map[string]*template.Template{}, throttle: newThrottle(c.Store, c.TenantID, c.Now)}
	p.secret = p.secretFields()
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", base, err)
		}
		p.templates[base] = t
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	p.staticFS = sub
	p.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	p.xorigin = http.NewCrossOriginProtection()
	return p, nil
}

var funcs = template.FuncMap{
	"fieldIn": fieldIn,
	"lower":   strings.ToLower,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"join":         strings.Join,
	"bytes":        byteSize,
	"list":         func(s ...string) []string { return s },
	"auditActions": func() []string { return relay.AuditActions },
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// PageFunc is a page handler; a returned error is rendered as a page that
// says what happened and what to do next.
type PageFunc func(w http.ResponseWriter, r *http.Request) error

// Access levels of a page.
const (
	Public = ""
	User   = "user"
	Admin  = "admin"
	// Asset is public and needs no session (stylesheet, script).
	Asset = "asset"
)

type ctxKey int

const viewerKey ctxKey = 0

// viewer is the signed-in user of a request.
type viewer struct {
	P    relay.Principal
	Hash []byte
	CSRF string
	// External: the user signed in through Config.External, not with a
	// password of the built-in directory.
	External bool
}

func viewerFrom(ctx context.Context) *viewer {
	v, _ := ctx.Value(viewerKey).(*viewer)
	return v
}

// Handle wraps a page with its access check, CSRF protection, security
// headers and error rendering.
func (p *Pages) Handle(access string, h PageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		if err := p.xorigin.Check(r); err != nil {
			p.renderError(w, r, relay.Errorf(relay.EForbidden,
				"This form was sent from another site, so gitrelay refused it. Open gitrelay directly and try again."))
			return
		}
		if access == Asset {
			if err := h(w, r); err != nil {
				p.renderError(w, r, err)
			}
			return
		}
		v, ctx, err := p.viewer(r)
		if err != nil {
			p.renderError(w, r, err)
			return
		}
		if v != nil {
			httpx.NoteUser(ctx, v.P.TenantID, v.P.UserID)
			// ctx carries, for an external user, what permission checks
			// need (the user's Jira token): every call the page makes
			// runs with it.
			r = r.WithContext(context.WithValue(ctx, viewerKey, v))
		}
		if access != Public && v == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
				return
			}
			p.renderError(w, r, relay.Errorf(relay.EUnauthenticated, "Your session has ended. Sign in again, then repeat what you were doing."))
			return
		}
		if access == Admin && !v.P.Admin {
			p.renderError(w, r, relay.Errorf(relay.EForbidden, "Only administrators can open this page. Ask an administrator if you need a change here."))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && v != nil {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
			if !csrfMatches(r.PostFormValue("csrf"), v.CSRF) {
				p.renderError(w, r, relay.Errorf(relay.EForbidden,
					"This form has expired (its security token does not match your session). Reload the page and submit it again."))
				return
			}
		}
		if err := h(w, r); err != nil {
			p.renderError(w, r, err)
		}
	})
}

// Static serves the embedded stylesheet and script: files only, never a
// listing of a directory.
func (p *Pages) Static(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if fi, err := fs.Stat(p.staticFS, name); name == "" || strings.HasSuffix(name, "/") || err != nil || fi.IsDir() {
		return relay.Errorf(relay.ENotFound, "There is no file at %s.", r.URL.Path)
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	p.static.ServeHTTP(w, r)
	return nil
}

// contentSecurityPolicy allows only gitrelay's own scripts, styles and
// images: no inline script, no framing, forms post only to gitrelay.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// page is the data every template gets.
type page struct {
	Title  string
	Viewer *relay.Principal
	CSRF   string
	Demo   *Demo
	Notice string
	Error  *pageError
	Data   any
	// RequestID is the request's X-Request-ID, shown on error pages so
	// that a user can quote it and an operator find its log lines.
	RequestID string
}

// pageError is an error as a page shows it.
type pageError struct {
	Code        string
	Message     string
	Fields      map[string]string
	SetupURL    string
	NewTokenURL string
	URL         string
	// For is what the error belongs to on the page (an integration id).
	For string
}

func toPageError(err error) *pageError {
	if err == nil {
		return nil
	}
	pe := &pageError{Code: relay.ErrorCode(err), Message: relay.ErrorMessage(err)}
	if e, ok := relay.AsError(err); ok {
		pe.Fields, pe.SetupURL, pe.NewTokenURL, pe.URL = e.Fields, e.SetupURL, e.NewTokenURL, e.URL
	}
	return pe
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, perr *pageError, notice string) {
	t, ok := p.templates[name]
	if !ok {
		// Templates are checked at start; reaching this is a programming error.
		panic("web: no template " + name)
	}
	pg := page{Title: title, Demo: p.c.Demo, Notice: notice, Error: perr, Data: data, RequestID: httpx.RequestID(r.Context())}
	if v := viewerFrom(r.Context()); v != nil {
		pg.Viewer, pg.CSRF = &v.P, v.CSRF
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, pg); err != nil {
		p.log.ErrorContext(r.Context(), "rendering page", "template", name, "err", err)
		http.Error(w, "gitrelay could not render this page. Reload it; if it keeps failing, tell your administrator.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError shows an error page. Only internal errors are logged; their
// causes never reach the browser.
func (p *Pages) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := relay.ErrorCode(err)
	status := httperr.Status(code)
	if e, ok := relay.AsError(err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if status >= 500 {
		p.log.ErrorContext(r.Context(), "page failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	title := "Something went wrong"
	switch code {
	case relay.EUnauthenticated:
		title = "Sign in required"
	case relay.EForbidden:
		title = "Not allowed"
	case relay.ENotFound:
		title = "Not found"
	}
	p.render(w, r, status, "error", title, nil, toPageError(err), "")
}

// NotFound is the page for unknown URLs.
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) error {
	return relay.Errorf(relay.ENotFound, "There is no page at %s. Use the links at the top of the page.", r.URL.Path)
}

// redirect answers a successful form with a redirect (so reloading the
// page does not send the form again).
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// byteSize is a size for people: 512 B, 3.4 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
