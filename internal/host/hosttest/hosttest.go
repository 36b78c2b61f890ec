// Package hosttest is the contract suite every host adapter passes: the
// same scenarios (validate a token, list repositories and branches, create
// and delete a branch, open a pull request, every refusal the
// relay.HostClient contract names, and transient faults: reads survive a
// dropped connection, a 503 and a 429, writes are sent once) run against
// the hostsim simulator speaking the adapter's API.
//
// A new host kind needs a hostsim front-end and one test:
//
//	func TestContract(t *testing.T) {
//		hosttest.Run(t, hosttest.Env{
//			Serve:   (*hostsim.Sim).GitLab,
//			Adapter: func(u string) (host.Adapter, relay.HostConfig) { ... },
//			Full:    hostsim.Token{Scopes: []string{"api"}},
//			...
//		})
//	}
package hosttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Env describes one host kind to the suite.
type Env struct {
	// Serve returns the simulator front-end speaking the kind's API, such
	// as (*hostsim.Sim).GitHub.
	Serve func(sim *hostsim.Sim) http.Handler
	// Adapter returns the adapter under test and the host settings (before
	// CheckConfig) that point it at the simulator served at baseURL.
	Adapter func(baseURL string) (host.Adapter, relay.HostConfig)
	// Credential turns a simulator token into the credential the adapter
	// takes; default relay.TokenCredential(token).
	Credential func(token string) relay.Credential

	// Full is the shape of a token that can do all gitrelay needs. The
	// suite sets Value, Login, Name and ExpiresAt.
	Full hostsim.Token
	// Limited are token shapes that authenticate but may not create
	// branches, each with the code creating a branch with it gets in a
	// private repository its login may push to.
	Limited []Limited
	// ReportsScopes says Validate returns the token's scopes (then they
	// must equal Full.Scopes, nil included); otherwise Scopes must be nil.
	ReportsScopes bool
	// ReportsExpiry says Validate returns the token's expiry; otherwise
	// ExpiresAt must be nil.
	ReportsExpiry bool
	// ExpiryIsDate says the host reports expiry as a date (GitLab): the
	// suite then uses expiries at midnight UTC.
	ExpiryIsDate bool
	// DraftsNeverRefused says the host marks drafts in a way no repository
	// can refuse (GitLab's and Gitea's title prefixes): the refusal
	// scenario does not apply.
	DraftsNeverRefused bool
	// AcceptsEmptyPullRequests says the host opens a pull request from a
	// branch with no commits of its own (GitLab, Gitea, Azure DevOps,
	// CodeCommit); otherwise it refuses one, as GitHub does ("No commits
	// between"), and the adapter must say what to do about it.
	AcceptsEmptyPullRequests bool
	// NoDisplayName says the host has no display names (AWS IAM users):
	// Validate's Name is then not compared.
	NoDisplayName bool
	// NoPushCode is the code for creating a branch in a public repository
	// the login may not push to; default relay.EScopeMissing.
	NoPushCode string
	// Hooks, when set, says the kind registers webhooks
	// (relay.HookRegistrar) and how; when nil its clients must not.
	Hooks *Hooks
}

// Hooks describes how a host kind registers webhooks to the suite.
type Hooks struct {
	// Token is the shape of a token that may manage the webhooks of a
	// repository its login administers.
	Token hostsim.Token
	// Lacking is a token shape the host refuses to manage webhooks with,
	// even on a repository its login administers (a scope missing); nil
	// when every token may.
	Lacking *hostsim.Token
	// Events are the events to subscribe, in the host's names.
	Events []string
	// Secret makes the hook's proof of a secret: default
	// relay.TokenCredential; basic authentication for Azure DevOps.
	Secret func(secret string) relay.Credential
	// Refused, when set, is the code every webhook call gets from a
	// version of the host without webhooks (TFS 2013), which then sends
	// nothing.
	Refused string
}

// Limited is a token that authenticates but lacks a permission.
type Limited struct {
	Name  string
	Token hostsim.Token
	Code  string // relay.EScopeMissing, or relay.ENotFound where the host hides
}

// Run runs the contract suite, each scenario in parallel against its own
// simulator.
func Run(t *testing.T, env Env) {
	t.Helper()
	if env.Serve == nil || env.Adapter == nil {
		t.Fatal("hosttest: Env needs Serve and Adapter")
	}
	if env.Credential == nil {
		env.Credential = func(token string) relay.Credential { return relay.TokenCredential(token) }
	}
	if env.NoPushCode == "" {
		env.NoPushCode = relay.EScopeMissing
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(setup(t, env))
		})
	}
}

// The world every scenario starts from.
const (
	alice     = "alice"
	bob       = "bob"
	carol     = "carol"
	widgets   = "acme/widgets"   // private; alice pushes
	gadgets   = "acme/gadgets"   // public; carol pushes, alice only reads
	legacy    = "acme/legacy"    // private; alice pushes; refuses drafts
	dotfiles  = "alice/dotfiles" // private; alice owns
	bobSecret = "bob/secret"     // private; only bob
)

var displayNames = map[string]string{alice: "Alice Liddell", bob: "Bob Builder", carol: "Carol Danvers"}

