package jira_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/server"
	"github.com/gitrelay/gitrelay/internal/server/openapitest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// Canary secrets: they must never appear in logs or responses.
const (
	botToken = "ghp_CANARYjiraBOT000000000000000000000001"
	bobPAT   = "ghp_CANARYjiraBOB000000000000000000000002"
	botLogin = "relay-bot"
	bobLogin = "bob-gh"
)

// Two Jira sites, each its own installation (tenant).
const (
	cloudA   = "11111111-aaaa-4aaa-8aaa-000000000001"
	cloudB   = "22222222-bbbb-4bbb-8bbb-000000000002"
	installA = "ari:cloud:ecosystem::installation/aaaaaaaa-0000-4000-8000-000000000001"
	installB = "ari:cloud:ecosystem::installation/bbbbbbbb-0000-4000-8000-000000000002"
	siteA    = "https://alpha.atlassian.net"
	siteB    = "https://beta.atlassian.net"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is gitrelay wired as internal/app wires it, plus the Jira backend,
// against a fake Atlassian and a simulated GitHub Enterprise.
type env struct {
	t       *testing.T
	fake    *jiratest.Fake
	db      *store.DB
	sim     *hostsim.Sim
	hostURL string
	keys    *vault.StaticKeys
	hosts   *host.Registry
	hc      *http.Client
	clock   *clock
	actions *action.Service
	jdir    *jira.Directory
	devinfo *jira.Devinfo
	remote  *jira.Remote
	signin  *jira.SignIn
	url     string
	logs    *logbuf.Buffer

	// Users of site A: alice administers Jira, bob has View Development
	// Tools on ABC, carol has none.
	aliceTok, bobTok, carolTok string
	// dave is a user of site B only.
	daveTok string

	sysA, sysB string

	signedIn   []relay.Principal
	signedInMu sync.Mutex

	bodies logbuf.Buffer
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	e := &env{t: t, db: db, fake: jiratest.New(t), sim: hostsim.New(), logs: &logbuf.Buffer{},
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	t.Cleanup(e.sim.Close)
	hs := httptest.NewServer(e.sim.Handler())
	t.Cleanup(hs.Close)
	e.hostURL = hs.URL
	e.sim.AddToken(hostsim.Token{Value: botToken, Login: botLogin, Name: "Relay Bot", Scopes: []string{"repo"}})
	e.sim.AddToken(hostsim.Token{Value: bobPAT, Login: bobLogin, Name: "Bob Builder", Scopes: []string{"repo"}})
	e.sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{botLogin, bobLogin}})

	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	e.keys = keys

	e.fake.AddSite(cloudA, siteA)
	e.fake.AddSite(cloudB, siteB)
	e.aliceTok = e.fake.AddUser(cloudA, jiratest.User{AccountID: "acc-alice", DisplayName: "Alice Admin", Admin: true, DevTools: []string{"ABC"}})
	e.bobTok = e.fake.AddUser(cloudA, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
	e.carolTok = e.fake.AddUser(cloudA, jiratest.User{AccountID: "acc-carol", DisplayName: "Carol"})
	e.daveTok = e.fake.AddUser(cloudB, jiratest.User{AccountID: "acc-dave", DisplayName: "Dave", Admin: true, DevTools: []string{"ABC"}})
	e.fake.AddIssue(cloudA, "ABC-1", jiratest.Issue{Summary: "Fix login on Safari", Type: "Bug"})
	e.fake.AddIssue(cloudB, "ABC-1", jiratest.Issue{Summary: "Another site's issue", Type: "Story"})
	e.sysA, e.sysB = e.fake.SystemToken(cloudA), e.fake.SystemToken(cloudB)

	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// gitrelay's outbound client in Jira mode, with the loopback interface
	// (where the fake Atlassian and the host simulator listen) allowed.
	hc := host.NewHTTPClient(host.ClientConfig{Timeout: 5 * time.Second,
		Egress: host.Egress{RefusePrivate: true, Allow: host.MustAllowlist("127.0.0.0/8")}})
	e.hc = hc
	hosts := host.NewRegistry(hc, github.Enterprise())
	e.hosts = hosts

	// The public URL is only known once the server runs; a handler
	// indirection lets the server start first.
	var root http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { root.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL

	e.jdir = jira.NewDirectory(hc, e.clock.Now)
	// The pusher reads the host through the action service, built after it.
	reader := jira.HostReaderFunc(func(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error) {
		return e.actions.BranchHeads(ctx, tenantID, integrationID, repositoryID, names)
	})
	e.devinfo = jira.NewDevinfo(jira.DevinfoConfig{Store: db, Sealer: keys, Hosts: reader,
		HTTPClient: hc, PublicURL: e.url, Logger: logger, Now: e.clock.Now})
	db.SetRecordHooks(e.devinfo) // as the app wires it
	e.actions = action.New(action.Config{
		Store: db, Hosts: hosts, Sealer: keys,
		Directory: jira.Composite{Local: directory.New(db, e.clock.Now), Jira: e.jdir},
		Links:     server.Links{Base: e.url}, Now: e.clock.Now, HostTimeout: 2 * time.Second, Logger: logger,
	})
	e.signin = jira.NewSignIn(jira.SignInConfig{ClientID: "client-id", ClientSecret: "client-secret-CANARY",
		PublicURL: e.url, AuthURL: e.fake.URL, APIURL: e.fake.URL, Store: db, Sealer: keys, Directory: e.jdir,
		HTTPClient: hc, Logger: logger, Now: e.clock.Now,
		OnSignedIn: func(w http.ResponseWriter, r *http.Request, ps []relay.Principal, returnTo string) {
			e.signedInMu.Lock()
			e.signedIn = ps
			e.signedInMu.Unlock()
			http.Redirect(w, r, returnTo, http.StatusFound)
		}})
	e.remote = jira.NewRemote(jira.Config{AppID: jiratest.AppID, JWKSURL: e.fake.JWKSURL(), Store: db, Sealer: keys,
		Actions: e.actions, Directory: e.jdir, Devinfo: e.devinfo, HTTPClient: hc, Logger: logger, Now: e.clock.Now,
		OnUninstall: func(tenant string) { e.signin.Forget(tenant, "") }})

	mux := http.NewServeMux()
	for _, rt := range append(e.remote.Routes(), e.signin.Routes()...) {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	mux.HandleFunc("GET /issues/{key}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "issue page")
	})
	root = mux
	return e
}

// response is a remote's answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

func (r response) List() []map[string]any {
	var l []map[string]any
	_ = json.Unmarshal(r.Body, &l)
	return l
}

func (r response) Code() string {
	if e, ok := r.JSON()["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// invocation is how Forge calls the remote.
type invocation struct {
	fit       string
	userToken string
	sysToken  string
}

// ui is a Custom UI invocation by a user of a site.
func (e *env) ui(install, cloud, site, account, userToken, sysToken string) invocation {
	return invocation{
		fit: e.fake.FIT(jiratest.Claims{InstallationID: install, CloudID: cloud, SiteURL: site, AccountID: account,
			IssuedAt: e.clock.Now()}),
		userToken: userToken, sysToken: sysToken,
	}
}

func (e *env) bob() invocation {
	return e.ui(installA, cloudA, siteA, "acc-bob", e.bobTok, e.sysA)
}

func (e *env) alice() invocation {
	return e.ui(installA, cloudA, siteA, "acc-alice", e.aliceTok, e.sysA)
}

func (e *env) carol() invocation {
	return e.ui(installA, cloudA, siteA, "acc-carol", e.carolTok, e.sysA)
}

func (e *env) dave() invocation {
	return e.ui(installB, cloudB, siteB, "acc-dave", e.daveTok, e.sysB)
}

// trigger is a backend invocation (lifecycle or scheduled) for a site.
func (e *env) trigger(install, cloud, sysToken string) invocation {
	return invocation{fit: e.fake.FIT(jiratest.Claims{InstallationID: install, CloudID: cloud, NoContext: true,
		IssuedAt: e.clock.Now()}), sysToken: sysToken}
}

func (e *env) do(method, path string, inv invocation, body any) response {
	e.t.Helper()
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = b
	}
	r, err := e.send(method, path, inv, nil, raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// send makes one request to the remote as Forge makes it: the invocation
// token and the app's tokens in their headers, with the caller's headers
// (Forge passes invokeRemote's on) and body. It fails the test only with
// t.Errorf, so the emulated Forge host of the panel's browser tests can
// call it from its own goroutine.
func (e *env) send(method, path string, inv invocation, header http.Header, body []byte) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		return response{}, err
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if inv.fit != "" {
		req.Header.Set("Authorization", "Bearer "+inv.fit)
	}
	if inv.userToken != "" {
		req.Header.Set("x-forge-oauth-user", inv.userToken)
	}
	if inv.sysToken != "" {
		req.Header.Set("x-forge-oauth-system", inv.sysToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	_, _ = e.bodies.Write(b)
	for k, vs := range resp.Header {
		_, _ = e.bodies.Write([]byte(k + ": " + strings.Join(vs, ",") + "\n"))
	}
	// The OpenAPI document describes the Forge remote too: an answer it
	// does not describe fails the test that received it.
	if strings.HasPrefix(req.URL.Path, "/forge/") {
		if err := openapitest.Check(req, resp.StatusCode, resp.Header, b); err != nil {
			e.t.Errorf("%s %s answered %d, which openapi.json does not describe: %v\nbody: %s", method, path, resp.StatusCode, err, b)
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// install sends the installed event of both sites.
func (e *env) install() {
	e.t.Helper()
	for _, s := range []struct{ install, cloud, sys string }{{installA, cloudA, e.sysA}, {installB, cloudB, e.sysB}} {
		r := e.do("POST", "/forge/lifecycle", e.trigger(s.install, s.cloud, s.sys), map[string]any{
			"eventType": jira.EventInstalled, "id": s.install})
		if r.Status != http.StatusNoContent {
			e.t.Fatalf("installed event: got %d %s, want 204", r.Status, r.Body)
		}
	}
}

// integration creates a GitHub Enterprise integration on site A as alice.
func (e *env) integration(requireUserPAT bool) string {
	e.t.Helper()
	r := e.do("POST", "/forge/integrations", e.alice(), map[string]any{
		"kind": "github-enterprise", "base_url": e.hostURL, "name": "GHE",
		"credential": map[string]string{"token": botToken}, "require_user_pat": requireUserPAT})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("creating integration: got %d %s, want 201", r.Status, r.Body)
	}
	return r.JSON()["id"].(string)
}

// repoID learns the test repository's id through the remote.
func (e *env) repoID(inv invocation, integrationID string) string {
	e.t.Helper()
	r := e.do("GET", "/forge/integrations/"+integrationID+"/repositories?q=widgets", inv, nil)
	l := r.List()
	if r.Status != http.StatusOK || len(l) != 1 {
		e.t.Fatalf("repositories: got %d %s, want one", r.Status, r.Body)
	}
	return l[0]["id"].(string)
}

// pushAll drains the devinfo queue as far as it is due.
func (e *env) pushAll() {
	e.t.Helper()
	for i := 0; i < 20; i++ {
		n, err := e.devinfo.PushOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	e.t.Fatal("devinfo queue did not drain")
}

// noSecrets fails when a canary appears in logs or responses.
func (e *env) noSecrets(extra ...string) {
	e.t.Helper()
	canaries := append([]string{botToken, bobPAT, e.sysA, e.sysB, e.aliceTok, e.bobTok, e.carolTok, e.daveTok,
		"client-secret-CANARY"}, extra...)
	canaries = append(canaries, e.fake.RefreshTokens()...)
	logs, bodies := e.logs.String(), e.bodies.String()
	for _, c := range canaries {
		if strings.Contains(logs, c) {
			e.t.Errorf("a secret (%.12s…) appears in the logs", c)
		}
		if strings.Contains(bodies, c) {
			e.t.Errorf("a secret (%.12s…) appears in a response", c)
		}
	}
}
