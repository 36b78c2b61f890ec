package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// SessionCookie names the session cookie. It holds a random token; the
// database keeps only its SHA-256 hash.
const SessionCookie = "gitrelay_session"

// CSRFHeader carries the CSRF token on unsafe API calls made by the pages'
// script.
const CSRFHeader = "X-CSRF-Token"

// csrfToken derives the session's CSRF token from its secret token: only
// someone who holds the cookie's value (the browser) can know it, and
// nothing more needs storing.
func csrfToken(sessionToken string) string {
	sum := sha256.Sum256([]byte("gitrelay csrf\x00" + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// csrfMatches compares a CSRF token sent with a request to the session's,
// in constant time, so that the comparison leaks nothing of the token.
func csrfMatches(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// External is a directory of users who sign in somewhere other than
// gitrelay's login form (Jira users, with Sign in with Atlassian). Their
// sessions belong to tenants other than the built-in one and they have no
// user row, so the pages ask External who they are, and run each of their
// requests with the context External prepares (it carries what permission
// checks need, e.g. the user's Jira token).
type External interface {
	// Principal returns the user of a session of tenantID. ENotFound or
	// EUnauthenticated mean the session no longer stands (signed out
	// elsewhere, the site disconnected, the grant withdrawn).
	Principal(ctx context.Context, tenantID, userID string) (relay.Principal, error)
	// UserContext returns ctx prepared for a request made as p.
	UserContext(ctx context.Context, p relay.Principal) (context.Context, error)
	// SignOut ends what External keeps for p's sign-in.
	SignOut(ctx context.Context, p relay.Principal) error
	// SignInLink is the login page's link to External's sign-in, which
	// comes back to returnTo, and the link's label.
	SignInLink(returnTo string) (label, href string)
}

// viewer resolves the request's session cookie; nil when not signed in.
// The context returned is the one the request must run with: for a
// session of an external user it carries what External prepared.
func (p *Pages) viewer(r *http.Request) (*viewer, context.Context, error) {
	ctx := r.Context()
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, ctx, nil
	}
	hash := directory.HashToken(c.Value)
	s, err := p.c.Store.Session(ctx, hash)
	if relay.ErrorCode(err) == relay.ENotFound {
		return nil, ctx, nil
	}
	if err != nil {
		return nil, ctx, err
	}
	if s.TenantID != p.c.TenantID {
		if p.c.External == nil {
			// Only the built-in tenant has user rows: a session of any
			// other tenant stands only through its own directory.
			return nil, ctx, nil
		}
		return p.externalViewer(ctx, s, hash, c.Value)
	}
	u, err := p.c.DirStore.User(ctx, s.TenantID, s.UserID)
	if relay.ErrorCode(err) == relay.ENotFound {
		// The user was deleted: the session means nothing any more.
		return nil, ctx, nil
	}
	if err != nil {
		return nil, ctx, err
	}
	return &viewer{P: directory.Principal(u), Hash: hash, CSRF: csrfToken(c.Value)}, ctx, nil
}

// externalViewer resolves a session of a user of External. The tenant is
// the session's, fixed when it was created: nothing in the request can
// move it to another tenant.
func (p *Pages) externalViewer(ctx context.Context, s store.Session, hash []byte, token string) (*viewer, context.Context, error) {
	pr, err := p.c.External.Principal(ctx, s.TenantID, s.UserID)
	if code := relay.ErrorCode(err); code == relay.ENotFound || code == relay.EUnauthenticated {
		// Signed out elsewhere, or the grant is gone: the user signs in
		// again, as with a deleted built-in user.
		return nil, ctx, nil
	}
	if err != nil {
		return nil, ctx, err
	}
	if pr.TenantID != s.TenantID || pr.UserID != s.UserID {
		// Never let the directory's answer move a session to another
		// tenant or user.
		return nil, ctx, relay.Errorf(relay.EInternal, "The session's user could not be confirmed. Sign in again.")
	}
	uctx, err := p.c.External.UserContext(ctx, pr)
	if code := relay.ErrorCode(err); code == relay.ENotFound || code == relay.EUnauthenticated {
		return nil, ctx, nil
	}
	if err != nil {
		return nil, ctx, err
	}
	return &viewer{P: pr, Hash: hash, CSRF: csrfToken(token), External: true}, uctx, nil
}

// APIPrincipal lets the JSON API accept a signed-in browser. ok is false
// when the request carries no valid session. Unsafe methods must also send
// the session's CSRF token in the X-CSRF-Token header, which another site
// cannot read or forge. The API request must run with the returned
// context: for an external user's session (a Jira user) it carries what
// permission checks need.
func (p *Pages) APIPrincipal(r *http.Request) (ctx context.Context, pr relay.Principal, ok bool, err error) {
	v, ctx, err := p.viewer(r)
	if err != nil || v == nil {
		return r.Context(), relay.Principal{}, false, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !csrfMatches(r.Header.Get(CSRFHeader), v.CSRF) {
			return r.Context(), relay.Principal{}, false, relay.Errorf(relay.EForbidden,
				"Requests from the browser must carry the page's CSRF token in the X-CSRF-Token header. Reload the page and try again.")
		}
	}
	return ctx, v.P, true, nil
}

func (p *Pages) secure(r *http.Request) bool {
	return p.c.SecureCookies || r.TLS != nil
}

func (p *Pages) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure(r), SameSite: http.SameSiteLaxMode})
}

