// Package jiratest is a fake Atlassian for tests: the Forge JWKS and
// invocation tokens signed with a test key, the subset of Jira's REST API
// gitrelay uses (permissions, issues, the current user), the development
// information API (recording payloads, able to answer with failures, 413 and
// 429), and the OAuth 2.0 (3LO) endpoints of Sign in with Atlassian.
//
// One server plays every Atlassian host: JWKSURL, AuthURL and APIURL all
// point at it. Sites live under /ex/jira/{cloudId}, as on
// api.atlassian.com.
package jiratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AppID is the fake Forge app's id.
const AppID = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-0000000000a1"

// KeyID is the id of the signing key the JWKS publishes.
const KeyID = "forge-test-key-1"

// Fake is a running fake Atlassian.
type Fake struct {
	URL string
	Key *rsa.PrivateKey

	mu        sync.Mutex
	sites     map[string]*Site // by cloud id
	userToks  map[string]tokenOwner
	sysToks   map[string]string // token → cloud id
	devinfo   []Push
	scripted  []Answer
	codes     map[string]codeGrant
	refreshes map[string]string // refresh token → account
	browser   string            // the account signed in at Atlassian
	jwksHits  int
	extraKeys map[string]*rsa.PublicKey
}

type tokenOwner struct{ cloud, account string }

type codeGrant struct {
	account   string
	challenge string
	redirect  string
}

// Site is a fake Jira site.
type Site struct {
	CloudID string
	URL     string
	// Users by account id.
	Users map[string]*User
	// Issues by key.
	Issues map[string]Issue
}

// User is a Jira user of a site.
type User struct {
	AccountID   string
	DisplayName string
	Admin       bool
	// DevTools lists the projects where the user has View Development
	// Tools and Browse Projects.
	DevTools []string
}

// Issue is a Jira issue.
type Issue struct {
	Summary string
	Type    string
}

// Push is one recorded devinfo request.
type Push struct {
	CloudID string
	Method  string
	Path    string
	Body    json.RawMessage
	Status  int
	At      time.Time // when it arrived
}

// Answer scripts the next devinfo answer: a status (413, 429, 503, ...)
// with Retry-After, or 202 with failed entities.
type Answer struct {
	Status     int
	RetryAfter string
	// Failed adds failedDevinfoEntities: repository id → branch ids.
	FailedBranches map[string][]string
}

// New starts a fake Atlassian, stopped when the test ends.
func New(t testing.TB) *Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{Key: key, sites: map[string]*Site{}, userToks: map[string]tokenOwner{}, sysToks: map[string]string{},
		codes: map[string]codeGrant{}, refreshes: map[string]string{}, extraKeys: map[string]*rsa.PublicKey{}}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// JWKSURL is the fake Forge JWKS.
func (f *Fake) JWKSURL() string { return f.URL + "/.well-known/jwks.json" }

// APIBase is a site's API base URL.
func (f *Fake) APIBase(cloudID string) string { return f.URL + "/ex/jira/" + cloudID }

// AddSite adds a site.
func (f *Fake) AddSite(cloudID, siteURL string) *Site {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Site{CloudID: cloudID, URL: siteURL, Users: map[string]*User{}, Issues: map[string]Issue{}}
	f.sites[cloudID] = s
	return s
}

// AddUser adds a user to a site and returns a user token (as Forge sends in
// x-forge-oauth-user) valid for that site only.
func (f *Fake) AddUser(cloudID string, u User) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[cloudID].Users[u.AccountID] = &u
	tok := "jira-user-token-" + cloudID + "-" + u.AccountID + "-" + randomHex(8)
	f.userToks[tok] = tokenOwner{cloudID, u.AccountID}
	return tok
}

// SetDevTools replaces the projects where the user has View Development
// Tools.
func (f *Fake) SetDevTools(cloudID, accountID string, projects ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[cloudID].Users[accountID].DevTools = projects
}

// AddIssue adds an issue to a site.
func (f *Fake) AddIssue(cloudID, key string, is Issue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sites[cloudID].Issues[key] = is
}

// SystemToken returns a new app system token for a site.
func (f *Fake) SystemToken(cloudID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "jira-system-token-" + cloudID + "-" + randomHex(8)
	f.sysToks[tok] = cloudID
	return tok
}

