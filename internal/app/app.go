// Package app wires gitrelay's parts together: the one place that knows
// every concrete type. main uses it, and so do the end-to-end tests and
// benchmarks, so they exercise exactly what runs in production.
package app

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/server"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/web"
)

// Config is what the application needs from its environment.
type Config struct {
	DB     *store.DB
	Sealer relay.Sealer
	Logger *slog.Logger
	// HTTPClient reaches git hosts; default host.NewHTTPClient.
	HTTPClient *http.Client
	// HostTimeout bounds each host call.
	HostTimeout time.Duration
	// PublicURL is where users reach gitrelay (for links); may be empty.
	PublicURL string
	// GitHubAPIURL overrides api.github.com and GitLabURL gitlab.com
	// (egress proxies, simulators).
	GitHubAPIURL string
	GitLabURL    string
	Version      string
	Now          func() time.Time
	// Demo, when set, shows the demo banner and landing page.
	Demo *web.Demo
	// Jira connects gitrelay to Jira Cloud as a Forge app's remote; off
	// when Jira.AppID is empty.
	Jira JiraConfig
}

// JiraConfig configures the Jira Cloud connection (see docs/jira.md).
type JiraConfig struct {
	// AppID is the Forge app id (ari:cloud:ecosystem::app/<uuid>).
	AppID string
	// JWKSURL, AuthURL and APIURL default to Atlassian's.
	JWKSURL, AuthURL, APIURL string
	// ClientID and ClientSecret are the OAuth 2.0 (3LO) app's, for Sign in
	// with Atlassian.
	ClientID, ClientSecret string
}

// App is a wired gitrelay.
type App struct {
	Actions   *action.Service
	Directory *directory.Service
	Hosts     *host.Registry
	Server    *server.Server
	Metrics   *server.Metrics
	// Devinfo pushes development information to Jira; nil without Jira.
	// Run it (Devinfo.Run) for the life of the server.
	Devinfo *jira.Devinfo
}

// Endpoints overrides the addresses of the hosted services (github,
// gitlab), for egress proxies and simulators; empty fields keep the real
// ones.
type Endpoints struct {
	GitHubAPIURL string
	GitLabURL    string
}

// Adapters returns every host adapter gitrelay supports.
func Adapters(e Endpoints) []host.Adapter {
	var ghOpts []github.Option
	if e.GitHubAPIURL != "" {
		ghOpts = append(ghOpts, github.WithAPIURL(e.GitHubAPIURL))
	}
	var glOpts []gitlab.Option
	if e.GitLabURL != "" {
		glOpts = append(glOpts, gitlab.WithURL(e.GitLabURL))
	}
	// One line per host kind.
	return []host.Adapter{
		github.Cloud(ghOpts...),
		github.Enterprise(),
		azure.Services(), azure.VSTS(), azure.Server(),
		gitea.New(),
		gitlab.Cloud(glOpts...), gitlab.SelfManaged(),
		codecommit.New(),
	}
}

// New wires the application.
func New(c Config) *App {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = host.NewHTTPClient(c.HostTimeout)
	}
	hosts := host.NewRegistry(c.HTTPClient, Adapters(Endpoints{GitHubAPIURL: c.GitHubAPIURL, GitLabURL: c.GitLabURL})...)
	dir := directory.New(c.DB, c.Now)
	metrics := server.NewMetrics()
	acfg := action.Config{
		Store: c.DB, Hosts: hosts, Sealer: c.Sealer, Directory: dir,
		Links: server.Links{Base: c.PublicURL}, Now: c.Now, HostTimeout: c.HostTimeout,
		Logger: c.Logger, Observe: metrics.ObserveAction,
	}
	// With Jira, each installation is a tenant whose permissions come from
	// Jira, and what gitrelay creates is pushed to Jira's development panel.
	var jdir *jira.Directory
	var devinfo *jira.Devinfo
	var actions *action.Service
	if c.Jira.AppID != "" {
		jdir = jira.NewDirectory(nil, c.Now)
		// The pusher reads hosts through the action service (the only
		// code that opens credentials), which is built after it.
		reader := jira.HostReaderFunc(func(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error) {
			return actions.BranchHeads(ctx, tenantID, integrationID, repositoryID, names)
		})
		devinfo = jira.NewDevinfo(jira.DevinfoConfig{Store: c.DB, Sealer: c.Sealer, Hosts: reader,
			PublicURL: c.PublicURL, Logger: c.Logger, Now: c.Now})
		acfg.Directory = jira.Composite{Local: dir, Jira: jdir}
		acfg.Events = devinfo
	}
	actions = action.New(acfg)
	var jiraRoutes []jira.Route
	// Jira users signed in with Atlassian get web sessions: the pages
	// (built below, hence the indirection) start them, and resolve them
	// through external.
	var pages *web.Pages
	var external web.External
	if c.Jira.AppID != "" {
		signIn := jira.NewSignIn(jira.SignInConfig{ClientID: c.Jira.ClientID, ClientSecret: c.Jira.ClientSecret,
			PublicURL: c.PublicURL, AuthURL: c.Jira.AuthURL, APIURL: c.Jira.APIURL, Store: c.DB, Sealer: c.Sealer,
			Directory: jdir, Logger: c.Logger, Now: c.Now,
			OnSignedIn: func(w http.ResponseWriter, r *http.Request, ps []relay.Principal, returnTo string) {
				pages.SignedIn(w, r, ps, returnTo)
			}})
		external = signIn
		remote := jira.NewRemote(jira.Config{AppID: c.Jira.AppID, JWKSURL: c.Jira.JWKSURL, Store: c.DB, Sealer: c.Sealer,
			Actions: actions, Directory: jdir, Devinfo: devinfo, Logger: c.Logger, Now: c.Now,
			OnUninstall: func(tenantID string) { signIn.Forget(tenantID, "") }})
		jiraRoutes = append(remote.Routes(), signIn.Routes()...)
	}
	pages, err := web.New(web.Config{
		Actions: actions, Directory: dir, DirStore: c.DB, Store: c.DB, Hosts: hosts, Kinds: hosts.Kinds(),
		TenantID: relay.LocalTenant, Logger: c.Logger, Status: server.StatusOf, Now: c.Now, Demo: c.Demo,
		SecureCookies: strings.HasPrefix(strings.ToLower(c.PublicURL), "https://"), External: external,
	})
	if err != nil {
		// The templates are embedded: this is a build defect, not a
		// runtime condition.
		panic(err)
	}
	srv := server.New(server.Config{
		Actions: actions, Directory: dir, DirStore: c.DB, Hosts: hosts, Kinds: hosts.Kinds(),
		TenantID: relay.LocalTenant, Logger: c.Logger, Metrics: metrics, Ready: c.DB.Ping, Version: c.Version,
		Web: pages, JiraRoutes: jiraRoutes,
	})
	return &App{Actions: actions, Directory: dir, Hosts: hosts, Server: srv, Metrics: metrics, Devinfo: devinfo}
}

// Bootstrap prepares the built-in tenant. On an empty directory it creates
// the administrator "admin" and returns its generated password (to be shown
// once); otherwise it returns "".
func Bootstrap(ctx context.Context, db *store.DB, dir *directory.Service) (string, error) {
	if err := db.EnsureTenant(ctx, relay.LocalTenant, "built-in directory"); err != nil {
		return "", err
	}
	n, err := db.CountUsers(ctx, relay.LocalTenant)
	if err != nil || n > 0 {
		return "", err
	}
	_, password, err := dir.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: "admin", DisplayName: "Administrator", Admin: true})
	return password, err
}