type loginData struct {
	Username string
	Next     string
	// External is the link to the external sign-in (Sign in with
	// Atlassian), offered next to the form; nil without one.
	External *signInLink
}

type signInLink struct {
	Label, URL string
}

func (p *Pages) loginData(username, next string) loginData {
	d := loginData{Username: username, Next: next}
	if p.c.External != nil {
		label, href := p.c.External.SignInLink(orDefault(next, "/"))
		d.External = &signInLink{Label: label, URL: href}
	}
	return d
}

// LoginForm shows the sign-in form.
func (p *Pages) LoginForm(w http.ResponseWriter, r *http.Request) error {
	next := httpx.LocalPath(r.URL.Query().Get("next"))
	if viewerFrom(r.Context()) != nil {
		redirect(w, r, orDefault(next, "/"))
		return nil
	}
	p.render(w, r, http.StatusOK, "login", "Sign in", p.loginData("", next), nil, "")
	return nil
}

// Login checks the password and starts a session.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	username := strings.TrimSpace(r.PostFormValue("username"))
	next := httpx.LocalPath(r.PostFormValue("next"))
	addr := p.c.ClientAddr.Addr(r)
	until, blocked, err := p.throttle.blocked(r.Context(), addr, username)
	if err != nil {
		return err
	}
	if blocked {
		wait := int(until.Sub(p.now()).Minutes()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(wait*60))
		p.render(w, r, http.StatusTooManyRequests, "login", "Sign in", p.loginData(username, next),
			&pageError{Message: fmt.Sprintf("Too many wrong passwords for %s from your address. Try again in %d minutes, or ask an administrator to reset your password.", username, wait)}, "")
		return nil
	}
	u, err := p.c.Directory.CheckPassword(r.Context(), p.c.TenantID, username, r.PostFormValue("password"))
	if relay.ErrorCode(err) == relay.EUnauthenticated {
		if err := p.throttle.fail(r.Context(), addr, username); err != nil {
			return err
		}
		p.render(w, r, http.StatusUnauthorized, "login", "Sign in", p.loginData(username, next),
			&pageError{Message: "Wrong username or password. Check both and try again; an administrator can reset your password."}, "")
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.throttle.succeed(r.Context(), addr, username); err != nil {
		return err
	}
	if err := p.startSession(w, r, u.TenantID, u.ID); err != nil {
		return err
	}
	redirect(w, r, orDefault(next, "/"))
	return nil
}

// SignedIn starts a session for a user the external directory signed in
// (Sign in with Atlassian calls it from its callback): the first principal
// is the one whose tenant the user came from. The session's tenant is fixed
// here; nothing the browser sends later changes it.
func (p *Pages) SignedIn(w http.ResponseWriter, r *http.Request, principals []relay.Principal, returnTo string) {
	setPageHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	if p.c.External == nil || len(principals) == 0 {
		p.renderError(w, r, relay.Errorf(relay.EInternal, "gitrelay could not start your session. Sign in again."))
		return
	}
	pr := principals[0]
	if pr.TenantID == "" || pr.UserID == "" || pr.TenantID == p.c.TenantID {
		// Users of the built-in directory sign in with their password
		// only; an external sign-in never opens a session there.
		p.renderError(w, r, relay.Errorf(relay.EInternal, "gitrelay could not start your session. Sign in again."))
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		// The browser's previous session (perhaps another user's) ends
		// rather than lingering until it expires.
		if err := p.c.Store.DeleteSession(r.Context(), directory.HashToken(c.Value)); err != nil {
			p.renderError(w, r, err)
			return
		}
	}
	if err := p.startSession(w, r, pr.TenantID, pr.UserID); err != nil {
		p.renderError(w, r, err)
		return
	}
	redirect(w, r, orDefault(httpx.LocalPath(returnTo), "/"))
}

