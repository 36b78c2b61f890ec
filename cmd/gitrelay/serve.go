package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/clientip"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/store"
)

// serveConfig is everything `gitrelay serve` is told, by its flags and
// environment (see parseServe).
type serveConfig struct {
	common
	addr string
	demo bool
	// adminPasswordFile holds the first administrator's password for an
	// unattended first start; empty means a generated one, printed once.
	adminPasswordFile string
	logLevel          string
	// metricsAddr, when set, serves /metrics there instead of on addr.
	metricsAddr string
	// otlpEndpoint, when set, sends traces to this OTLP/HTTP collector;
	// serviceName names gitrelay in them.
	otlpEndpoint, serviceName string
	// index is --index as given: on or off.
	index string
	// app is the application's configuration, without what serve opens
	// (database, keys, logger).
	app app.Config
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return runServer(ctx, cfg, stdout, stderr)
}

// parseServe reads serve's configuration from its arguments and
// environment, and checks it; it opens nothing.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := newFlagSet("serve", stderr, getenv)
	c.register(fs)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.fromEnv("addr", "GITRELAY_ADDR")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "",
		"address to serve /metrics on, apart from --addr (which then no longer serves it); default: /metrics on --addr")
	fs.fromEnv("metrics-addr", "GITRELAY_METRICS_ADDR")
	publicURL := fs.String("public-url", "", "URL users reach gitrelay at (for links)")
	fs.fromEnv("public-url", "GITRELAY_PUBLIC_URL")
	hostTimeoutOf := hostTimeoutFlag(fs)
	fs.BoolVar(&c.demo, "demo", false, "run a demo: simulated git hosts, demo users and project, on a temporary database")
	jiraAppID := jiraAppIDFlag(fs, "Forge app id (ari:cloud:ecosystem::app/<uuid>): serve as the Jira app's remote")
	jiraClientID := fs.String("jira-client-id", "", "OAuth 2.0 (3LO) client id for Sign in with Atlassian")
	fs.fromEnv("jira-client-id", "GITRELAY_JIRA_CLIENT_ID")
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)")
	fs.fromEnv("trusted-proxies", "GITRELAY_TRUSTED_PROXIES")
	fs.StringVar(&c.adminPasswordFile, "admin-password-file", "",
		"file holding the first administrator's password, for an unattended first start (default: generate one and print it once)")
	fs.fromEnv("admin-password-file", "GITRELAY_ADMIN_PASSWORD_FILE")
	egress := egressFlag(fs)
	indexRateShare := indexRateShareFlag(fs)
	fs.StringVar(&c.index, "index", "on", "on or off: read every repository of every integration with git, so issues list all their branches, commits and pull requests (needs git; see docs/indexing.md)")
	fs.fromEnv("index", "GITRELAY_INDEX")
	if pos, err := parse(fs, args); err != nil {
		return c, err
	} else if len(pos) > 0 {
		return c, usagef("serve takes no arguments")
	}
	hostTimeout, err := hostTimeoutOf()
	if err != nil {
		return c, err
	}
	clientAddr, err := clientip.Parse(*trustedProxies)
	if err != nil {
		return c, usagef("%s: %v", fs.flagOrEnv("trusted-proxies"), err)
	}
	allow, err := egress()
	if err != nil {
		return c, err
	}
	share, err := indexRateShare()
	if err != nil {
		return c, err
	}
	var indexOn bool
	switch strings.ToLower(c.index) {
	case "on", "true", "1":
		indexOn = true
	case "off", "false", "0":
	default:
		return c, usagef("%s must be on or off, not %q", fs.flagOrEnv("index"), c.index)
	}
	if *jiraAppID != "" && *publicURL == "" {
		return c, usagef("with --jira-app-id, set --public-url to the https URL Jira reaches gitrelay at")
	}
	if c.demo && c.databaseURL != "" {
		return c, usageError{errDemoWithDatabase.Error()}
	}
	c.logLevel = getenv("GITRELAY_LOG_LEVEL")
	// OpenTelemetry's own variables, so that an operator sets them as for
	// any other service.
	c.otlpEndpoint, c.serviceName = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), getenv("OTEL_SERVICE_NAME")
	c.app = app.Config{HostTimeout: hostTimeout, ClientAddr: clientAddr, EgressAllow: allow, IndexRateShare: share,
		PublicURL: *publicURL, GitHubAPIURL: getenv("GITRELAY_GITHUB_API_URL"), GitLabURL: getenv("GITRELAY_GITLAB_URL"), Version: buildVersion(),
		// The client secret comes from the environment only, never a flag,
		// so that it stays out of process listings.
		Jira: app.JiraConfig{AppID: *jiraAppID, ClientID: *jiraClientID, ClientSecret: getenv("GITRELAY_JIRA_CLIENT_SECRET"),
			JWKSURL: getenv("GITRELAY_JIRA_JWKS_URL"), AuthURL: getenv("GITRELAY_JIRA_AUTH_URL"), APIURL: getenv("GITRELAY_JIRA_API_URL")},
		MetricsElsewhere: c.metricsAddr != "",
		Index:            app.IndexConfig{Enabled: indexOn}}
	return c, nil
}