// RevokeSystemTokens makes every system token of the site stop working.
func (f *Fake) RevokeSystemTokens(cloudID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, c := range f.sysToks {
		if c == cloudID {
			delete(f.sysToks, tok)
		}
	}
}

// Script queues answers for the next devinfo requests.
func (f *Fake) Script(as ...Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripted = append(f.scripted, as...)
}

// Pushes returns the devinfo requests received so far.
func (f *Fake) Pushes() []Push {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.devinfo)
}

// JWKSHits counts JWKS downloads.
func (f *Fake) JWKSHits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jwksHits
}

// SignInAs makes the account the one signed in at Atlassian's consent page.
func (f *Fake) SignInAs(accountID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.browser = accountID
}

// Claims describe an invocation token.
type Claims struct {
	InstallationID string
	CloudID        string
	SiteURL        string
	AccountID      string // empty: a backend (trigger) invocation
	// Audience defaults to AppID; Issuer to forge/invocation-token.
	Audience string
	Issuer   string
	// IssuedAt defaults to now; Lifetime to 25s.
	IssuedAt time.Time
	Lifetime time.Duration
	// NoContext leaves out the context claim, as backend calls do.
	NoContext bool
	// APIBase overrides the site's API base URL.
	APIBase string
}

// FIT signs an invocation token with the JWKS key.
func (f *Fake) FIT(c Claims) string {
	return f.sign(c, f.Key, KeyID)
}

// FITWithKey signs an invocation token with another key and key id (for
// forgeries and unknown keys).
func (f *Fake) FITWithKey(c Claims, key *rsa.PrivateKey, kid string) string {
	return f.sign(c, key, kid)
}

// PublishKey adds a public key to the JWKS (key rotation).
func (f *Fake) PublishKey(kid string, key *rsa.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extraKeys[kid] = key
}

// MapClaims returns the claims c makes, for tests that sign them otherwise
// (alg none, HS256).
func (f *Fake) MapClaims(c Claims) jwt.MapClaims {
	if c.Audience == "" {
		c.Audience = AppID
	}
	if c.Issuer == "" {
		c.Issuer = "forge/invocation-token"
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.Lifetime == 0 {
		c.Lifetime = 25 * time.Second
	}
	if c.APIBase == "" {
		c.APIBase = f.APIBase(c.CloudID)
	}
	m := jwt.MapClaims{
		"iss": c.Issuer, "aud": c.Audience, "iat": c.IssuedAt.Unix(), "nbf": c.IssuedAt.Unix(),
		"exp": c.IssuedAt.Add(c.Lifetime).Unix(), "jti": randomHex(8),
		"app": map[string]any{"installationId": c.InstallationID, "apiBaseUrl": c.APIBase, "id": AppID,
			"module": map[string]any{"key": "gitrelay-remote"}},
	}
	if !c.NoContext {
		m["context"] = map[string]any{"cloudId": c.CloudID, "siteUrl": c.SiteURL}
	}
	if c.AccountID != "" {
		m["principal"] = c.AccountID
	}
	return m
}

func (f *Fake) sign(c Claims, key *rsa.PrivateKey, kid string) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, f.MapClaims(c))
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func (f *Fake) handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/jwks.json", f.jwks)
	m.HandleFunc("GET /ex/jira/{cloud}/rest/api/3/mypermissions", f.user(f.myPermissions))
	m.HandleFunc("POST /ex/jira/{cloud}/rest/api/3/permissions/project", f.user(f.permittedProjects))
	m.HandleFunc("GET /ex/jira/{cloud}/rest/api/3/myself", f.user(f.myself))
	m.HandleFunc("GET /ex/jira/{cloud}/rest/api/3/issue/{key}", f.user(f.issue))
	m.HandleFunc("POST /ex/jira/{cloud}/rest/devinfo/0.10/bulk", f.system(f.bulk))
	m.HandleFunc("DELETE /ex/jira/{cloud}/rest/devinfo/0.10/repository/{repo}/{type}/{entity}", f.system(f.deleteEntity))
	m.HandleFunc("GET /authorize", f.authorize)
	m.HandleFunc("POST /oauth/token", f.token)
	m.HandleFunc("GET /me", f.user(f.me))
	m.HandleFunc("GET /oauth/token/accessible-resources", f.user(f.accessible))
	return m
}

