// Package apptest boots a whole gitrelay (the same wiring as `gitrelay
// serve`) against a host simulator, for end-to-end tests and benchmarks. It
// records every log line and every HTTP response body, so tests can prove
// that no secret ever leaves.
package apptest

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/server/openapitest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// Canary secrets: distinctive values that must never appear anywhere but
// the requests that carry them to the host.
const (
	BotToken   = "ghp_CANARYbotTOKEN0000000000000000000001"
	BobToken   = "ghp_CANARYbobTOKEN0000000000000000000002"
	CarolToken = "ghp_CANARYcarolTOKEN00000000000000000003"
	// BotLogin and BobLogin are the git logins the tokens authenticate as.
	BotLogin = "relay-bot"
	BobLogin = "bob-gh"
	// Repo is the repository every user may push to.
	Repo = "acme/widgets"
)

// Env is a running gitrelay with a simulated GitHub Enterprise host, the
// administrator "admin", users "bob" (View Development Tools on ABC) and
// "carol" (no grant), and project ABC.
type Env struct {
	T   testing.TB
	DB  *store.DB
	Sim *hostsim.Sim
	// Git serves Sim's repositories over git (with Options.Index).
	Git        *hostsim.Git
	HostURL    string // the simulated host's base URL (GHES layout)
	App        *app.App
	URL        string // gitrelay's base URL
	Keys       *vault.StaticKeys
	RepoID     string
	Admin      string // API tokens
	Bob        string
	Carol      string
	Client     *http.Client
	Logs       *logbuf.Buffer
	Fixture    Fixture
	bodiesMu   sync.Mutex
	bodies     bytes.Buffer
	hostTime   atomic.Int64
	serverTime atomic.Int64
	// offset is how far gitrelay's clock runs ahead of the real one
	// (Advance).
	offset       atomic.Int64
	hostMu       sync.Mutex
	hostRequests []string
	// Runner runs the background jobs (Options.Jobs; nil without).
	Runner *jobs.Runner
	// cfg is what App was built from, for Replica.
	cfg app.Config
}