// runServer runs the server c describes until ctx ends.
func runServer(ctx context.Context, c serveConfig, stdout, stderr io.Writer) error {
	log := newLogger(stderr, c.logLevel)
	allow := c.app.EgressAllow
	// Read before anything is created, so that a wrong file stops a first
	// start before it leaves an administrator without a known password.
	adminPassword, err := readAdminPassword(c.adminPasswordFile)
	if err != nil {
		return err
	}

	var demoHosts *demoHosts
	if c.demo {
		// A fresh database every run: the demo always starts from the same
		// state, and never mixes with real data.
		tmp, err := os.MkdirTemp("", "gitrelay-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		c.dataDir = tmp
		if demoHosts, err = startDemoHosts(); err != nil {
			return err
		}
		defer demoHosts.Close()
		// The simulated hosts listen on the loopback interface, which the
		// egress policy refuses: the demo allows their addresses the way
		// an operator would, and says so.
		allow = allow.With(demoHosts.egressAllow())
		log.Info("demo: allowing outbound connections to the simulated hosts", "egress_allow", demoHosts.egressAllow().String())
	}
	log.Info("egress policy", "refuse_private", c.app.Jira.AppID != "", "egress_allow", allow.String())
	if c.otlpEndpoint != "" {
		policy := app.EgressPolicy(c.app)
		policy.Allow = allow
		stop, err := app.StartTracing(ctx, app.TracingConfig{Endpoint: c.otlpEndpoint, ServiceName: c.serviceName,
			Version: c.app.Version, Egress: policy, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			// The spans of the last requests are sent before exiting.
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := stop(flushCtx); err != nil {
				log.Warn("tracing: the last spans were not sent", "error", err)
			}
		}()
		log.Info("tracing on", "otlp_endpoint", c.otlpEndpoint)
	}

	db, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := c.keys(db.Dialect())
	if err != nil {
		return err
	}
	runner, err := jobs.New(jobs.Config{DB: db, Logger: log})
	if err != nil {
		return err
	}
	cfg := c.app
	cfg.DB, cfg.Sealer, cfg.Logger, cfg.EgressAllow, cfg.Jobs = db, keys, log, allow, runner
	cfg.Index.DataDir = c.dataDir
	if demoHosts != nil {
		cfg.Demo = demoHosts.info()
	}
	a := app.New(cfg)
	if a.Indexer != nil {
		defer a.Indexer.Close()
	}
	// Tokens saved before tokens were bound to their host's origin are
	// bound now, or deleted with a notice when gitrelay cannot tell which
	// host they were validated against.
	if bound, dropped, err := a.Actions.BindUserTokens(ctx); err != nil {
		return fmt.Errorf("binding saved personal access tokens to their hosts: %w", err)
	} else if bound+dropped > 0 {
		log.Info("bound saved personal access tokens to their hosts", "bound", bound, "deleted", dropped)
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (choose another address with --addr or GITRELAY_ADDR)", c.addr, err)
	}
	var metricsLn net.Listener
	if c.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", c.metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("cannot listen on %s: %w (choose another address with --metrics-addr or GITRELAY_METRICS_ADDR)", c.metricsAddr, err)
		}
		defer metricsLn.Close()
	}
	if demoHosts != nil {
		base := c.app.PublicURL
		if base == "" {
			base = "http://" + ln.Addr().String()
		}
		if err := seedDemo(ctx, db, a, demoHosts, base, stdout); err != nil {
			ln.Close()
			return err
		}
	} else if err := firstAdministrator(ctx, db, a, c.adminPasswordFile, adminPassword, stdout); err != nil {
		ln.Close()
		return err
	}
	// Start-up work (migrations, the first administrator's argon2id hash
	// with its 19 MiB work area) leaves garbage an idle server should not
	// keep resident: collect it and give the memory back now.
	debug.FreeOSMemory()
	// The metrics line comes first: whoever waits for "listening" (a
	// script, a test) has read it by then.
	if metricsLn != nil {
		log.Info("metrics listening", "addr", metricsLn.Addr().String())
		fmt.Fprintf(stdout, "gitrelay metrics on http://%s/metrics\n", metricsLn.Addr().String())
		go serveMetrics(ctx, metricsLn, a.Metrics.Handler(), log)
	}
	log.Info("gitrelay listening", "addr", ln.Addr().String(), "database", db.Dialect(), "version", c.app.Version)
	fmt.Fprintf(stdout, "gitrelay listening on http://%s\n", ln.Addr().String())
	return serveHTTP(ctx, ln, a, runner, log)
}

