package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/directory"
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

// viewer resolves the request's session cookie; nil when not signed in.
func (p *Pages) viewer(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	hash := directory.HashToken(c.Value)
	s, err := p.c.Store.Session(r.Context(), hash)
	if relay.ErrorCode(err) == relay.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := p.c.DirStore.User(r.Context(), s.TenantID, s.UserID)
	if relay.ErrorCode(err) == relay.ENotFound {
		// The user was deleted: the session means nothing any more.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &viewer{P: directory.Principal(u), Hash: hash, CSRF: csrfToken(c.Value)}, nil
}

// APIPrincipal lets the JSON API accept a signed-in browser. ok is false
// when the request carries no valid session. Unsafe methods must also send
// the session's CSRF token in the X-CSRF-Token header, which another site
// cannot read or forge.
func (p *Pages) APIPrincipal(r *http.Request) (pr relay.Principal, ok bool, err error) {
	v, err := p.viewer(r)
	if err != nil || v == nil {
		return relay.Principal{}, false, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
			return relay.Principal{}, false, relay.Errorf(relay.EForbidden,
				"Requests from the browser must carry the page's CSRF token in the X-CSRF-Token header. Reload the page and try again.")
		}
	}
	return v.P, true, nil
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
}

// LoginForm shows the sign-in form.
func (p *Pages) LoginForm(w http.ResponseWriter, r *http.Request) error {
	next := localPath(r.URL.Query().Get("next"))
	if viewerFrom(r.Context()) != nil {
		redirect(w, r, orDefault(next, "/"))
		return nil
	}
	p.render(w, r, http.StatusOK, "login", "Sign in", loginData{Next: next}, nil, "")
	return nil
}

// Login checks the password and starts a session.
func (p *Pages) Login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	username := strings.TrimSpace(r.PostFormValue("username"))
	next := localPath(r.PostFormValue("next"))
	u, err := p.c.Directory.CheckPassword(r.Context(), p.c.TenantID, username, r.PostFormValue("password"))
	if relay.ErrorCode(err) == relay.EUnauthenticated {
		p.render(w, r, http.StatusUnauthorized, "login", "Sign in", loginData{Username: username, Next: next},
			&pageError{Message: "Wrong username or password. Check both and try again; an administrator can reset your password."}, "")
		return nil
	}
	if err != nil {
		return err
	}
	// A fresh token at every sign-in: a token planted before sign-in
	// (session fixation) is never promoted.
	token := directory.RandomSecret(32)
	now := p.now()
	err = p.c.Store.CreateSession(r.Context(), store.Session{TokenHash: directory.HashToken(token),
		TenantID: u.TenantID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(p.c.SessionLifetime)})
	if err != nil {
		return err
	}
	// Signing in is rare enough to carry the sweep of expired sessions, so
	// that no background job is needed; a failed sweep only delays it.
	if _, err := p.c.Store.DeleteExpiredSessions(r.Context()); err != nil {
		p.log.Warn("sweeping expired sessions", "err", err)
	}
	p.setSessionCookie(w, r, token, int(p.c.SessionLifetime.Seconds()))
	redirect(w, r, orDefault(next, "/"))
	return nil
}

// Logout ends the session.
func (p *Pages) Logout(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if err := p.c.Store.DeleteSession(r.Context(), v.Hash); err != nil {
		return err
	}
	p.setSessionCookie(w, r, "", -1)
	redirect(w, r, "/login?"+url.Values{"signed_out": {"1"}}.Encode())
	return nil
}

// PasswordForm shows the change-password form.
func (p *Pages) PasswordForm(w http.ResponseWriter, r *http.Request) error {
	notice := ""
	if r.URL.Query().Get("changed") == "1" {
		notice = "Your password was changed. Other browsers where you were signed in are signed out."
	}
	p.render(w, r, http.StatusOK, "password", "Change password", nil, nil, notice)
	return nil
}

// ChangePassword checks the current password and sets a new one, signing
// out every other session of the user.
func (p *Pages) ChangePassword(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	fail := func(field, msg string) error {
		p.render(w, r, http.StatusUnprocessableEntity, "password", "Change password", nil,
			&pageError{Message: msg, Fields: map[string]string{field: msg}}, "")
		return nil
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
	redirect(w, r, "/settings/password?changed=1")
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
