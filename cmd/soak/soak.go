package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
)

// world is everything one soak runs.
type world struct {
	cfg      config
	log      *slog.Logger
	env      []string
	logDir   string
	dbURL    string
	sim      *hostsim.Sim
	simURL   string
	fake     *jiratest.Fake
	proxy    *proxy
	proxyURL string
	replicas []*replica
	tenants  []*tenant
	users    []*user
	client   *http.Client
	stats    *stats
	events   events
	stopErrs []string // replicas that did not stop cleanly on SIGTERM
}

// tenant is the built-in directory's tenant or one Jira site.
type tenant struct {
	index         int
	jira          bool
	cloudID       string
	installation  string
	siteURL       string
	systemToken   string
	admin         *user
	project       string
	integrationID string
	repos         []hostsim.Repo
	botLogin      string
}

// user is one simulated person.
type user struct {
	index    int
	t        *tenant
	name     string // username, or Jira account id
	apiToken string // built-in directory
	jiraTok  string // Jira user token (x-forge-oauth-user)
	login    string // the host account of their PAT
	pat      string
	issue    string
	rng      *rand.Rand
	fitMu    sync.Mutex
	fitToken string
	fitAt    time.Time
	// What the user knows they created and may use again.
	branches   []*ownBranch
	nextBranch int
	shared     bool
}

type ownBranch struct {
	repo  hostsim.Repo
	name  string
	hasPR bool
}

// events are what happened to the deployment during the load.
type events struct {
	mu         sync.Mutex
	killed     string
	killedAt   time.Time
	restarted  string
	terminated string
}

func (e *events) set(field *string, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	*field = v
}