// firstAdministrator creates the administrator "admin" on an empty
// directory, with the password from the file when one is given (never
// printed), else a generated one printed once.
func firstAdministrator(ctx context.Context, db *store.DB, a *app.App, file, password string, stdout io.Writer) error {
	set, err := app.Bootstrap(ctx, db, a.Directory, password)
	switch {
	case err != nil:
		return err
	case set != "" && password != "":
		fmt.Fprintf(stdout, "Created administrator \"admin\" with the password in %s.\n", file)
	case set != "":
		fmt.Fprintf(stdout, "Created administrator \"admin\". Password (shown once): %s\n", set)
		fmt.Fprintln(stdout, "Create an API token for scripts with: gitrelay users api-token admin")
	}
	return nil
}

// serveHTTP serves a's pages and API on ln, with its background work, until
// ctx ends; then it finishes the requests in flight (up to 10 s).
func serveHTTP(ctx context.Context, ln net.Listener, a *app.App, runner *jobs.Runner, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	// The background work (app.Config.Jobs): host writes left pending
	// are completed by asking the host, development information is
	// pushed to Jira from its durable queue, and the index reads the
	// integrations' repositories, each job on one replica.
	if err := runner.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer func() {
		// Running jobs get the time requests get to finish; those cut
		// short are worked again later, here or on another replica.
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runner.Stop(stopCtx); err != nil {
			log.Error("stopping background jobs", "err", err)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveMetrics serves GET /metrics alone on ln until ctx ends: a listener
// for the scraper, on an address the public does not reach.
func serveMetrics(ctx context.Context, ln net.Listener, metrics http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener stopped", "error", err)
	}
}

// readAdminPassword reads the first administrator's password from path
// (--admin-password-file): the whole file, less one trailing newline, so
// that `echo secret > file` and secret managers' files both work. An empty
// path means no password is given.
func readAdminPassword(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the administrator's password (--admin-password-file or GITRELAY_ADMIN_PASSWORD_FILE): %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if n := len(password); n < directory.MinPasswordLength {
		return "", fmt.Errorf("the administrator's password in %s has %d characters; write one of at least %d characters to the file (--admin-password-file or GITRELAY_ADMIN_PASSWORD_FILE)",
			path, n, directory.MinPasswordLength)
	}
	return password, nil
}
