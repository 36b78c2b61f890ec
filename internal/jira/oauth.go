package jira

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// Atlassian's OAuth 2.0 (3LO) and platform API defaults.
const (
	DefaultAuthURL = "https://auth.atlassian.com"
	DefaultAPIURL  = "https://api.atlassian.com"
)

// signInScopes: who the user is (read:me), their Jira permissions and
// issues (read:jira-user, read:jira-work), and a refresh token so that later
// requests of the same session can still ask Jira (offline_access).
const signInScopes = "read:me read:jira-user read:jira-work offline_access"

// oauthCookie carries the state, the PKCE verifier and where to return
// between the start of the sign-in and its callback.
const oauthCookie = "gitrelay_atlassian_signin"

// SignInConfig is what Sign in with Atlassian needs.
type SignInConfig struct {
	// ClientID and ClientSecret are the OAuth 2.0 (3LO) app's credentials
	// from the Atlassian developer console.
	ClientID     string
	ClientSecret string
	// PublicURL is gitrelay's public URL; the callback is
	// PublicURL + "/auth/atlassian/callback".
	PublicURL string
	// AuthURL and APIURL default to Atlassian's.
	AuthURL    string
	APIURL     string
	Store      Store
	Sealer     relay.Sealer
	Directory  *Directory
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// OnSignedIn is called by the callback once the user is known: the web
	// layer starts its session for one of the principals (one per Jira
	// site of the user that installed gitrelay; the site the sign-in was
	// started for comes first) and redirects to returnTo. When nil, the
	// callback redirects to returnTo without a session.
	OnSignedIn func(w http.ResponseWriter, r *http.Request, principals []relay.Principal, returnTo string)
}

// SignIn is Sign in with Atlassian: OAuth 2.0 authorization code with PKCE
// and state, for pages users reach from Jira without a token (Jira's
// Create branch button).
type SignIn struct {
	c     SignInConfig
	jira  *client
	mu    sync.Mutex
	cache map[grantKey]accessToken
}

type grantKey struct{ tenant, account string }

type accessToken struct {
	token   string
	apiBase string
	expires time.Time
}

// NewSignIn builds the sign-in flow.
func NewSignIn(c SignInConfig) *SignIn {
	if c.AuthURL == "" {
		c.AuthURL = DefaultAuthURL
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.AuthURL, c.APIURL, c.PublicURL = strings.TrimRight(c.AuthURL, "/"), strings.TrimRight(c.APIURL, "/"), strings.TrimRight(c.PublicURL, "/")
	return &SignIn{c: c, jira: &client{http: c.HTTPClient}, cache: map[grantKey]accessToken{}}
}

// Routes are the sign-in's URLs.
func (s *SignIn) Routes() []Route {
	return []Route{
		{"GET", "/auth/atlassian/start", http.HandlerFunc(s.Start)},
		{"GET", "/auth/atlassian/callback", http.HandlerFunc(s.Callback)},
	}
}

func (s *SignIn) redirectURL() string { return s.c.PublicURL + "/auth/atlassian/callback" }

type signInState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Site     string `json:"t"`
	Expires  int64  `json:"e"`
}

// signInStateOwner binds a sealed sign-in state to its use: no other
// sealed secret of gitrelay opens as one.
const signInStateOwner = "jira-sign-in-state"

// maxStateCookie bounds what parseSignInState reads: a real state is a few
// hundred bytes.
const maxStateCookie = 4096