type fixture struct {
	t       *testing.T
	env     Env
	sim     *hostsim.Sim
	adapter host.Adapter
	cfg     relay.HostConfig
	caps    relay.Capabilities

	mu      sync.Mutex
	secrets []string
	waits   []time.Duration // the retry policy's waits, recorded, not slept
	logs    logbuf.Buffer   // the clients' debug log
}

func setup(t *testing.T, env Env) *fixture {
	sim := hostsim.New()
	srv := httptest.NewServer(env.Serve(sim))
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases hung requests
	a, cfg := env.Adapter(srv.URL)
	norm, err := a.CheckConfig(cfg)
	if err != nil {
		t.Fatalf("CheckConfig(%+v): %v", cfg, err)
	}
	again, err := a.CheckConfig(norm)
	if err != nil || again.BaseURL != norm.BaseURL || again.Kind != norm.Kind {
		t.Fatalf("CheckConfig is not idempotent: %+v then %+v, %v", norm, again, err)
	}
	f := &fixture{t: t, env: env, sim: sim, adapter: a, cfg: norm, caps: a.Capabilities(norm)}
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{alice}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Writers: []string{carol}, Readers: []string{alice}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "legacy", Private: true, Writers: []string{alice}, DraftsUnsupported: true})
	sim.AddRepo(hostsim.Repo{Owner: "alice", Name: "dotfiles", Private: true})
	sim.AddRepo(hostsim.Repo{Owner: "bob", Name: "secret", Private: true})
	t.Cleanup(func() { f.noSecrets("the simulator's write log", sim.Writes()) })
	t.Cleanup(func() { f.noSecrets("the clients' log", f.logs.String()) })
	return f
}

// token adds a token of the given shape for login and returns its value, a
// canary the suite looks for in every error and log.
func (f *fixture) token(login string, shape hostsim.Token) string {
	f.mu.Lock()
	value := fmt.Sprintf("canary%sT%02dxQ7v", login, len(f.secrets))
	f.secrets = append(f.secrets, value)
	f.mu.Unlock()
	shape.Value, shape.Login, shape.Name = value, login, displayNames[login]
	f.sim.AddToken(shape)
	return value
}

func (f *fixture) full(login string) string { return f.token(login, f.env.Full) }

func (f *fixture) client(token string) relay.HostClient {
	return f.clientTimeout(token, 5*time.Second)
}