// startSession stores a new session of the user and sets its cookie.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, tenantID, userID string) error {
	// A fresh token at every sign-in: a token planted before sign-in
	// (session fixation) is never promoted.
	token := directory.RandomSecret(32)
	now := p.now()
	err := p.c.Store.CreateSession(r.Context(), store.Session{TokenHash: directory.HashToken(token),
		TenantID: tenantID, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(p.c.SessionLifetime)})
	if err != nil {
		return err
	}
	// Signing in is rare enough to carry the sweep of expired sessions, so
	// that no background job is needed; a failed sweep only delays it.
	if _, err := p.c.Store.DeleteExpiredSessions(r.Context()); err != nil {
		p.log.WarnContext(r.Context(), "sweeping expired sessions", "err", err)
	}
	if _, err := p.c.Store.DeleteExpiredFlashes(r.Context()); err != nil {
		p.log.WarnContext(r.Context(), "sweeping expired page messages", "err", err)
	}
	p.setSessionCookie(w, r, token, int(p.c.SessionLifetime.Seconds()))
	return nil
}

// Logout ends the session. For an external user it also ends the sign-in
// behind it (for Jira users, the Atlassian grant of that site), which
// every browser session of the user on that site shares: all of them end.
func (p *Pages) Logout(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if v.External {
		if err := p.c.External.SignOut(r.Context(), v.P); err != nil {
			return err
		}
		if err := p.c.Store.DeleteUserSessions(r.Context(), v.P.TenantID, v.P.UserID, nil); err != nil {
			return err
		}
	}
	if err := p.c.Store.DeleteSession(r.Context(), v.Hash); err != nil {
		return err
	}
	p.setSessionCookie(w, r, "", -1)
	redirect(w, r, "/login?"+url.Values{"signed_out": {"1"}}.Encode())
	return nil
}

// PasswordForm shows the change-password form.
func (p *Pages) PasswordForm(w http.ResponseWriter, r *http.Request) error {
	if err := noPassword(viewerFrom(r.Context())); err != nil {
		return err
	}
	fl := p.takeFlash(r)
	p.render(w, r, fl.status(), "password", "Change password", nil, fl.Error, fl.Notice)
	return nil
}

// ChangePassword checks the current password and sets a new one, signing
// out every other session of the user.
func (p *Pages) ChangePassword(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if err := noPassword(v); err != nil {
		return err
	}
	fail := func(field, msg string) error {
		return p.redirectWith(w, r, "/settings/password", flash{Status: http.StatusUnprocessableEntity,
			Error: &pageError{Message: msg, Fields: map[string]string{field: msg}}})
	}
	if _, err := p.c.Directory.CheckPassword(r.Context(), v.P.TenantID, v.P.Username, r.PostFormValue("current")); err != nil {
		if relay.ErrorCode(err) == relay.EUnauthenticated {
			return fail("current", "Your current password is not right. Type it again.")
		}
		return err
	}
	if r.PostFormValue("new") != r.PostFormValue("confirm") {
		return fail("confirm", "The two new passwords differ. Type the same password twice.")
	}
	if err := p.c.Directory.SetPassword(r.Context(), v.P.TenantID, v.P.UserID, r.PostFormValue("new")); err != nil {
		if e, ok := relay.AsError(err); ok && e.Code == relay.EInvalid {
			return fail("new", e.Fields["password"])
		}
		return err
	}
	if err := p.c.Store.DeleteUserSessions(r.Context(), v.P.TenantID, v.P.UserID, v.Hash); err != nil {
		return err
	}
	return p.redirectWith(w, r, "/settings/password", flash{Notice: "Your password was changed. Other browsers where you were signed in are signed out."})
}

// noPassword refuses the password pages to users who signed in through the
// external directory: gitrelay holds no password of theirs.
func noPassword(v *viewer) error {
	if v != nil && v.External {
		return relay.Errorf(relay.EForbidden,
			"You signed in with an external account (such as Atlassian), so gitrelay has no password of yours: your site's users come from there. Change your password where that account is managed.")
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