// sealSignInState seals st with the secret key ring (AES-256-GCM): the
// cookie can be neither read (it holds the PKCE verifier) nor forged
// without gitrelay's secret key, whatever the OAuth client secret is.
func sealSignInState(sealer relay.Sealer, st signInState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	sealed, err := sealer.Seal(b, signInStateOwner)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// parseSignInState opens a sign-in cookie's value and refuses it once
// expired at now.
func parseSignInState(sealer relay.Sealer, value string, now time.Time) (signInState, error) {
	if len(value) > maxStateCookie {
		return signInState{}, errors.New("sign-in cookie too long")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return signInState{}, errors.New("sign-in cookie is not base64url")
	}
	b, err := sealer.Open(sealed, signInStateOwner)
	if err != nil {
		return signInState{}, errors.New("sign-in cookie was not sealed by this gitrelay")
	}
	var st signInState
	if err := json.Unmarshal(b, &st); err != nil {
		return signInState{}, errors.New("sign-in cookie holds no state")
	}
	if st.State == "" || st.Verifier == "" {
		return signInState{}, errors.New("sign-in cookie holds no state")
	}
	if now.Unix() > st.Expires {
		return signInState{}, errors.New("sign-in expired")
	}
	return st, nil
}

// Start redirects to Atlassian's consent page. Query: return_to (a path on
// gitrelay, e.g. /issues/ABC-1) and optionally site (the Jira site URL or
// cloud id the user came from, to pick that site when they have several).
func (s *SignIn) Start(w http.ResponseWriter, r *http.Request) {
	st := signInState{State: randomToken(), Verifier: randomToken() + randomToken(),
		ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")), Site: r.URL.Query().Get("site"),
		Expires: s.c.Now().Add(10 * time.Minute).Unix()}
	value, err := sealSignInState(s.c.Sealer, st)
	if err != nil {
		s.c.Logger.ErrorContext(r.Context(), "sealing the sign-in state", "err", err)
		signInError(w, http.StatusInternalServerError, "gitrelay could not start the sign-in. Try again; if it keeps failing, tell your administrator.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: value, Path: "/auth/atlassian/",
		MaxAge: 600, HttpOnly: true, Secure: strings.HasPrefix(s.c.PublicURL, "https://"), SameSite: http.SameSiteLaxMode})
	challenge := sha256.Sum256([]byte(st.Verifier))
	q := url.Values{
		"audience": {"api.atlassian.com"}, "client_id": {s.c.ClientID}, "scope": {signInScopes},
		"redirect_uri": {s.redirectURL()}, "state": {st.State}, "response_type": {"code"}, "prompt": {"consent"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])}, "code_challenge_method": {"S256"},
	}
	http.Redirect(w, r, s.c.AuthURL+"/authorize?"+q.Encode(), http.StatusFound)
}

// Callback completes the sign-in: it checks state, exchanges the code (with
// the PKCE verifier), learns the account and the Jira sites it can reach,
// keeps the refresh token sealed for each of those sites that installed
// gitrelay, and hands the principals to OnSignedIn.
func (s *SignIn) Callback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: oauthCookie, Value: "", Path: "/auth/atlassian/", MaxAge: -1, HttpOnly: true})
	st, err := s.readState(r)
	if err != nil {
		s.c.Logger.WarnContext(r.Context(), "Atlassian sign-in refused", "reason", err.Error())
		signInError(w, http.StatusBadRequest, "The sign-in link expired or was not started here. Start again from Jira.")
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		signInError(w, http.StatusForbidden, "Atlassian did not grant access. Start again from Jira and allow gitrelay to read your Jira permissions.")
		return
	}
	principals, err := s.Complete(r.Context(), r.URL.Query().Get("code"), st.Verifier, st.Site)
	if err != nil {
		s.c.Logger.WarnContext(r.Context(), "Atlassian sign-in failed", "err", err)
		signInError(w, httperr.Status(relay.ErrorCode(err)), relay.ErrorMessage(err))
		return
	}
	if s.c.OnSignedIn != nil {
		s.c.OnSignedIn(w, r, principals, st.ReturnTo)
		return
	}
	http.Redirect(w, r, st.ReturnTo, http.StatusFound)
}

