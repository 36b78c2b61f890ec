package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/web"
)

// The demo's simulated tokens. They are accepted only by the in-process
// simulators and are printed for the newcomer to paste: they are demo
// values, not secrets of any real host.
const (
	demoGHEBot = "ghp_demoIntegrationAccount000000000000001"
	// demoWorkBranch has a commit of its own, so a pull request from it is
	// accepted; one from a branch just created is refused, as on a real host.
	demoWorkBranch   = "DEMO-1-work-in-progress"
	demoGHEBob       = "ghp_demoBobPersonalToken0000000000000002"
	demoGHEBobWeak   = "ghp_demoBobReadOnlyToken0000000000000003"
	demoGitLabBot    = "glpat-demoIntegrationAccount01"
	demoGitLabBob    = "glpat-demoBobPersonalToken0002"
	demoProject      = "DEMO"
	demoBotLogin     = "gitrelay-bot"
	demoBobLogin     = "bob-dev"
	demoHostListenOn = "127.0.0.1:0"
)

// demoIssues are the issues the landing page links to.
var demoIssues = []web.DemoIssue{
	{Key: "DEMO-1", Summary: "Add dark mode to the dashboard", Type: "Story"},
	{Key: "DEMO-2", Summary: "Fix login timeout on slow networks", Type: "Bug"},
	{Key: "DEMO-3", Summary: "Upgrade the payment library", Type: "Task"},
}

// demoHosts are the simulated git hosts, each on its own loopback
// listener so that links to branches and token pages open in the browser.
type demoHosts struct {
	ghe, gitlab       *hostsim.Sim
	gheURL, gitlabURL string
	// gitDir holds the simulated repositories served over git, which the
	// index reads.
	gitDir  string
	servers []*http.Server
	addrs   []string // the listeners' IP addresses
}

// egressAllow is the allow list entry of the simulated hosts' addresses.
func (d *demoHosts) egressAllow() host.Allowlist {
	return host.MustAllowlist(strings.Join(d.addrs, ","))
}