// HostRequests counts the requests gitrelay sent to the simulated host
// (InProcess only) whose "METHOD /path" contains s.
func (e *Env) HostRequests(s string) int {
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	n := 0
	for _, r := range e.hostRequests {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n
}

// Now is gitrelay's clock: the real time, moved forward by Advance.
func (e *Env) Now() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

// Advance moves gitrelay's clock forward by d (the host simulator's clock
// stays), for behaviour that depends on time passing, such as how often
// the host is read.
func (e *Env) Advance(d time.Duration) { e.offset.Add(int64(d)) }

// ServerTime is the time gitrelay's handler spent on requests so far (host
// calls included; see HostTime), without the test client's own work.
func (e *Env) ServerTime() time.Duration { return time.Duration(e.serverTime.Load()) }

// HostTime is the time spent inside the simulated host so far (InProcess
// only), so benchmarks can tell gitrelay's own time from the host's.
func (e *Env) HostTime() time.Duration { return time.Duration(e.hostTime.Load()) }

type timedTransport struct {
	inner http.RoundTripper
	total *atomic.Int64
	env   *Env
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.env.hostMu.Lock()
	t.env.hostRequests = append(t.env.hostRequests, r.Method+" "+r.URL.Path)
	t.env.hostMu.Unlock()
	start := time.Now()
	resp, err := t.inner.RoundTrip(r)
	t.total.Add(int64(time.Since(start)))
	return resp, err
}

// Options tune New.
type Options struct {
	// HostTimeout bounds host calls. The default is a minute, far above
	// what any simulated call needs even on a loaded machine under the race
	// detector, so no test depends on the machine's speed; tests of a
	// hanging host set a short one.
	HostTimeout time.Duration
	// InProcess serves the host simulator without sockets (benchmarks).
	InProcess bool
	// Fixture picks the host kind (default GitHubEnterprise).
	Fixture *Fixture
	// Index serves the simulated repositories over git (Env.Git) and turns
	// gitrelay's index on (Env.App.Indexer), which the test drives itself.
	// Not with InProcess.
	Index bool
	// Jobs runs gitrelay's background jobs (app.Config.Jobs), looking for
	// new ones every 50 ms, with the index's schedule IndexSchedule (zero:
	// the defaults).
	Jobs          bool
	IndexSchedule app.IndexConfig
	// RateBudgetOnEnvClock makes the rate budget of indexing reads run on
	// Env.Now, so that Advance ends a pause the host asked for.
	RateBudgetOnEnvClock bool
	// PublicURL tells gitrelay its own address (app.Config.PublicURL,
	// --public-url), as an operator does so that hosts can reach it: the
	// webhook's address is then Env.URL + "/hooks/{id}".
	PublicURL bool
}

// New boots gitrelay on db.
func New(t testing.TB, db *store.DB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.HostTimeout == 0 {
		o.HostTimeout = time.Minute
	}
	if o.Fixture == nil {
		f := GitHubEnterprise()
		o.Fixture = &f
	}
	ctx := context.Background()
	e := &Env{T: t, DB: db, Sim: hostsim.New(), Logs: &logbuf.Buffer{}, Fixture: *o.Fixture}
	t.Cleanup(e.Sim.Close)

	var hc *http.Client
	if o.InProcess {
		e.HostURL = "http://ghe.sim.test"
		hc = &http.Client{Transport: timedTransport{inner: e.Sim.Transport(), total: &e.hostTime, env: e}}
	} else {
		front := e.Fixture.Serve(e.Sim)
		if o.Index {
			e.Git = e.Sim.Git(t.TempDir())
			front = e.Git.Wrap(e.Fixture.GitLayout, front)
		}
		hs := httptest.NewServer(front)
		t.Cleanup(hs.Close)
		e.HostURL = hs.URL
	}
	e.Sim.AddToken(hostsim.Token{Value: BotToken, Login: BotLogin, Name: "Relay Bot", Scopes: e.Fixture.FullScopes})
	e.Sim.AddToken(hostsim.Token{Value: BobToken, Login: BobLogin, Name: "Bob Builder", Scopes: e.Fixture.FullScopes})
	e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{BotLogin, BobLogin}})

	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	e.Keys = keys
	logger := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The simulated host listens on the loopback interface, which the
	// egress policy refuses: allowed the way an operator would.
	cfg := app.Config{DB: db, Sealer: keys, Logger: logger, HTTPClient: hc, HostTimeout: o.HostTimeout, Version: "test", Now: e.Now,
		EgressAllow: host.MustAllowlist(hosttest.LoopbackAllowed)}
	if o.Index {
		cfg.Index = o.IndexSchedule
		cfg.Index.Enabled, cfg.Index.DataDir = true, t.TempDir()
	}
	if o.RateBudgetOnEnvClock {
		cfg.RateBudget = host.NewRateBudget(0, e.Now, nil)
	}
	// gitrelay listens before it is built, so that it can be told its own
	// address; nothing calls it before New returns.
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := handler.Load()
		if h == nil {
			http.Error(w, "gitrelay is starting", http.StatusServiceUnavailable)
			return
		}
		start := time.Now()
		(*h).ServeHTTP(w, r)
		e.serverTime.Add(int64(time.Since(start)))
	}))
	t.Cleanup(srv.Close)
	e.URL, e.Client = srv.URL, srv.Client()
	if o.PublicURL {
		cfg.PublicURL = srv.URL
	}
	var runner *jobs.Runner
	if o.Jobs {
		if _, err := jobs.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		if runner, err = jobs.New(jobs.Config{DB: db, Logger: logger, PollInterval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		cfg.Jobs = runner
	}
	if e.Fixture.Endpoints != nil {
		ep := e.Fixture.Endpoints(e.HostURL)
		cfg.GitHubAPIURL, cfg.GitLabURL = ep.GitHubAPIURL, ep.GitLabURL
	}
	e.App, e.cfg, e.Runner = app.New(cfg), cfg, runner
	if e.App.Indexer != nil {
		t.Cleanup(func() { _ = e.App.Indexer.Close() })
	} else if o.Index {
		t.Fatal("the index is off: is git installed? (scripts/ensure-git)")
	}
	if runner != nil {
		if err := runner.Start(ctx); err != nil {
			t.Fatal(err)
		}
		// Registered after the indexer's Close: runs before it.
		t.Cleanup(func() { _ = runner.Stop(context.Background()) })
	}
	if _, err := app.Bootstrap(ctx, db, e.App.Directory, ""); err != nil {
		t.Fatal(err)
	}
	dir := e.App.Directory
	if _, _, err := dir.AddUser(ctx, relay.LocalTenant, directoryUser("bob", "Bob")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dir.AddUser(ctx, relay.LocalTenant, directoryUser("carol", "Carol")); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddProject(ctx, relay.LocalTenant, "ABC", "Alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddProject(ctx, relay.LocalTenant, "XYZ", "Other"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"admin", "bob"} {
		if _, err := dir.Grant(ctx, relay.LocalTenant, "ABC", u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dir.Grant(ctx, relay.LocalTenant, "XYZ", "carol"); err != nil {
		t.Fatal(err)
	}
	for name, dst := range map[string]*string{"admin": &e.Admin, "bob": &e.Bob, "carol": &e.Carol} {
		if *dst, err = dir.NewAPIToken(ctx, relay.LocalTenant, name, "test"); err != nil {
			t.Fatal(err)
		}
	}
	h := e.App.Server.Handler()
	handler.Store(&h)
	return e
}

// Replica is another gitrelay serving the same database and hosts as an
// Env (Options.Index and Options.Jobs), as a replica behind a load
// balancer does, with its own data directory and job runner.
type Replica struct {
	App     *app.App
	Runner  *jobs.Runner
	DataDir string
}

// Replica starts another replica of e, keeping its clones in dataDir (""
// a new one; a data directory used before makes it the same replica
// again). Stop its Runner to stop it, as a replica killed or shut down
// stops; the test's end stops it otherwise.
func (e *Env) Replica(dataDir string) *Replica {
	e.T.Helper()
	if e.Runner == nil || e.App.Indexer == nil {
		e.T.Fatal("a replica needs Options.Index and Options.Jobs")
	}
	if dataDir == "" {
		dataDir = e.T.TempDir()
	}
	runner, err := jobs.New(jobs.Config{DB: e.DB, Logger: e.cfg.Logger, PollInterval: 50 * time.Millisecond})
	if err != nil {
		e.T.Fatal(err)
	}
	cfg := e.cfg
	cfg.Jobs, cfg.Index.DataDir = runner, dataDir
	r := &Replica{App: app.New(cfg), Runner: runner, DataDir: dataDir}
	if r.App.Indexer == nil {
		e.T.Fatal("the replica's index is off")
	}
	e.T.Cleanup(func() { _ = r.App.Indexer.Close() })
	if err := runner.Start(context.Background()); err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(func() { _ = runner.Stop(context.Background()) })
	return r
}

// Response is an API answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// List decodes the body as a JSON list of objects.
func (r Response) List() []map[string]any {
	var l []map[string]any
	_ = json.Unmarshal(r.Body, &l)
	return l
}

// Code is the error code of an error answer.
func (r Response) Code() string {
	if e, ok := r.JSON()["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// ErrorField reads a field of the error object.
func (r Response) ErrorField(name string) string {
	if e, ok := r.JSON()["error"].(map[string]any); ok {
		s, _ := e[name].(string)
		return s
	}
	return ""
}

// Do sends a request as the holder of token (empty: anonymous) with body
// marshalled to JSON (nil: none).
func (e *Env) Do(method, path, token string, body any) Response {
	e.T.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	e.bodiesMu.Lock()
	e.bodies.Write(b)
	for k, vs := range resp.Header {
		e.bodies.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	e.bodiesMu.Unlock()
	// The OpenAPI document is a contract: an answer it does not describe
	// fails the test that received it.
	if strings.HasPrefix(req.URL.Path, "/api/v1/") {
		if err := openapitest.Check(req, resp.StatusCode, resp.Header, b); err != nil {
			e.T.Errorf("%s %s answered %d, which openapi.json does not describe: %v\nbody: %s", method, path, resp.StatusCode, err, b)
		}
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Responses is every response body and header seen so far.
func (e *Env) Responses() string {
	e.bodiesMu.Lock()
	defer e.bodiesMu.Unlock()
	return e.bodies.String()
}

// Integration creates a GitHub Enterprise integration on the simulator as
// the administrator and returns its id.
func (e *Env) Integration(requireUserPAT bool, projects []string) string {
	e.T.Helper()
	body := e.Fixture.Integration(e.HostURL)
	body["name"], body["credential"] = "GHE", e.Fixture.Credential(BotToken)
	body["require_user_pat"], body["projects"] = requireUserPAT, projects
	r := e.Do("POST", "/api/v1/integrations", e.Admin, body)
	if r.Status != http.StatusCreated {
		e.T.Fatalf("creating integration: %d %s", r.Status, r.Body)
	}
	id := r.JSON()["id"].(string)
	if e.RepoID == "" {
		// Repository ids are the host's own (numbers, GUIDs, names): learn
		// the test repository's through the API.
		repos := e.Do("GET", "/api/v1/integrations/"+id+"/repositories?q=widgets", e.Admin, nil).List()
		if len(repos) != 1 {
			e.T.Fatalf("repositories matching widgets: %v", repos)
		}
		e.RepoID = repos[0]["id"].(string)
	}
	return id
}

// SaveToken saves a PAT for the holder of apiToken.
func (e *Env) SaveToken(apiToken, integrationID, pat string) Response {
	e.T.Helper()
	return e.Do("PUT", "/api/v1/me/tokens/"+integrationID, apiToken, e.Fixture.Credential(pat))
}

// CreateBranch asks for a branch for issue ABC-1 in the test repository.
func (e *Env) CreateBranch(apiToken, integrationID, name string) Response {
	e.T.Helper()
	return e.Do("POST", "/api/v1/issues/ABC-1/branches", apiToken, map[string]any{
		"integration_id": integrationID, "repository_id": e.RepoID, "name": name})
}

// Push moves a branch of the test repository forward by a commit, as a
// developer pushing work does: some hosts (GitHub) refuse a pull request
// from a branch with no commits of its own.
func (e *Env) Push(branch string) { e.Sim.Commit(Repo, branch) }

// Writes returns the simulator's write log.
func (e *Env) Writes() []hostsim.Write { return e.Sim.Writes() }
