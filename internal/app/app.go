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
	"github.com/gitrelay/gitrelay/internal/clientip"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/server"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/web"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// Config is what the application needs from its environment.
type Config struct {
	DB     *store.DB
	Sealer relay.Sealer
	Logger *slog.Logger
	// HTTPClient carries every outbound request: git hosts, Jira,
	// Atlassian's keys and OAuth endpoints. Default: host.NewHTTPClient
	// with HostTimeout and the egress policy below; only tests whose hosts
	// answer in memory, without a network, set it.
	HTTPClient *http.Client
	// EgressAllow widens the egress policy (--egress-allow): addresses and
	// host names gitrelay may connect to although the policy refuses them
	// (loopback, link-local; private ranges in Jira mode). See host.Egress.
	EgressAllow host.Allowlist
	// HostTimeout bounds each host call.
	HostTimeout time.Duration
	// IndexRateShare is the share of each integration account's remaining
	// rate limit indexing reads may spend (--index-rate-share; default
	// host.DefaultIndexRateShare). RateBudget, when nil, is made from it.
	IndexRateShare float64
	RateBudget     *host.RateBudget
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
	// Jobs, when set, runs the background work (Jira pushes, the
	// reconciliation of pending host writes): New registers it there, and
	// the caller starts and stops it (see package jobs). Without it,
	// nothing runs in the background (tests drive the work directly).
	Jobs *jobs.Runner
	// ClientAddr tells client addresses, believing X-Forwarded-For only
	// from the trusted proxies it was given (--trusted-proxies).
	ClientAddr clientip.Resolver
	// MetricsElsewhere means /metrics is served on a listener of its own
	// (--metrics-addr), so the public handler does not serve it; the
	// caller serves App.Metrics.Handler() there.
	MetricsElsewhere bool
	// Indexer is told when a verified webhook delivery queued a read of a
	// repository. nil, with the index on and Jobs set, queues an
	// index_poll job at once (see indexjobs.go); the queue
	// (repository_changes) is drained by every index_poll job.
	Indexer webhook.Indexer
	// Index reads every repository of every integration (off when not
	// Enabled).
	Index IndexConfig
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
	// Config.Jobs runs its pushes.
	Devinfo *jira.Devinfo
	// Webhooks receives git hosts' deliveries and keeps their secrets.
	Webhooks *webhook.Service
	// RateBudget holds indexing reads (host.ForIndexing) to their share
	// of each integration account's rate limit, and tells what is left.
	RateBudget *host.RateBudget
	// Indexer reads the integrations' repositories; nil when indexing is
	// off or git is missing. With Config.Jobs its work runs as jobs
	// (registerIndexJobs); Close it when the server stops.
	Indexer *index.Indexer
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
	// Every line logged with a request's context carries its request id.
	c.Logger = slog.New(httpx.LogHandler(c.Logger.Handler()))
	metrics := server.NewMetrics()
	metrics.CollectPools(c.DB.Pools)
	if c.RateBudget == nil {
		c.RateBudget = host.NewRateBudget(c.IndexRateShare, nil, nil)
	}
	givenClient := c.HTTPClient
	if c.HTTPClient == nil {
		c.HTTPClient = newHTTPClient(c, metrics.ObserveHostRequest)
	}
	hosts := host.NewRegistry(c.HTTPClient, Adapters(Endpoints{GitHubAPIURL: c.GitHubAPIURL, GitLabURL: c.GitLabURL})...)
	dir := directory.New(c.DB, c.Now)
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
		jdir = jira.NewDirectory(c.HTTPClient, c.Now)
		// The pusher reads hosts through the action service (the only
		// code that opens credentials), which is built after it.
		reader := jira.HostReaderFunc(func(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error) {
			return actions.BranchHeads(ctx, tenantID, integrationID, repositoryID, names)
		})
		devinfo = jira.NewDevinfo(jira.DevinfoConfig{Store: c.DB, Sealer: c.Sealer, Hosts: reader, HTTPClient: c.HTTPClient,
			PublicURL: c.PublicURL, Logger: c.Logger, Now: c.Now})
		acfg.Directory = jira.Composite{Local: dir, Jira: jdir}
		// Changes are queued for Jira in the transaction that records
		// them, not after it.
		c.DB.SetRecordHooks(devinfo)
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
			PublicURL: c.PublicURL, AuthURL: c.Jira.AuthURL, APIURL: c.Jira.APIURL, Store: c.DB, Sealer: c.Sealer, HTTPClient: c.HTTPClient,
			Directory: jdir, Logger: c.Logger, Now: c.Now,
			OnSignedIn: func(w http.ResponseWriter, r *http.Request, ps []relay.Principal, returnTo string) {
				pages.SignedIn(w, r, ps, returnTo)
			}})
		external = signIn
		remote := jira.NewRemote(jira.Config{AppID: c.Jira.AppID, JWKSURL: c.Jira.JWKSURL, Store: c.DB, Sealer: c.Sealer, HTTPClient: c.HTTPClient,
			Actions: actions, Directory: jdir, Devinfo: devinfo, Logger: c.Logger, Now: c.Now,
			OnUninstall: func(tenantID string) { signIn.Forget(tenantID, "") }})
		jiraRoutes = append(remote.Routes(), signIn.Routes()...)
	}
	if c.Indexer == nil && c.Jobs != nil && c.Index.Enabled {
		// A verified delivery queued the change durably: a job reads it
		// now (draining the queue, making the repository due, polling).
		runner := c.Jobs
		c.Indexer = webhook.IndexerFunc(func(ctx context.Context, tenantID, integrationID, repo string) {
			if err := indexNow(ctx, runner, tenantID, integrationID, repo); err != nil {
				c.Logger.WarnContext(ctx, "index: queueing the read of a changed repository failed; the next poll reads it", "err", err)
			}
		})
	}
	hooks := webhook.New(webhook.Config{Store: c.DB, Sealer: c.Sealer, Indexer: c.Indexer, PublicURL: c.PublicURL,
		Now: c.Now, Logger: c.Logger, Observe: metrics.ObserveWebhook})
	// Administrators have the action path register the webhook on hosts.
	actions.UseWebhooks(hooks)
	https := strings.HasPrefix(strings.ToLower(c.PublicURL), "https://")
	pages, err := web.New(web.Config{
		Actions: actions, Directory: dir, DirStore: c.DB, Store: c.DB, Hosts: hosts, Kinds: hosts.Kinds(),
		TenantID: relay.LocalTenant, Logger: c.Logger, Now: c.Now, Demo: c.Demo,
		SecureCookies: https, External: external, ClientAddr: c.ClientAddr, Webhooks: hooks,
	})
	if err != nil {
		// The templates are embedded: this is a build defect, not a
		// runtime condition.
		panic(err)
	}
	srv := server.New(server.Config{
		Actions: actions, Directory: dir, Hosts: hosts, Kinds: hosts.Kinds(),
		TenantID: relay.LocalTenant, Logger: c.Logger, Metrics: metrics, Ready: c.DB.Ping, Version: c.Version,
		Web: pages, JiraRoutes: jiraRoutes, HSTS: https, MetricsElsewhere: c.MetricsElsewhere, Webhooks: hooks,
	})
	a := &App{Actions: actions, Directory: dir, Hosts: hosts, Server: srv, Metrics: metrics, Devinfo: devinfo, Webhooks: hooks, RateBudget: c.RateBudget}
	budget := c.RateBudget
	actions.UseRateBudget(func(tenantID, integrationID string) (action.IndexBudget, bool) {
		st, ok := budget.StateOf(index.BudgetName(tenantID, integrationID))
		return action.IndexBudget{Limit: st.Limit, Remaining: st.Remaining, Reserved: st.Reserved, Reset: st.Reset, PausedUntil: st.PausedUntil}, ok
	})
	if c.Index.Enabled {
		ix, err := newIndexer(c, a, givenClient)
		if err != nil {
			c.Logger.Warn("indexing is off", "err", err)
		} else {
			a.Indexer = ix
		}
	}
	if c.Jobs != nil {
		registerJobs(c.Jobs, c.DB, actions, devinfo, c.HostTimeout, c.Logger)
		registerHostJobs(c.Jobs, actions, c.DB, c.Now, c.Logger)
		if a.Indexer != nil {
			if err := registerIndexJobs(c.Jobs, a.Indexer, c.DB, c.Index, c.Now, c.Logger); err != nil {
				c.Logger.Warn("indexing is off", "err", err)
				_ = a.Indexer.Close()
				a.Indexer = nil
			}
		}
		if a.Indexer != nil {
			runner := c.Jobs
			actions.OnReindex(func(ctx context.Context, tenantID, integrationID, repositoryID string) error {
				return indexNow(ctx, runner, tenantID, integrationID, repositoryID)
			})
		}
		metrics.Register(c.Jobs.Collectors()...)
	}
	return a
}