func startDemoHosts() (*demoHosts, error) {
	d := &demoHosts{ghe: hostsim.New(), gitlab: hostsim.New()}
	var err error
	if d.gitDir, err = os.MkdirTemp("", "gitrelay-demo-git-"); err != nil {
		return nil, err
	}
	gheGit := d.ghe.Git(filepath.Join(d.gitDir, "ghe"))
	gitlabGit := d.gitlab.Git(filepath.Join(d.gitDir, "gitlab"))
	for _, dir := range []string{"ghe", "gitlab"} {
		if err := os.MkdirAll(filepath.Join(d.gitDir, dir), 0o700); err != nil {
			d.Close()
			return nil, err
		}
	}
	if d.gheURL, err = d.serve(gheGit.Wrap(hostsim.LayoutOwnerRepo, d.ghe.GitHubEnterprise())); err != nil {
		d.Close()
		return nil, err
	}
	if d.gitlabURL, err = d.serve(gitlabGit.Wrap(hostsim.LayoutOwnerRepo, d.gitlab.GitLab())); err != nil {
		d.Close()
		return nil, err
	}
	d.ghe.AddToken(hostsim.Token{Value: demoGHEBot, Login: demoBotLogin, Name: "gitrelay bot", Scopes: []string{"repo"}})
	d.gitlab.AddToken(hostsim.Token{Value: demoGitLabBot, Login: demoBotLogin, Name: "gitrelay bot", Scopes: []string{"api"}})
	d.ghe.AddToken(hostsim.Token{Value: demoGHEBob, Login: demoBobLogin, Name: "Bob", Scopes: []string{"repo"}})
	d.ghe.AddToken(hostsim.Token{Value: demoGHEBobWeak, Login: demoBobLogin, Name: "Bob", Scopes: []string{"read:user"}})
	d.gitlab.AddToken(hostsim.Token{Value: demoGitLabBob, Login: demoBobLogin, Name: "Bob", Scopes: []string{"api"}})

	// The simulated GitHub Enterprise refuses a pull request from a branch
	// with no commits of its own, as GitHub does ("No commits between"); a
	// branch with work on it is there to propose.
	writers := []string{demoBotLogin, demoBobLogin}
	for _, r := range []hostsim.Repo{
		{Owner: "acme", Name: "widgets", Private: true, Writers: writers},
		{Owner: "acme", Name: "dashboard", Private: true, Writers: writers},
		{Owner: "acme", Name: "payments", Private: true, Writers: writers},
		{Owner: "tools", Name: "widgets", Writers: writers},
	} {
		d.ghe.AddRepo(r)
	}
	for _, r := range []hostsim.Repo{
		{Owner: "platform", Name: "backend", Private: true, Writers: writers},
		{Owner: "platform", Name: "frontend", Private: true, Writers: writers},
		{Owner: "infra", Name: "widgets", Private: true, Writers: writers},
	} {
		d.gitlab.AddRepo(r)
	}
	for _, sim := range []*hostsim.Sim{d.ghe, d.gitlab} {
		repo := "acme/widgets"
		if sim == d.gitlab {
			repo = "platform/backend"
		}
		sim.AddBranch(repo, demoWorkBranch, "")
		sim.Commit(repo, demoWorkBranch)
	}
	// Work done outside gitrelay, for the index to find: a developer's
	// branch and commits naming DEMO-2. Without git on the machine the
	// demo runs without them (and without the index).
	if _, err := exec.LookPath("git"); err == nil {
		if _, err := gheGit.Commit("acme/widgets", "feature/DEMO-2-login-timeout",
			hostsim.Change{Message: "DEMO-2 Retry the login request once on a timeout", AuthorName: "Dana Developer", AuthorEmail: "dana@example.com"},
			hostsim.Change{Message: "DEMO-2 Raise the login timeout to 30 s on slow networks", AuthorName: "Dana Developer", AuthorEmail: "dana@example.com"}); err != nil {
			d.Close()
			return nil, err
		}
		if _, err := gitlabGit.Commit("platform/backend", "main",
			hostsim.Change{Message: "Log slow logins (DEMO-2)", AuthorName: "Sam Ops", AuthorEmail: "sam@example.com"}); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func (d *demoHosts) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", demoHostListenOn)
	if err != nil {
		return "", fmt.Errorf("demo: cannot listen for a simulated host: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	d.servers = append(d.servers, srv)
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		d.addrs = append(d.addrs, tcp.IP.String())
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the simulated hosts.
func (d *demoHosts) Close() {
	for _, sim := range []*hostsim.Sim{d.ghe, d.gitlab} {
		if sim != nil {
			sim.Close()
		}
	}
	for _, s := range d.servers {
		_ = s.Close()
	}
	if d.gitDir != "" {
		_ = os.RemoveAll(d.gitDir)
	}
}

// info is what the pages show of the demo.
func (d *demoHosts) info() *web.Demo {
	return &web.Demo{Issues: demoIssues, Hosts: []web.DemoHost{
		{Name: "GitHub Enterprise (simulated)", URL: d.gheURL},
		{Name: "GitLab (simulated)", URL: d.gitlabURL},
	}}
}

// seedDemo creates the demo's users, project and integrations, and prints
// how to use them.
func seedDemo(ctx context.Context, db *store.DB, a *app.App, d *demoHosts, gitrelayURL string, stdout io.Writer) error {
	if err := db.EnsureTenant(ctx, relay.LocalTenant, "built-in directory"); err != nil {
		return err
	}
	alice, alicePassword, err := a.Directory.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: "alice", DisplayName: "Alice Admin", Admin: true})
	if err != nil {
		return err
	}
	_, bobPassword, err := a.Directory.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: "bob", DisplayName: "Bob Builder"})
	if err != nil {
		return err
	}
	if _, err := a.Directory.AddProject(ctx, relay.LocalTenant, demoProject, "Demo project"); err != nil {
		return err
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := a.Directory.Grant(ctx, relay.LocalTenant, demoProject, u); err != nil {
			return err
		}
	}
	admin := directory.Principal(alice)
	for _, in := range []action.IntegrationInput{
		{Kind: "github-enterprise", Name: "GitHub Enterprise", BaseURL: d.gheURL, Credential: relay.TokenCredential(demoGHEBot)},
		{Kind: "gitlab-self-managed", Name: "GitLab", BaseURL: d.gitlabURL, Credential: relay.TokenCredential(demoGitLabBot)},
	} {
		if _, _, err := a.Actions.CreateIntegration(ctx, admin, in); err != nil {
			return fmt.Errorf("demo: creating the %s integration: %w", in.Name, err)
		}
	}
	fmt.Fprintf(stdout, `
gitrelay demo — simulated git hosts, nothing touches a real one.

  Open %s and sign in:
    alice (administrator)  password: %s
    bob                    password: %s

  Simulated hosts:
    GitHub Enterprise  %s
    GitLab             %s

  Personal access tokens for bob (paste them under Personal access tokens):
    GitHub Enterprise  %s
    GitLab             %s
    GitHub Enterprise, read-only (to see a refused token): %s

  Try: as alice, tick Require User PAT on an integration and click Update;
  as bob, open %s/issues/DEMO-1 and click Create branch.

`, gitrelayURL, alicePassword, bobPassword, d.gheURL, d.gitlabURL, demoGHEBob, demoGitLabBob, demoGHEBobWeak, gitrelayURL)
	return nil
}

var errDemoWithDatabase = errors.New("--demo runs on its own temporary SQLite database; do not combine it with --database-url")