func (f *fixture) clientTimeout(token string, timeout time.Duration) relay.HostClient {
	f.t.Helper()
	hc := host.NewHTTPClient(host.ClientConfig{
		Timeout: timeout,
		Egress:  host.Egress{Allow: host.MustAllowlist(LoopbackAllowed)},
		// The production policy, its waits recorded instead of slept.
		Retries: host.RetryPolicy{Sleep: f.sleep, Logger: slog.New(slog.NewTextHandler(&f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
	})
	c, err := f.adapter.NewClient(f.cfg, f.env.Credential(token), hc)
	if err != nil {
		f.t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (f *fixture) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err()
}

// waited is how many waits the retry policy made, and the last.
func (f *fixture) waited() (n int, last time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waits) > 0 {
		last = f.waits[len(f.waits)-1]
	}
	return len(f.waits), last
}

// repo finds a repository by the simulator's full name through the
// client, as gitrelay would.
func (f *fixture) repo(c relay.HostClient, fullName string) relay.Repository {
	f.t.Helper()
	owner, name, _ := strings.Cut(fullName, "/")
	list, err := c.Repositories(f.t.Context(), name)
	f.ok(err, "Repositories(%q)", name)
	for _, r := range list {
		if strings.EqualFold(r.Name, name) && strings.Contains(strings.ToLower(r.FullName), strings.ToLower(owner)) {
			return r
		}
	}
	f.t.Fatalf("Repositories(%q) = %+v, want %s among them", name, list, fullName)
	return relay.Repository{}
}

func (f *fixture) ok(err error, format string, args ...any) {
	f.t.Helper()
	if err != nil {
		f.noSecrets("an error", err)
		f.t.Fatalf("%s: unexpected error: %v", fmt.Sprintf(format, args...), err)
	}
}

// want checks err is a *relay.Error with code and a message to show.
func (f *fixture) want(err error, code string, format string, args ...any) *relay.Error {
	f.t.Helper()
	what := fmt.Sprintf(format, args...)
	if err == nil {
		f.t.Fatalf("%s: got no error, want %s", what, code)
	}
	f.noSecrets(what, err)
	var e *relay.Error
	if !errors.As(err, &e) {
		f.t.Fatalf("%s: got %T (%v), want a *relay.Error with code %s", what, err, err, code)
	}
	if e.Code != code {
		f.t.Fatalf("%s: code = %s (%q), want %s", what, e.Code, e.Message, code)
	}
	if strings.TrimSpace(e.Message) == "" || strings.HasPrefix(e.Message, code) {
		f.t.Errorf("%s: message %q does not explain %s to a person", what, e.Message, code)
	}
	return e
}

// noSecrets fails when any token the fixture made shows in v, however
// printed.
func (f *fixture) noSecrets(what string, v any) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	printed := Printed(v)
	for _, secret := range f.secrets {
		for _, p := range printed {
			if strings.Contains(p, secret) {
				f.t.Errorf("%s shows a token: %s", what, p)
				return
			}
		}
	}
}

func (f *fixture) writes(op hostsim.Op) []hostsim.Write {
	var out []hostsim.Write
	for _, w := range f.sim.Writes() {
		if w.Op == op {
			out = append(out, w)
		}
	}
	return out
}

type scenario struct {
	name string
	run  func(f *fixture)
}

var scenarios = []scenario{
	{"capabilities and token page", func(f *fixture) {
		if f.caps.PAT {
			if f.caps.TokenHelp == "" {
				f.t.Error("Capabilities.TokenHelp is empty for a host with PATs")
			}
			link := f.adapter.NewTokenURL(f.cfg, "gitrelay ABC")
			if link != "" {
				if u, err := url.Parse(link); err != nil || !u.IsAbs() {
					f.t.Errorf("NewTokenURL = %q, want an absolute URL", link)
				}
			}
		}
	}},

	{"validate reports login, name, scopes and expiry", func(f *fixture) {
		exp := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second).UTC()
		if f.env.ExpiryIsDate {
			exp = exp.Truncate(24 * time.Hour)
		}
		shape := f.env.Full
		shape.ExpiresAt = &exp
		c := f.client(f.token(alice, shape))
		f.noSecrets("the client, printed", c)
		acc, err := c.Validate(f.t.Context())
		f.ok(err, "Validate")
		f.noSecrets("the client after use, printed", c)
		if acc.Login != alice || (!f.env.NoDisplayName && acc.Name != displayNames[alice]) {
			f.t.Errorf("Validate = %q (%q), want %q (%q)", acc.Login, acc.Name, alice, displayNames[alice])
		}
		switch {
		case !f.env.ReportsScopes && acc.Scopes != nil:
			f.t.Errorf("Scopes = %q, want nil (the host does not report scopes)", acc.Scopes)
		case f.env.ReportsScopes && !equalScopes(acc.Scopes, f.env.Full.Scopes):
			f.t.Errorf("Scopes = %#v, want %#v", acc.Scopes, f.env.Full.Scopes)
		}
		switch {
		case !f.env.ReportsExpiry && acc.ExpiresAt != nil:
			f.t.Errorf("ExpiresAt = %v, want nil (the host does not report expiry)", acc.ExpiresAt)
		case f.env.ReportsExpiry && (acc.ExpiresAt == nil || !acc.ExpiresAt.Equal(exp)):
			f.t.Errorf("ExpiresAt = %v, want %v", acc.ExpiresAt, exp)
		}
	}},

	{"validate reports no expiry for a token that never expires", func(f *fixture) {
		acc, err := f.client(f.full(alice)).Validate(f.t.Context())
		f.ok(err, "Validate")
		if acc.ExpiresAt != nil {
			f.t.Errorf("ExpiresAt = %v, want nil", acc.ExpiresAt)
		}
	}},

	{"unknown, revoked and expired tokens are rejected", func(f *fixture) {
		good := f.client(f.full(alice))
		repo := f.repo(good, widgets)
		main, err := good.Branch(f.t.Context(), repo, repo.DefaultBranch)
		f.ok(err, "Branch(default)")

		unknown := "canaryunknownxQ7v"
		f.mu.Lock()
		f.secrets = append(f.secrets, unknown)
		f.mu.Unlock()
		revoked, expired := f.full(alice), f.full(alice)
		f.sim.RevokeToken(revoked)
		f.sim.ExpireToken(expired)
		for name, token := range map[string]string{"unknown": unknown, "revoked": revoked, "expired": expired} {
			c := f.client(token)
			_, err := c.Validate(f.t.Context())
			f.want(err, relay.ECredentialRejected, "Validate with a %s token", name)
			_, err = c.CreateBranch(f.t.Context(), repo, "ABC-1-"+name, main.SHA)
			f.want(err, relay.ECredentialRejected, "CreateBranch with a %s token", name)
		}
		if n := len(f.sim.Branches(widgets)); n != 1 {
			f.t.Errorf("%d branches after refused creations, want 1", n)
		}
	}},

	{"repositories lists only writable repositories, filtered by name", func(f *fixture) {
		c := f.client(f.full(alice))
		all, err := c.Repositories(f.t.Context(), "")
		f.ok(err, "Repositories")
		if got, want := names(all), []string{"dotfiles", "legacy", "widgets"}; !slices.Equal(got, want) {
			f.t.Errorf("Repositories(\"\") = %q, want %q (only those alice may push to)", got, want)
		}
		some, err := c.Repositories(f.t.Context(), "WIDG")
		f.ok(err, "Repositories(WIDG)")
		if got := names(some); !slices.Equal(got, []string{"widgets"}) {
			f.t.Errorf("Repositories(\"WIDG\") = %q, want [widgets] (case-insensitive)", got)
		}
		none, err := c.Repositories(f.t.Context(), "no-such-thing")
		f.ok(err, "Repositories(no-such-thing)")
		if len(none) != 0 {
			f.t.Errorf("Repositories(\"no-such-thing\") = %+v, want none", none)
		}
	}},

	{"repositories follows pagination", func(f *fixture) {
		for i := range 230 {
			f.sim.AddRepo(hostsim.Repo{Owner: alice, Name: fmt.Sprintf("proj-%03d", i)})
		}
		list, err := f.client(f.full(alice)).Repositories(f.t.Context(), "proj-")
		f.ok(err, "Repositories")
		if len(list) != 230 {
			f.t.Errorf("Repositories(\"proj-\") found %d, want 230", len(list))
		}
	}},

	{"repository by id; hidden repositories are not found", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		got, err := c.Repository(f.t.Context(), r.ID)
		f.ok(err, "Repository(%q)", r.ID)
		if got != r {
			f.t.Errorf("Repository(%q) = %+v, want %+v", r.ID, got, r)
		}
		if r.DefaultBranch != "main" || r.WebURL == "" || r.ID == "" {
			f.t.Errorf("repository %+v lacks its id, default branch main or web URL", r)
		}
		_, err = f.client(f.full(bob)).Repository(f.t.Context(), r.ID)
		f.want(err, relay.ENotFound, "bob reads alice's private repository")
	}},

	{"branches are listed and filtered; a branch reads its sha", func(f *fixture) {
		f.sim.AddBranch(widgets, "feature/login", "")
		f.sim.AddBranch(widgets, "Feature/Logout", "")
		f.sim.AddBranch(widgets, "fix-1", "")
		want := f.sim.Branches(widgets)
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		all, err := c.Branches(f.t.Context(), r, "")
		f.ok(err, "Branches")
		if len(all) != len(want) {
			f.t.Errorf("Branches = %+v, want %v", all, want)
		}
		for _, b := range all {
			if want[b.Name] != b.SHA || b.URL == "" {
				f.t.Errorf("branch %+v, want sha %q and a URL", b, want[b.Name])
			}
		}
		some, err := c.Branches(f.t.Context(), r, "FEATURE")
		f.ok(err, "Branches(FEATURE)")
		if len(some) != 2 {
			f.t.Errorf("Branches(\"FEATURE\") = %+v, want the 2 feature branches", some)
		}
		b, err := c.Branch(f.t.Context(), r, "fix-1")
		f.ok(err, "Branch(fix-1)")
		if b.Name != "fix-1" || b.SHA != want["fix-1"] || b.URL == "" {
			f.t.Errorf("Branch(fix-1) = %+v, want sha %s and a URL", b, want["fix-1"])
		}
		_, err = c.Branch(f.t.Context(), r, "no-such-branch")
		f.want(err, relay.ENotFound, "Branch(no-such-branch)")
		_, err = c.Branch(f.t.Context(), r, "feature")
		f.want(err, relay.ENotFound, "Branch(feature), a prefix of existing branches")
	}},

	{"a branch is created at its base and deleted", func(f *fixture) {
		token := f.full(alice)
		c := f.client(token)
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		b, err := c.CreateBranch(f.t.Context(), r, "ABC-1-fix-login", base)
		f.ok(err, "CreateBranch")
		if b.Name != "ABC-1-fix-login" || b.SHA != base || b.URL == "" {
			f.t.Errorf("CreateBranch = %+v, want the branch at %s with a URL", b, base)
		}
		if got := f.sim.Branches(widgets)["ABC-1-fix-login"]; got != base {
			f.t.Errorf("host has the branch at %q, want %q", got, base)
		}
		ws := f.writes(hostsim.OpCreateBranch)
		if len(ws) != 1 || ws[0].Login != alice || ws[0].Token != hostsim.Fingerprint(token) ||
			ws[0].Ref != "ABC-1-fix-login" || ws[0].Status < 200 || ws[0].Status > 299 {
			f.t.Errorf("write log = %+v, want one successful creation of ABC-1-fix-login by alice", ws)
		}
		f.ok(c.DeleteBranch(f.t.Context(), r, "ABC-1-fix-login"), "DeleteBranch")
		if _, still := f.sim.Branches(widgets)["ABC-1-fix-login"]; still {
			f.t.Error("the branch is still there after DeleteBranch")
		}
		f.want(c.DeleteBranch(f.t.Context(), r, "ABC-1-fix-login"), relay.ENotFound, "deleting it again")
	}},

	{"a branch name that is taken is reported", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		_, err := c.CreateBranch(f.t.Context(), r, "ABC-2", base)
		f.ok(err, "CreateBranch")
		_, err = c.CreateBranch(f.t.Context(), r, "ABC-2", base)
		f.want(err, relay.EBranchExists, "creating it again")
	}},

	{"a branch name in the way of another is refused", func(f *fixture) {
		f.sim.AddBranch(widgets, "release/1.0", "")
		f.sim.AddBranch(widgets, "fix-1", "")
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		_, err := c.CreateBranch(f.t.Context(), r, "release", base)
		f.want(err, relay.EInvalidBranchName, "CreateBranch(release) beside release/1.0")
		_, err = c.CreateBranch(f.t.Context(), r, "fix-1/more", base)
		f.want(err, relay.EInvalidBranchName, "CreateBranch(fix-1/more) beside fix-1")
	}},

	{"a pull request is created and found", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-3", "")
		pr, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{
			Source: "ABC-3", Target: "main", Title: "ABC-3 Fix the login", Description: "Fixes ABC-3.",
		})
		f.ok(err, "CreatePullRequest")
		if pr.Number <= 0 || pr.URL == "" || pr.Source != "ABC-3" || pr.Target != "main" || pr.Draft || pr.Title != "ABC-3 Fix the login" {
			f.t.Errorf("CreatePullRequest = %+v", pr)
		}
		on := f.sim.PullRequests(widgets)
		if len(on) != 1 || on[0].Title != "ABC-3 Fix the login" || on[0].Body != "Fixes ABC-3." || on[0].Author != alice || on[0].Draft {
			f.t.Errorf("host has %+v, want one pull request by alice", on)
		}
		found, err := c.FindPullRequest(f.t.Context(), r, "ABC-3", "main")
		f.ok(err, "FindPullRequest")
		if found.Number != pr.Number || found.URL != pr.URL {
			f.t.Errorf("FindPullRequest = %+v, want %+v", found, pr)
		}
	}},

	{"a pull request from a branch with no commits of its own gets the host's answer", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-30", f.sim.Branches(widgets)["main"])
		pr, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-30", Target: "main", Title: "ABC-30"})
		if f.env.AcceptsEmptyPullRequests {
			f.ok(err, "CreatePullRequest from a branch without commits")
			if on := f.sim.PullRequests(widgets); len(on) != 1 || on[0].Number != pr.Number || on[0].Source != "ABC-30" {
				f.t.Errorf("host has %+v, want the pull request %+v", on, pr)
			}
			return
		}
		e := f.want(err, relay.EInvalid, "CreatePullRequest from a branch without commits")
		if want := `There is nothing to propose yet: "ABC-30" has no commits that "main" lacks. Push a commit to "ABC-30" first.`; e.Message != want {
			f.t.Errorf("message = %q, want %q", e.Message, want)
		}
		if on := f.sim.PullRequests(widgets); len(on) != 0 {
			f.t.Errorf("host has %+v after the refusal, want none", on)
		}
		f.sim.Commit(widgets, "ABC-30")
		_, err = c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-30", Target: "main", Title: "ABC-30"})
		f.ok(err, "CreatePullRequest after a commit")
	}},

	{"finding a pull request that is not open is not found", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-4", "")
		_, err := c.FindPullRequest(f.t.Context(), r, "ABC-4", "main")
		f.want(err, relay.ENotFound, "FindPullRequest with none")
		pr, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-4", Target: "main", Title: "ABC-4"})
		f.ok(err, "CreatePullRequest")
		f.sim.ClosePullRequest(widgets, pr.Number)
		_, err = c.FindPullRequest(f.t.Context(), r, "ABC-4", "main")
		f.want(err, relay.ENotFound, "FindPullRequest with only a closed one")
	}},

	{"a draft pull request is created as a draft", func(f *fixture) {
		if !f.caps.Drafts {
			f.t.Skip("the host has no drafts")
		}
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-5", "")
		pr, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-5", Target: "main", Title: "ABC-5", Draft: true})
		f.ok(err, "CreatePullRequest(draft)")
		if on := f.sim.PullRequests(widgets); !pr.Draft || len(on) != 1 || !on[0].Draft {
			f.t.Errorf("CreatePullRequest(draft) = %+v, host has %+v; want a draft", pr, on)
		}
	}},

	{"a repository refusing drafts is reported", func(f *fixture) {
		if !f.caps.Drafts {
			f.t.Skip("the host has no drafts")
		}
		if f.env.DraftsNeverRefused {
			f.t.Skip("the host never refuses drafts")
		}
		c := f.client(f.full(alice))
		r := f.repo(c, legacy)
		f.sim.AddBranch(legacy, "ABC-6", "")
		_, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-6", Target: "main", Title: "ABC-6", Draft: true})
		f.want(err, relay.EDraftUnsupported, "a draft where drafts are refused")
		_, err = c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-6", Target: "main", Title: "ABC-6"})
		f.ok(err, "the same pull request, not a draft")
	}},

	{"an open pull request for the same branches is reported with its URL", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-7", "")
		first, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-7", Target: "main", Title: "ABC-7"})
		f.ok(err, "CreatePullRequest")
		_, err = c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-7", Target: "main", Title: "ABC-7 again"})
		e := f.want(err, relay.EPullRequestExists, "creating it again")
		if e.URL != first.URL {
			f.t.Errorf("URL = %q, want the existing pull request %q", e.URL, first.URL)
		}
		if n := len(f.sim.PullRequests(widgets)); n != 1 {
			f.t.Errorf("host has %d pull requests, want 1", n)
		}
	}},

	{"a token lacking a permission is refused", func(f *fixture) {
		if len(f.env.Limited) == 0 {
			f.t.Skip("Env.Limited lists no limited tokens")
		}
		r := f.repo(f.client(f.full(alice)), widgets)
		base := f.sim.Branches(widgets)["main"]
		for _, l := range f.env.Limited {
			c := f.client(f.token(alice, l.Token))
			acc, err := c.Validate(f.t.Context())
			f.ok(err, "Validate(%s)", l.Name)
			if acc.Login != alice {
				f.t.Errorf("Validate(%s) = %q, want %q", l.Name, acc.Login, alice)
			}
			_, err = c.CreateBranch(f.t.Context(), r, "ABC-8", base)
			f.want(err, l.Code, "CreateBranch with %s", l.Name)
		}
		if _, made := f.sim.Branches(widgets)["ABC-8"]; made {
			f.t.Error("a limited token created a branch")
		}
	}},

	{"a login without push access is refused", func(f *fixture) {
		c := f.client(f.full(bob))
		private := f.repo(f.client(f.full(alice)), widgets)
		_, err := c.CreateBranch(f.t.Context(), private, "ABC-9", f.sim.Branches(widgets)["main"])
		f.want(err, relay.ENotFound, "bob creates a branch in a private repository he cannot see")
		public := f.repo(f.client(f.full(carol)), gadgets)
		_, err = c.CreateBranch(f.t.Context(), public, "ABC-9", f.sim.Branches(gadgets)["main"])
		f.want(err, f.env.NoPushCode, "bob creates a branch in a public repository he cannot push to")
		if n := len(f.sim.Branches(gadgets)) + len(f.sim.Branches(widgets)); n != 2 {
			f.t.Errorf("%d branches after refused creations, want 2", n)
		}
	}},

	{"rate limits are reported with how long to wait", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, RetryAfter: 42 * time.Second, Times: 1})
		_, err := c.CreateBranch(f.t.Context(), r, "ABC-10", base)
		e := f.want(err, relay.ERateLimited, "CreateBranch while rate limited")
		if e.RetryAfter < 40*time.Second || e.RetryAfter > 44*time.Second {
			f.t.Errorf("RetryAfter = %v, want about 42s", e.RetryAfter)
		}

		c = f.client(f.full(alice)) // a fresh client: some remember limits
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpCreatePullRequest, RetryAfter: 90 * time.Second, Secondary: true, Times: 1})
		f.sim.AddBranch(widgets, "ABC-10b", "")
		_, err = c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-10b", Target: "main", Title: "ABC-10b"})
		e = f.want(err, relay.ERateLimited, "CreatePullRequest past a secondary limit")
		if e.RetryAfter < 88*time.Second || e.RetryAfter > 92*time.Second {
			f.t.Errorf("RetryAfter = %v, want about 90s", e.RetryAfter)
		}

		c = f.client(f.full(alice))
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpListBranches, RetryAfter: 5 * time.Second, Status: http.StatusTooManyRequests, Times: 1})
		_, err = c.Branches(f.t.Context(), r, "")
		e = f.want(err, relay.ERateLimited, "Branches answered 429")
		if e.RetryAfter < 4*time.Second || e.RetryAfter > 7*time.Second {
			f.t.Errorf("RetryAfter = %v, want about 5s", e.RetryAfter)
		}
	}},

	{"host failures are reported and writes are not retried", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: http.StatusBadGateway, Times: 1})
		_, err := c.CreateBranch(f.t.Context(), r, "ABC-11", base)
		f.want(err, relay.EHostError, "CreateBranch answered 502")
		if ws := f.writes(hostsim.OpCreateBranch); len(ws) != 1 {
			f.t.Errorf("%d branch creation requests after a 502, want 1 (no retry)", len(ws))
		}
		f.sim.AddBranch(widgets, "ABC-11b", "")
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpCreatePullRequest, Status: http.StatusInternalServerError, Times: 1})
		_, err = c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-11b", Target: "main", Title: "ABC-11b"})
		f.want(err, relay.EHostError, "CreatePullRequest answered 500")
		if ws := f.writes(hostsim.OpCreatePullRequest); len(ws) != 1 {
			f.t.Errorf("%d pull request creation requests after a 500, want 1 (no retry)", len(ws))
		}
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: http.StatusServiceUnavailable})
		before := f.sim.Requests()
		_, err = c.Validate(f.t.Context())
		f.want(err, relay.EHostError, "Validate answered 503 every time")
		if n := f.sim.Requests() - before; n != host.DefaultRetryAttempts {
			f.t.Errorf("Validate sent %d requests to a host answering 503, want %d", n, host.DefaultRetryAttempts)
		}
		f.sim.ClearFaults()
		_, err = c.CreateBranch(f.t.Context(), r, "ABC-11", base)
		f.ok(err, "CreateBranch once the host recovered")
	}},

	{"reads survive transient faults", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		f.sim.AddBranch(widgets, "ABC-20", "")
		_, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-20", Target: "main", Title: "ABC-20"})
		f.ok(err, "CreatePullRequest")
		for _, read := range hostReads(r) {
			before := f.sim.Requests()
			f.ok(read.call(f.t.Context(), c), "%s", read.name)
			normal := f.sim.Requests() - before
			for _, fault := range readFaults {
				f.sim.Inject(fault.fault) // the next request, whichever it is
				waits, _ := f.waited()
				before := f.sim.Requests()
				f.ok(read.call(f.t.Context(), c), "%s after %s", read.name, fault.name)
				if n := f.sim.Requests() - before; n != normal+1 {
					f.t.Errorf("%s after %s sent %d requests, want %d (one more than without a fault)", read.name, fault.name, n, normal+1)
				}
				n, last := f.waited()
				// net/http itself sends a GET again, at once, when a
				// kept-alive connection closes before answering.
				if n != waits+1 && (!fault.fault.Drop || n != waits) {
					f.t.Errorf("%s after %s waited %d times, want once", read.name, fault.name, n-waits)
				}
				if fault.fault.RetryAfter > 0 && (last < fault.fault.RetryAfter || last > fault.fault.RetryAfter+time.Second) {
					f.t.Errorf("%s after %s waited %v, want the %v the host asked for", read.name, fault.name, last, fault.fault.RetryAfter)
				}
			}
		}
		if !strings.Contains(f.logs.String(), "level=DEBUG") {
			f.t.Errorf("no retry was logged: %q", f.logs.String())
		}
	}},

	{"a read that keeps failing gives up after a bounded number of attempts", func(f *fixture) {
		token := f.full(alice)
		r := f.repo(f.client(token), widgets)
		for _, tt := range []struct {
			fault    hostsim.Fault
			code     string
			requests int
		}{
			{hostsim.Fault{Status: http.StatusServiceUnavailable}, relay.EHostError, host.DefaultRetryAttempts},
			{hostsim.Fault{Status: http.StatusBadGateway}, relay.EHostError, host.DefaultRetryAttempts},
			{hostsim.Fault{Drop: true}, relay.EHostError, host.DefaultRetryAttempts},
			{hostsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}, relay.ERateLimited, host.DefaultRetryAttempts},
			// A wait longer than gitrelay waits out goes to the person at once.
			{hostsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 42 * time.Second}, relay.ERateLimited, 1},
		} {
			c := f.client(token) // a fresh client: some remember limits
			f.sim.Inject(tt.fault)
			before := f.sim.Requests()
			_, err := c.Repository(f.t.Context(), r.ID)
			e := f.want(err, tt.code, "Repository with %+v on every request", tt.fault)
			// net/http itself sends a GET again, once, when a kept-alive
			// connection closes before answering.
			if n := f.sim.Requests() - before; n != tt.requests && (!tt.fault.Drop || n != tt.requests+1) {
				f.t.Errorf("Repository with %+v on every request sent %d requests, want %d", tt.fault, n, tt.requests)
			}
			// A reset time (GitHub) is a whole second, so about the same.
			if d := tt.fault.RetryAfter; d > 0 && (e.RetryAfter < d-time.Second || e.RetryAfter > d+time.Second) {
				f.t.Errorf("RetryAfter = %v, want the host's %v", e.RetryAfter, d)
			}
			f.sim.ClearFaults()
		}
	}},

	{"writes are sent once whatever the fault", func(f *fixture) {
		token := f.full(alice)
		r := f.repo(f.client(token), widgets)
		base := f.sim.Branches(widgets)["main"]
		for i, fault := range transientFaults {
			name := fmt.Sprintf("ABC-21-%d", i)
			var c relay.HostClient
			code := relay.EHostError
			if fault.fault.RetryAfter > 0 {
				code = relay.ERateLimited
			}
			writes := []struct {
				op   hostsim.Op
				call func() error
			}{
				{hostsim.OpCreateBranch, func() error { _, err := c.CreateBranch(f.t.Context(), r, name, base); return err }},
				{hostsim.OpDeleteBranch, func() error {
					f.sim.AddBranch(widgets, name+"-gone", "")
					return c.DeleteBranch(f.t.Context(), r, name+"-gone")
				}},
				{hostsim.OpCreatePullRequest, func() error {
					f.sim.AddBranch(widgets, name+"-pr", "")
					_, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: name + "-pr", Target: "main", Title: name})
					return err
				}},
			}
			for _, w := range writes {
				c = f.client(token) // a fresh client: some remember limits
				ft := fault.fault
				ft.Op = w.op
				f.sim.Inject(ft)
				before := len(f.writes(w.op))
				f.want(w.call(), code, "%s after %s", w.op, fault.name)
				if n := len(f.writes(w.op)) - before; n != 1 {
					f.t.Errorf("%s after %s sent %d requests, want 1", w.op, fault.name, n)
				}
				f.sim.ClearFaults()
			}
		}
	}},

	{"a write whose answer is lost after the host acted has an unknown outcome", func(f *fixture) {
		token := f.full(alice)
		r := f.repo(f.client(token), widgets)
		base := f.sim.Branches(widgets)["main"]
		// (A deletion's answer has no body to cut: hosts answer 204.)
		f.sim.AddBranch(widgets, "ABC-22-pr", "")
		f.sim.AddBranch(widgets, "ABC-22-taken", "")
		for _, w := range []struct {
			op    hostsim.Op
			call  func(c relay.HostClient) error
			acted func() bool
		}{
			{hostsim.OpCreateBranch, func(c relay.HostClient) error {
				_, err := c.CreateBranch(f.t.Context(), r, "ABC-22", base)
				return err
			}, func() bool { _, ok := f.sim.Branches(widgets)["ABC-22"]; return ok }},
			{hostsim.OpCreatePullRequest, func(c relay.HostClient) error {
				_, err := c.CreatePullRequest(f.t.Context(), r, relay.NewPullRequest{Source: "ABC-22-pr", Target: "main", Title: "ABC-22"})
				return err
			}, func() bool { return len(f.sim.PullRequests(widgets)) == 1 }},
			// A refusal cut short is no refusal the adapter can word:
			// without its reason, it is as unknown as a success.
			{hostsim.OpCreateBranch, func(c relay.HostClient) error {
				_, err := c.CreateBranch(f.t.Context(), r, "ABC-22-taken", base)
				return err
			}, func() bool { return true }},
		} {
			c := f.client(token)
			f.sim.Inject(hostsim.Fault{Op: w.op, Cut: true, Times: 1})
			before := len(f.writes(w.op))
			err := w.call(c)
			f.want(err, relay.EHostError, "%s with its answer cut short", w.op)
			if !errors.Is(err, relay.ErrOutcomeUnknown) {
				f.t.Errorf("%s with its answer cut short: %v, want relay.ErrOutcomeUnknown in its chain", w.op, err)
			}
			if n := len(f.writes(w.op)) - before; n != 1 {
				f.t.Errorf("%s with its answer cut short sent %d requests, want 1 (never repeated)", w.op, n)
			}
			if !w.acted() {
				f.t.Errorf("%s with its answer cut short: the simulator did not act, so the scenario proves nothing", w.op)
			}
			f.sim.ClearFaults()
		}
	}},

	{"a host that does not answer times out", func(f *fixture) {
		token := f.full(alice)
		r := f.repo(f.client(token), widgets)
		c := f.clientTimeout(token, 300*time.Millisecond)
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Hang: true})
		start := time.Now()
		_, err := c.CreateBranch(f.t.Context(), r, "ABC-12", f.sim.Branches(widgets)["main"])
		f.want(err, relay.EHostTimeout, "CreateBranch on a hanging host")
		if d := time.Since(start); d > 5*time.Second {
			f.t.Errorf("gave up after %v, want about 300ms", d)
		}
		f.sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Hang: true})
		ctx, cancel := context.WithTimeout(f.t.Context(), 200*time.Millisecond)
		defer cancel()
		_, err = f.client(token).Validate(ctx)
		f.want(err, relay.EHostTimeout, "Validate past the caller's deadline")
	}},

	{"a client is safe for concurrent use", func(f *fixture) {
		c := f.client(f.full(alice))
		r := f.repo(c, widgets)
		base := f.sim.Branches(widgets)["main"]
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = c.CreateBranch(f.t.Context(), r, fmt.Sprintf("ABC-13-%d", i), base)
			})
		}
		wg.Wait()
		for i, err := range errs {
			f.ok(err, "CreateBranch #%d", i)
		}
		if n := len(f.sim.Branches(widgets)); n != 9 {
			f.t.Errorf("host has %d branches, want 9", n)
		}
	}},

	{"webhooks are registered on repositories the account administers", runHooks},
}