// NewHTTPClient is the outbound client New builds when c.HTTPClient is
// nil: host.NewHTTPClient bounded by c.HostTimeout, with EgressPolicy(c).
func NewHTTPClient(c Config) *http.Client { return newHTTPClient(c, nil) }

// newHTTPClient is NewHTTPClient telling observe of every request.
func newHTTPClient(c Config, observe func(host.Observation)) *http.Client {
	return host.NewHTTPClient(host.ClientConfig{Timeout: c.HostTimeout, Egress: EgressPolicy(c),
		Retries: host.RetryPolicy{Logger: c.Logger}, Observe: observe, Budget: c.RateBudget})
}

// EgressPolicy is where gitrelay may connect in c's mode. In Jira mode
// (c.Jira.AppID set) tenant administrators, who are not the server's
// operator, configure integrations, so private address ranges are refused
// as well; c.EgressAllow widens the policy.
func EgressPolicy(c Config) host.Egress {
	return host.Egress{RefusePrivate: c.Jira.AppID != "", Allow: c.EgressAllow}
}

// Bootstrap prepares the built-in tenant. On an empty directory it creates
// the administrator "admin" with password, or a generated one when password
// is empty, and returns the password it set (a generated one is shown once);
// otherwise it returns "". Replicas starting together on one empty database
// take turns (store.DB.Exclusively): exactly one creates the administrator,
// the others wait for it and find it there.
func Bootstrap(ctx context.Context, db *store.DB, dir *directory.Service, password string) (string, error) {
	set := ""
	err := db.Exclusively(ctx, "bootstrap", func(ctx context.Context) error {
		if err := db.EnsureTenant(ctx, relay.LocalTenant, "built-in directory"); err != nil {
			return err
		}
		n, err := db.CountUsers(ctx, relay.LocalTenant)
		if err != nil || n > 0 {
			return err
		}
		_, generated, err := dir.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: "admin", DisplayName: "Administrator", Admin: true, Password: password})
		if err != nil {
			return err
		}
		set = password
		if generated != "" {
			set = generated
		}
		return nil
	})
	return set, err
}