func (s *SignIn) readState(r *http.Request) (signInState, error) {
	ck, err := r.Cookie(oauthCookie)
	if err != nil {
		return signInState{}, errors.New("no sign-in cookie")
	}
	st, err := parseSignInState(s.c.Sealer, ck.Value, s.c.Now())
	if err != nil {
		return signInState{}, err
	}
	if q := r.URL.Query().Get("state"); q == "" || !constantTimeEqual(q, st.State) {
		return signInState{}, errors.New("state mismatch")
	}
	return st, nil
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

// Complete exchanges an authorization code and returns one principal per
// Jira site of the account where gitrelay is installed; site (a site URL or
// cloud id, may be empty) puts that site first or, when the account cannot
// reach it, refuses. It is Callback's work, usable by a web layer that
// runs its own callback.
func (s *SignIn) Complete(ctx context.Context, code, verifier, hint string) ([]relay.Principal, error) {
	if code == "" {
		return nil, relay.Errorf(relay.EInvalid, "The sign-in answer has no authorization code. Start again from Jira.")
	}
	var tok tokenAnswer
	_, err := s.jira.do(ctx, http.MethodPost, s.c.AuthURL+"/oauth/token", "", map[string]string{
		"grant_type": "authorization_code", "client_id": s.c.ClientID, "client_secret": s.c.ClientSecret,
		"code": code, "redirect_uri": s.redirectURL(), "code_verifier": verifier,
	}, &tok)
	if err != nil || tok.AccessToken == "" {
		return nil, &relay.Error{Code: relay.EUnauthenticated, Message: "Atlassian did not accept the sign-in. Start again from Jira.", Err: err}
	}
	var me struct {
		AccountID string `json:"account_id"`
		Name      string `json:"name"`
	}
	if _, err := s.jira.do(ctx, http.MethodGet, s.c.APIURL+"/me", tok.AccessToken, nil, &me); err != nil || me.AccountID == "" {
		return nil, &relay.Error{Code: relay.EUnauthenticated, Message: "Atlassian did not say who you are. Start again from Jira.", Err: err}
	}
	var sites []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if _, err := s.jira.do(ctx, http.MethodGet, s.c.APIURL+"/oauth/token/accessible-resources", tok.AccessToken, nil, &sites); err != nil {
		return nil, jiraError(err, "listing your Jira sites")
	}
	var out []relay.Principal
	// hinted: the site the sign-in was started for is among the user's
	// sites with gitrelay (Atlassian's list names each site's URL, which
	// the installation learns only from a later invocation).
	hinted := false
	for _, site := range sites {
		installs, err := s.c.Store.JiraInstallationsByCloud(ctx, site.ID)
		if err != nil {
			return nil, err
		}
		if len(installs) == 0 {
			continue
		}
		// The newest installation of the site is the live one.
		in := installs[len(installs)-1]
		p := relay.Principal{TenantID: in.TenantID, UserID: me.AccountID, Username: me.AccountID, DisplayName: me.Name}
		apiBase := s.c.APIURL + "/ex/jira/" + url.PathEscape(site.ID)
		admin, err := s.c.Directory.IsAdmin(WithUser(ctx, p, apiBase, tok.AccessToken), p)
		if err != nil {
			return nil, err
		}
		p.Admin = admin
		sealed, err := s.c.Sealer.Seal([]byte(tok.RefreshToken), store.JiraRefreshTokenOwner(in.TenantID, me.AccountID))
		if err != nil {
			return nil, err
		}
		if err := s.c.Store.PutJiraGrant(ctx, store.JiraGrant{TenantID: in.TenantID, AccountID: me.AccountID,
			DisplayName: me.Name, Sealed: sealed}); err != nil {
			return nil, err
		}
		s.remember(p, accessToken{token: tok.AccessToken, apiBase: apiBase,
			expires: s.c.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)})
		if matchesSite(site.ID, site.URL, hint) {
			hinted = true
			out = append([]relay.Principal{p}, out...)
		} else {
			out = append(out, p)
		}
	}
	if hint != "" {
		if len(out) == 0 || (!hinted && !s.reached(ctx, out[0], hint)) {
			return nil, relay.Errorf(relay.EForbidden, "Your Atlassian account cannot reach the Jira site you came from, or gitrelay is not installed there.")
		}
	}
	if len(out) == 0 {
		return nil, relay.Errorf(relay.EForbidden, "gitrelay is not installed on any Jira site your Atlassian account can reach. Ask a Jira administrator to install the gitrelay app.")
	}
	return out, nil
}

func matchesSite(cloudID, siteURL, hint string) bool {
	if hint == "" {
		return false
	}
	return hint == cloudID || strings.TrimRight(hint, "/") == strings.TrimRight(siteURL, "/")
}