// transientFaults are the faults a read survives, each once.
var transientFaults = []struct {
	name  string
	fault hostsim.Fault
}{
	{"a connection closed without an answer", hostsim.Fault{Drop: true, Times: 1}},
	{"a 503", hostsim.Fault{Status: http.StatusServiceUnavailable, Times: 1}},
	{"a 429 with Retry-After: 1", hostsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1}},
}

// readFaults are transientFaults, and an answer cut short.
var readFaults = append(transientFaults[:len(transientFaults):len(transientFaults)], struct {
	name  string
	fault hostsim.Fault
}{"an answer cut short", hostsim.Fault{Cut: true, Times: 1}})

type hostRead struct {
	name string
	call func(ctx context.Context, c relay.HostClient) error
}

// hostReads are the reads of relay.HostClient, on repository r, which
// has a branch ABC-20 with an open pull request to main.
func hostReads(r relay.Repository) []hostRead {
	return []hostRead{
		{"Validate", func(ctx context.Context, c relay.HostClient) error { _, err := c.Validate(ctx); return err }},
		{"Repositories", func(ctx context.Context, c relay.HostClient) error { _, err := c.Repositories(ctx, "widg"); return err }},
		{"Repository", func(ctx context.Context, c relay.HostClient) error { _, err := c.Repository(ctx, r.ID); return err }},
		{"Branches", func(ctx context.Context, c relay.HostClient) error { _, err := c.Branches(ctx, r, "ABC"); return err }},
		{"Branch", func(ctx context.Context, c relay.HostClient) error { _, err := c.Branch(ctx, r, "main"); return err }},
		{"FindPullRequest", func(ctx context.Context, c relay.HostClient) error {
			_, err := c.FindPullRequest(ctx, r, "ABC-20", "main")
			return err
		}},
	}
}

func names(rs []relay.Repository) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func equalScopes(got, want []string) bool {
	if (got == nil) != (want == nil) {
		return false
	}
	return slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

// LoopbackAllowed is the egress allow list of tests whose simulated hosts
// listen on the loopback interface, which gitrelay refuses by default.
const LoopbackAllowed = "127.0.0.0/8,::1/128"

// LocalClient is the outbound client (host.NewHTTPClient) with the
// loopback interface allowed, for tests against local servers: the same
// client and the same setting as production, widened the way an operator
// would.
func LocalClient(timeout time.Duration) *http.Client {
	return host.NewHTTPClient(host.ClientConfig{Timeout: timeout, Egress: host.Egress{Allow: host.MustAllowlist(LoopbackAllowed)}})
}