func (f *Fake) jwks(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwksHits++
	keys := []map[string]string{jwkOf(KeyID, &f.Key.PublicKey)}
	for kid, k := range f.extraKeys {
		keys = append(keys, jwkOf(kid, k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func jwkOf(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func bearer(r *http.Request) string {
	s, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return s
}

// user authenticates a user token (Forge's or a 3LO access token). Site
// routes also require the token to belong to that site.
func (f *Fake) user(h func(w http.ResponseWriter, r *http.Request, site *Site, u *User, account string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		owner, ok := f.userToks[bearer(r)]
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
			return
		}
		cloud := r.PathValue("cloud")
		if cloud == "" {
			h(w, r, nil, nil, owner.account)
			return
		}
		site := f.sites[cloud]
		// 3LO access tokens (cloud "*") reach every site the account is a
		// user of; Forge user tokens only their own site.
		if site == nil || (owner.cloud != "*" && owner.cloud != cloud) || site.Users[owner.account] == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
			return
		}
		h(w, r, site, site.Users[owner.account], owner.account)
	}
}

func (f *Fake) system(h func(w http.ResponseWriter, r *http.Request, site *Site)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		cloud, ok := f.sysToks[bearer(r)]
		if !ok || cloud != r.PathValue("cloud") {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized"})
			return
		}
		h(w, r, f.sites[cloud])
	}
}

func (f *Fake) myPermissions(w http.ResponseWriter, r *http.Request, site *Site, u *User, _ string) {
	project := r.URL.Query().Get("projectKey")
	perms := map[string]any{}
	for _, k := range strings.Split(r.URL.Query().Get("permissions"), ",") {
		have := false
		switch k {
		case "ADMINISTER":
			have = u.Admin
		case "VIEW_DEV_TOOLS", "BROWSE_PROJECTS":
			have = project != "" && slices.Contains(u.DevTools, project)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"unknown permission " + k}})
			return
		}
		perms[k] = map[string]any{"key": k, "havePermission": have}
	}
	writeJSON(w, http.StatusOK, map[string]any{"permissions": perms})
}

func (f *Fake) permittedProjects(w http.ResponseWriter, r *http.Request, site *Site, u *User, _ string) {
	var out []map[string]any
	for i, p := range u.DevTools {
		out = append(out, map[string]any{"id": 10000 + i, "key": p})
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out})
}

func (f *Fake) myself(w http.ResponseWriter, r *http.Request, site *Site, u *User, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"accountId": u.AccountID, "displayName": u.DisplayName})
}

func (f *Fake) issue(w http.ResponseWriter, r *http.Request, site *Site, u *User, _ string) {
	key := r.PathValue("key")
	is, ok := site.Issues[key]
	if !ok || !slices.Contains(u.DevTools, strings.Split(key, "-")[0]) {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"Issue does not exist or you do not have permission to see it."}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "fields": map[string]any{
		"summary": is.Summary, "issuetype": map[string]any{"name": is.Type}}})
}