func soak(ctx context.Context, cfg config, stderr io.Writer) (*report, error) {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	w := &world{cfg: cfg, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), stats: newStats()}
	w.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 2 * time.Minute}
	start := time.Now()

	w.logDir = cfg.logs
	if w.logDir == "" {
		dir, err := os.MkdirTemp("", "gitrelay-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		w.logDir = dir
	} else if err := os.MkdirAll(w.logDir, 0o700); err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "gitrelay-soak-data-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)

	// A password file, so that no password is printed into the logs.
	passwordFile := dataDir + "/admin-password"
	if err := os.WriteFile(passwordFile, []byte(randomHex(16)), 0o600); err != nil {
		return nil, err
	}

	dbURL, drop, err := database(ctx, cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	defer drop()
	w.dbURL = dbURL

	w.sim = hostsim.New()
	defer w.sim.Close()
	simSrv := httptest.NewServer(w.sim.Handler())
	defer simSrv.Close()
	w.simURL = simSrv.URL

	fake, stopFake, err := jiratest.Serve()
	if err != nil {
		return nil, err
	}
	defer stopFake()
	w.fake = fake

	w.proxy = newProxy(cfg.replicas)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	proxySrv := &http.Server{Handler: w.proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = proxySrv.Serve(ln) }()
	defer proxySrv.Close()
	w.proxyURL = "http://" + ln.Addr().String()

	w.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GITRELAY_DATA=" + dataDir, "GITRELAY_DATABASE_URL=" + dbURL, "GITRELAY_SECRET_KEY=" + randomKey(),
		"GITRELAY_EGRESS_ALLOW=127.0.0.0/8", "GITRELAY_HOST_TIMEOUT=" + cfg.hostTimeout.String(),
		"GITRELAY_TRUSTED_PROXIES=127.0.0.1/32", "GITRELAY_PUBLIC_URL=" + w.proxyURL,
		"GITRELAY_JIRA_APP_ID=" + jiratest.AppID, "GITRELAY_JIRA_JWKS_URL=" + fake.JWKSURL(),
		"GITRELAY_JIRA_AUTH_URL=" + fake.URL, "GITRELAY_JIRA_API_URL=" + fake.URL,
		"GITRELAY_ADMIN_PASSWORD_FILE=" + passwordFile, "GITRELAY_LOG_LEVEL=warn"}

	// The first replica migrates the empty database and creates the
	// administrator; the others start together after it.
	w.replicas = make([]*replica, cfg.replicas)
	if w.replicas[0], err = startReplica(ctx, cfg.gitrelay, w.env, 0, w.logDir, 1); err != nil {
		return nil, err
	}
	w.proxy.backends[0].bringUp(w.replicas[0].url)
	var wg sync.WaitGroup
	errs := make([]error, cfg.replicas)
	for i := 1; i < cfg.replicas; i++ {
		wg.Go(func() {
			w.replicas[i], errs[i] = startReplica(ctx, cfg.gitrelay, w.env, i, w.logDir, 1)
			if errs[i] == nil {
				w.proxy.backends[i].bringUp(w.replicas[i].url)
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, r := range w.replicas {
			if r != nil && r.running() {
				r.kill()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w.log.Info("replicas up", "replicas", cfg.replicas, "proxy", w.proxyURL)

	if err := w.setup(ctx); err != nil {
		return nil, fmt.Errorf("setting up tenants and users: %w", err)
	}
	w.log.Info("set up", "tenants", len(w.tenants), "users", len(w.users))
	// Setup ran at full speed; the load meets a host with latency.
	w.sim.SetLatency(cfg.latency)
	if cfg.faults {
		injectFaults(w.sim)
	}

	loadStart := time.Now()
	notRun := w.load(ctx)
	loadTime := time.Since(loadStart)
	w.log.Info("load done", "took", loadTime)

	drained, err := w.drain(ctx)
	if err != nil {
		return nil, err
	}
	panels, err := w.checkPanels(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range w.replicas {
		if r != nil && r.running() {
			if err := r.stop(); err != nil {
				w.stopErrs = append(w.stopErrs, fmt.Sprintf("replica %d: %v", r.index, err))
			}
		}
	}
	w.events.mu.Lock()
	killedAt := w.events.killedAt
	w.events.mu.Unlock()
	rep, err := w.verify(ctx, killedAt)
	if err != nil {
		return nil, err
	}
	rep.cfg = cfg
	rep.notRun = notRun
	rep.loadTime = loadTime
	rep.total = time.Since(start)
	rep.drained = drained
	rep.panels = panels
	rep.stopErrs = w.stopErrs
	w.events.mu.Lock()
	rep.killed, rep.restarted, rep.terminated = w.events.killed, w.events.restarted, w.events.terminated
	w.events.mu.Unlock()
	if cfg.logs != "" {
		rep.logs = cfg.logs
	}
	return rep, nil
}

// injectFaults makes the host misbehave steadily: every n-th matching
// request fails, so that a run's fault rate does not depend on chance.
// The primes keep the faults from always hitting the same requests.
func injectFaults(sim *hostsim.Sim) {
	sim.Inject(hostsim.Fault{Every: 211, Hang: true})                                                                  // a timeout
	sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Every: 29, Cut: true})                                        // done, answer lost
	sim.Inject(hostsim.Fault{Op: hostsim.OpCreatePullRequest, Every: 31, Cut: true})                                   // done, answer lost
	sim.Inject(hostsim.Fault{Every: 37, Status: http.StatusServiceUnavailable})                                        // 503
	sim.Inject(hostsim.Fault{Every: 41, Status: http.StatusBadGateway})                                                // 502
	sim.Inject(hostsim.Fault{Every: 53, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Secondary: true}) // 429
	sim.Inject(hostsim.Fault{Every: 13, Delay: 250 * time.Millisecond})                                                // slow
}

// setup creates the tenants, their integrations and the users, through
// the proxy, without faults.
func (w *world) setup(ctx context.Context) error {
	cfg := w.cfg
	local := cfg.users - cfg.jiraUsers
	var ts []*tenant
	if local > 0 {
		ts = append(ts, &tenant{index: 0, project: "LOC"})
	}
	sites := (cfg.jiraUsers + cfg.usersPerSite - 1) / cfg.usersPerSite
	for i := range sites {
		n := len(ts)
		ts = append(ts, &tenant{index: n, jira: true, project: fmt.Sprintf("S%dP", i+1),
			cloudID: fmt.Sprintf("soak-cloud-%d", i+1), installation: fmt.Sprintf("ari:cloud:ecosystem::installation/soak-%d", i+1),
			siteURL: fmt.Sprintf("https://soak-%d.atlassian.example", i+1)})
	}
	w.tenants = ts
	// Users and their host accounts first: repositories name their writers.
	for i := range cfg.users {
		var t *tenant
		if i < local {
			t = ts[0]
		} else {
			t = ts[len(ts)-sites+(i-local)/cfg.usersPerSite]
		}
		u := &user{index: i, t: t, name: fmt.Sprintf("user%04d", i), login: fmt.Sprintf("gh-user%04d", i),
			pat: fmt.Sprintf("ghp_soakuser%04d%s", i, randomHex(12)),
			rng: rand.New(rand.NewPCG(uint64(cfg.seed), uint64(i)))}
		u.issue = fmt.Sprintf("%s-%d", t.project, i+2)
		w.users = append(w.users, u)
		w.sim.AddToken(hostsim.Token{Value: u.pat, Login: u.login, Scopes: []string{"repo"}})
	}
	for _, t := range ts {
		t.botLogin = fmt.Sprintf("soak-bot-%d", t.index)
		bot := fmt.Sprintf("ghp_soakbot%04d%s", t.index, randomHex(12))
		w.sim.AddToken(hostsim.Token{Value: bot, Login: t.botLogin, Scopes: []string{"repo"}})
		writers := []string{t.botLogin}
		for _, u := range w.users {
			if u.t == t {
				writers = append(writers, u.login)
			}
		}
		for _, name := range []string{"api", "web"} {
			t.repos = append(t.repos, w.sim.AddRepo(hostsim.Repo{Owner: fmt.Sprintf("org%d", t.index), Name: name, Private: true, Writers: writers}))
		}
		if err := w.setupTenant(ctx, t, bot); err != nil {
			return fmt.Errorf("tenant %d: %w", t.index, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(w.users))
	sem := make(chan struct{}, 4)
	for i, u := range w.users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = w.setupUser(ctx, u)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (w *world) setupTenant(ctx context.Context, t *tenant, bot string) error {
	integration := map[string]any{"kind": "github-enterprise", "name": "GHE", "base_url": w.simURL,
		"credential": map[string]string{"token": bot}, "require_user_pat": false, "projects": nil}
	if !t.jira {
		out, err := gitrelayCLI(ctx, w.cfg.gitrelay, w.env, "users", "api-token", "admin")
		if err != nil {
			return err
		}
		t.admin = &user{name: "admin", apiToken: strings.TrimSpace(out), t: t}
		if _, err := w.must(t.admin, "POST", "/projects", map[string]any{"key": t.project, "name": "Soak"}, 201); err != nil {
			return err
		}
		if _, err := w.must(t.admin, "POST", "/projects/"+t.project+"/grants", map[string]any{"everyone": true}, 201, 204, 200); err != nil {
			return err
		}
	} else {
		w.fake.AddSite(t.cloudID, t.siteURL)
		t.systemToken = w.fake.SystemToken(t.cloudID)
		t.admin = &user{name: "admin-" + t.cloudID, t: t}
		t.admin.jiraTok = w.fake.AddUser(t.cloudID, jiratest.User{AccountID: t.admin.name, DisplayName: "Admin", Admin: true, DevTools: []string{t.project}})
		fit := w.fake.FIT(jiratest.Claims{InstallationID: t.installation, CloudID: t.cloudID, SiteURL: t.siteURL})
		req, _ := http.NewRequestWithContext(ctx, "POST", w.proxyURL+"/forge/lifecycle", strings.NewReader(`{"eventType":"`+jira.EventInstalled+`"}`))
		req.Header.Set("Authorization", "Bearer "+fit)
		req.Header.Set("X-Forge-Oauth-System", t.systemToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := w.client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("installing site %s: %d", t.cloudID, resp.StatusCode)
		}
		w.fake.AddIssue(t.cloudID, t.project+"-1", jiratest.Issue{Summary: "Shared work", Type: "Task"})
	}
	body, err := w.must(t.admin, "POST", "/integrations", integration, 201)
	if err != nil {
		return err
	}
	t.integrationID, _ = body["id"].(string)
	return nil
}

func (w *world) setupUser(ctx context.Context, u *user) error {
	t := u.t
	if t.jira {
		u.jiraTok = w.fake.AddUser(t.cloudID, jiratest.User{AccountID: u.name, DisplayName: "User " + u.name, DevTools: []string{t.project}})
		w.fake.AddIssue(t.cloudID, u.issue, jiratest.Issue{Summary: "Work of " + u.name, Type: "Task"})
		return nil
	}
	if _, err := w.must(t.admin, "POST", "/users", map[string]any{"username": u.name, "display_name": "User " + u.name}, 201); err != nil {
		return err
	}
	body, err := w.must(t.admin, "POST", "/users/"+u.name+"/api-tokens", map[string]any{"name": "soak"}, 201)
	if err != nil {
		return err
	}
	u.apiToken, _ = body["token"].(string)
	return nil
}

// answer is what one request got.
type answer struct {
	status int
	code   string
	body   map[string]any
	proxy  string // set when the proxy answered for a failed backend
	err    error
}

// do sends one request as u: the JSON API for the built-in directory, the
// Forge remote (with a fresh invocation token) for Jira users. path is
// relative to /api/v1 or /forge.
func (w *world) do(ctx context.Context, u *user, method, path string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	prefix := "/api/v1"
	if u.t.jira {
		prefix = "/forge"
	}
	req, err := http.NewRequestWithContext(ctx, method, w.proxyURL+prefix+path, rd)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.t.jira {
		req.Header.Set("Authorization", "Bearer "+w.fit(u))
		req.Header.Set("X-Forge-Oauth-User", u.jiraTok)
		req.Header.Set("X-Forge-Oauth-System", u.t.systemToken)
	} else {
		req.Header.Set("Authorization", "Bearer "+u.apiToken)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, proxy: resp.Header.Get(proxyHeader), err: err}
	_ = json.Unmarshal(raw, &a.body)
	if e, ok := a.body["error"].(map[string]any); ok {
		a.code, _ = e["code"].(string)
	}
	return a
}

// fit is an invocation token for u. Forge signs one per invocation; the
// soak reuses one for 10 of its 25 seconds, so that RSA signatures do not
// take the cores gitrelay is measured on.
func (w *world) fit(u *user) string {
	u.fitMu.Lock()
	defer u.fitMu.Unlock()
	if u.fitToken == "" || time.Since(u.fitAt) > 10*time.Second {
		u.fitAt = time.Now()
		u.fitToken = w.fake.FIT(jiratest.Claims{InstallationID: u.t.installation, CloudID: u.t.cloudID, SiteURL: u.t.siteURL,
			AccountID: u.name, IssuedAt: u.fitAt})
	}
	return u.fitToken
}

// must sends a setup request and wants one of the statuses. Creating a
// user hashes a password, which gitrelay bounds: busy answers are sent
// again after the wait they ask for.
func (w *world) must(u *user, method, path string, body any, want ...int) (map[string]any, error) {
	a := w.do(context.Background(), u, method, path, body)
	for try := 0; a.err == nil && a.code == "busy" && try < 20; try++ {
		time.Sleep(time.Second)
		a = w.do(context.Background(), u, method, path, body)
	}
	if a.err != nil {
		return nil, a.err
	}
	for _, s := range want {
		if a.status == s {
			return a.body, nil
		}
	}
	return nil, fmt.Errorf("%s %s: %d %v", method, path, a.status, a.body)
}

// load runs every user's actions concurrently, killing and restarting a
// replica after a third of them and terminating PostgreSQL's connections
// after two thirds. It returns how many actions the time bound left out.
func (w *world) load(ctx context.Context) int {
	total := len(w.users) * w.cfg.actions
	var done atomic.Int64
	var notRun atomic.Int64
	deadline := time.Now().Add(w.cfg.duration)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(2*w.cfg.hostTimeout+30*time.Second))
	defer cancel()

	loadDone := make(chan struct{})
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		w.faultsDuring(ctx, &done, total, loadDone)
	}()

	var wg sync.WaitGroup
	for _, u := range w.users {
		wg.Go(func() {
			for i := range w.cfg.actions {
				if time.Now().After(deadline) || ctx.Err() != nil {
					notRun.Add(int64(w.cfg.actions - i))
					return
				}
				w.act(ctx, u)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(loadDone)
	<-faultsDone
	return int(notRun.Load())
}

// faultsDuring kills one replica with SIGKILL once a third of the actions
// are done, restarts it, and terminates the database's connections once
// two thirds are done.
func (w *world) faultsDuring(ctx context.Context, done *atomic.Int64, total int, loadDone <-chan struct{}) {
	wait := func(n int) bool {
		for done.Load() < int64(n) {
			select {
			case <-loadDone:
				return false
			case <-ctx.Done():
				return false
			case <-time.After(20 * time.Millisecond):
			}
		}
		return true
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if !wait(2 * total / 3) {
			return
		}
		n, err := terminateBackends(ctx, w.cfg.databaseURL, w.dbURL)
		if err != nil {
			w.events.set(&w.events.terminated, "terminating FAILED: "+err.Error())
			return
		}
		w.events.set(&w.events.terminated, fmt.Sprintf("%d PostgreSQL connections terminated after %d actions", n, done.Load()))
		w.log.Info("terminated backends", "n", n, "done", done.Load())
	})
	defer wg.Wait()

	victim := len(w.replicas) - 1
	if !wait(total / 3) {
		return
	}
	w.proxy.backends[victim].takeDown()
	w.replicas[victim].kill()
	w.events.mu.Lock()
	w.events.killedAt = time.Now()
	w.events.mu.Unlock()
	w.events.set(&w.events.killed, fmt.Sprintf("replica %d killed (SIGKILL) after %d of %d actions", victim, done.Load(), total))
	w.log.Info("killed", "replica", victim, "done", done.Load())
	// A load balancer notices a dead backend after some health checks;
	// its replacement starts meanwhile.
	time.Sleep(time.Second)
	r, err := startReplica(ctx, w.cfg.gitrelay, w.env, victim, w.logDir, 2)
	if err != nil {
		w.events.set(&w.events.restarted, "restart FAILED: "+err.Error())
		return
	}
	w.replicas[victim] = r
	w.proxy.backends[victim].bringUp(r.url)
	w.events.set(&w.events.restarted, fmt.Sprintf("replica %d restarted after %d actions", victim, done.Load()))
}