// reached reports whether p's tenant is the site hint names.
func (s *SignIn) reached(ctx context.Context, p relay.Principal, hint string) bool {
	in, err := s.c.Store.JiraInstallation(ctx, p.TenantID)
	if err != nil {
		return false
	}
	return matchesSite(in.CloudID, in.SiteURL, hint)
}

func (s *SignIn) remember(p relay.Principal, t accessToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache[grantKey{p.TenantID, p.UserID}] = t
}

// Forget drops cached access tokens of a tenant (uninstall) or, with
// accountID, of one user (sign-out).
func (s *SignIn) Forget(tenantID, accountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.cache {
		if k.tenant == tenantID && (accountID == "" || k.account == accountID) {
			delete(s.cache, k)
		}
	}
}

// UserContext returns ctx carrying a Jira access token of p, for a request
// of a browser session made by Sign in with Atlassian: the web layer calls
// it before asking the action service anything for p. It refreshes the
// access token with the sealed refresh token when needed, and refuses (401)
// when p has no grant in p's tenant, so a user of one site cannot act in
// another.
func (s *SignIn) UserContext(ctx context.Context, p relay.Principal) (context.Context, error) {
	now := s.c.Now()
	s.mu.Lock()
	t, ok := s.cache[grantKey{p.TenantID, p.UserID}]
	s.mu.Unlock()
	if ok && now.Add(time.Minute).Before(t.expires) {
		return WithUser(ctx, p, t.apiBase, t.token), nil
	}
	in, err := s.c.Store.JiraInstallation(ctx, p.TenantID)
	if err != nil {
		return nil, relay.Errorf(relay.EUnauthenticated, "This Jira site no longer has gitrelay installed. Sign in again from Jira.")
	}
	g, err := s.c.Store.JiraGrant(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, relay.Errorf(relay.EUnauthenticated, "Sign in with Atlassian again to continue.")
	}
	refresh, err := s.c.Sealer.Open(g.Sealed, store.JiraRefreshTokenOwner(p.TenantID, p.UserID))
	if err != nil {
		return nil, err
	}
	var tok tokenAnswer
	_, err = s.jira.do(ctx, http.MethodPost, s.c.AuthURL+"/oauth/token", "", map[string]string{
		"grant_type": "refresh_token", "client_id": s.c.ClientID, "client_secret": s.c.ClientSecret,
		"refresh_token": string(refresh),
	}, &tok)
	if err != nil || tok.AccessToken == "" {
		return nil, &relay.Error{Code: relay.EUnauthenticated, Message: "Your Atlassian sign-in expired. Sign in again from Jira.", Err: err}
	}
	if tok.RefreshToken != "" {
		// Atlassian rotates refresh tokens: the old one stops working.
		sealed, err := s.c.Sealer.Seal([]byte(tok.RefreshToken), store.JiraRefreshTokenOwner(p.TenantID, p.UserID))
		if err != nil {
			return nil, err
		}
		if err := s.c.Store.PutJiraGrant(ctx, store.JiraGrant{TenantID: p.TenantID, AccountID: p.UserID,
			DisplayName: g.DisplayName, Sealed: sealed}); err != nil {
			return nil, err
		}
	}
	t = accessToken{token: tok.AccessToken, apiBase: s.c.APIURL + "/ex/jira/" + url.PathEscape(in.CloudID),
		expires: now.Add(time.Duration(tok.ExpiresIn) * time.Second)}
	s.remember(p, t)
	return WithUser(ctx, p, t.apiBase, t.token), nil
}

// SignOut forgets the user's grant in p's tenant.
func (s *SignIn) SignOut(ctx context.Context, p relay.Principal) error {
	s.Forget(p.TenantID, p.UserID)
	return s.c.Store.DeleteJiraGrant(ctx, p.TenantID, p.UserID)
}

// safeReturnTo keeps return_to on gitrelay: a local path (httpx.LocalPath),
// otherwise the start page.
func safeReturnTo(v string) string {
	if p := httpx.LocalPath(v); p != "" {
		return p
	}
	return "/"
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func signInError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("<!doctype html><title>Sign in with Atlassian</title><p>" + html.EscapeString(msg) + "</p>"))
}