func (f *Fake) bulk(w http.ResponseWriter, r *http.Request, site *Site) {
	body, _ := io.ReadAll(r.Body)
	ans := Answer{Status: http.StatusAccepted}
	if len(f.scripted) > 0 {
		ans, f.scripted = f.scripted[0], f.scripted[1:]
		if ans.Status == 0 {
			ans.Status = http.StatusAccepted
		}
	}
	f.devinfo = append(f.devinfo, Push{CloudID: site.CloudID, Method: r.Method, Path: r.URL.Path, Body: body, Status: ans.Status, At: time.Now()})
	if ans.Status != http.StatusAccepted {
		if ans.RetryAfter != "" {
			w.Header().Set("Retry-After", ans.RetryAfter)
		}
		writeJSON(w, ans.Status, map[string]any{"errorMessages": []string{http.StatusText(ans.Status)}})
		return
	}
	var req struct {
		Repositories []struct {
			ID       string `json:"id"`
			Branches []struct {
				ID        string   `json:"id"`
				IssueKeys []string `json:"issueKeys"`
			} `json:"branches"`
			PullRequests []struct {
				ID        string   `json:"id"`
				IssueKeys []string `json:"issueKeys"`
			} `json:"pullRequests"`
		} `json:"repositories"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{err.Error()}})
		return
	}
	accepted := map[string]any{}
	failed := map[string]any{}
	unknown := []string{}
	for _, repo := range req.Repositories {
		var okBranches, okPRs []string
		var badBranches []map[string]any
		for _, b := range repo.Branches {
			if slices.Contains(ans.FailedBranches[repo.ID], b.ID) {
				badBranches = append(badBranches, map[string]any{"id": b.ID,
					"errorMessages": []map[string]string{{"message": "branch rejected by the fake"}}})
				continue
			}
			okBranches = append(okBranches, b.ID)
			unknown = appendUnknown(unknown, site, b.IssueKeys)
		}
		for _, p := range repo.PullRequests {
			okPRs = append(okPRs, p.ID)
			unknown = appendUnknown(unknown, site, p.IssueKeys)
		}
		accepted[repo.ID] = map[string]any{"branches": okBranches, "pullRequests": okPRs, "commits": []string{}}
		if len(badBranches) > 0 {
			failed[repo.ID] = map[string]any{"branches": badBranches}
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"acceptedDevinfoEntities": accepted,
		"failedDevinfoEntities": failed, "unknownIssueKeys": unknown})
}

func appendUnknown(list []string, site *Site, keys []string) []string {
	for _, k := range keys {
		if _, ok := site.Issues[k]; !ok && !slices.Contains(list, k) {
			list = append(list, k)
		}
	}
	return list
}

func (f *Fake) deleteEntity(w http.ResponseWriter, r *http.Request, site *Site) {
	f.devinfo = append(f.devinfo, Push{CloudID: site.CloudID, Method: r.Method, Path: r.URL.Path + "?" + r.URL.RawQuery, Status: http.StatusAccepted, At: time.Now()})
	w.WriteHeader(http.StatusAccepted)
}

func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	account := f.browser
	code := "code-" + randomHex(12)
	f.codes[code] = codeGrant{account: account, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	if account == "" || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
		http.Redirect(w, r, q.Get("redirect_uri")+"?error=access_denied&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		return
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	var req map[string]string
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	var account string
	switch req["grant_type"] {
	case "authorization_code":
		g, ok := f.codes[req["code"]]
		delete(f.codes, req["code"])
		sum := sha256.Sum256([]byte(req["code_verifier"]))
		if !ok || g.redirect != req["redirect_uri"] || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "invalid_grant"})
			return
		}
		account = g.account
	case "refresh_token":
		a, ok := f.refreshes[req["refresh_token"]]
		delete(f.refreshes, req["refresh_token"]) // rotating refresh tokens
		if !ok {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "invalid_grant"})
			return
		}
		account = a
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	access := "atlassian-access-" + randomHex(12)
	refresh := "atlassian-refresh-" + randomHex(12)
	f.userToks[access] = tokenOwner{cloud: "*", account: account}
	f.refreshes[refresh] = account
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "refresh_token": refresh, "expires_in": 3600,
		"token_type": "Bearer", "scope": "read:me read:jira-user read:jira-work offline_access"})
}

func (f *Fake) me(w http.ResponseWriter, r *http.Request, _ *Site, _ *User, account string) {
	name := account
	for _, s := range f.sites {
		if u := s.Users[account]; u != nil {
			name = u.DisplayName
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"account_id": account, "name": name})
}

func (f *Fake) accessible(w http.ResponseWriter, r *http.Request, _ *Site, _ *User, account string) {
	out := []map[string]any{}
	for _, s := range f.sites {
		if s.Users[account] != nil {
			out = append(out, map[string]any{"id": s.CloudID, "url": s.URL, "name": s.CloudID, "scopes": []string{"read:jira-work"}})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// RefreshTokens lists the refresh tokens the fake has issued and not yet
// rotated (canaries for leak checks).
func (f *Fake) RefreshTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for t := range f.refreshes {
		out = append(out, t)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
