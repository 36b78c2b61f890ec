package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/clientip"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("serve", stderr)
	c.register(fs, getenv)
	addr := fs.String("addr", envOr(getenv, "GITRELAY_ADDR", "127.0.0.1:8080"), "address to listen on")
	publicURL := fs.String("public-url", getenv("GITRELAY_PUBLIC_URL"), "URL users reach gitrelay at (for links)")
	hostTimeoutOf := hostTimeoutFlag(fs, getenv)
	demo := fs.Bool("demo", false, "run a demo: simulated git hosts, demo users and project, on a temporary database")
	jiraAppID := fs.String("jira-app-id", getenv("GITRELAY_JIRA_APP_ID"), "Forge app id (ari:cloud:ecosystem::app/<uuid>): serve as the Jira app's remote")
	jiraClientID := fs.String("jira-client-id", getenv("GITRELAY_JIRA_CLIENT_ID"), "OAuth 2.0 (3LO) client id for Sign in with Atlassian")
	trustedProxies := fs.String("trusted-proxies", getenv("GITRELAY_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (default: none)")
	egress := egressFlag(fs, getenv)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("serve takes no arguments")
	}
	hostTimeout, err := hostTimeoutOf()
	if err != nil {
		return err
	}
	clientAddr, err := clientip.Parse(*trustedProxies)
	if err != nil {
		return usagef("--trusted-proxies (or GITRELAY_TRUSTED_PROXIES): %v", err)
	}
	allow, err := egress()
	if err != nil {
		return err
	}
	log := newLogger(stderr, getenv)

	var demoHosts *demoHosts
	if *demo {
		if c.databaseURL != "" {
			return usageError{errDemoWithDatabase.Error()}
		}
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
	log.Info("egress policy", "refuse_private", *jiraAppID != "", "egress_allow", allow.String())

	db, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := c.keys(db.Dialect())
	if err != nil {
		return err
	}
	cfg := app.Config{DB: db, Sealer: keys, Logger: log, HostTimeout: hostTimeout, ClientAddr: clientAddr, EgressAllow: allow,
		PublicURL: *publicURL, GitHubAPIURL: getenv("GITRELAY_GITHUB_API_URL"), GitLabURL: getenv("GITRELAY_GITLAB_URL"), Version: version,
		// The client secret comes from the environment only, never a flag,
		// so that it stays out of process listings.
		Jira: app.JiraConfig{AppID: *jiraAppID, ClientID: *jiraClientID, ClientSecret: getenv("GITRELAY_JIRA_CLIENT_SECRET"),
			JWKSURL: getenv("GITRELAY_JIRA_JWKS_URL"), AuthURL: getenv("GITRELAY_JIRA_AUTH_URL"), APIURL: getenv("GITRELAY_JIRA_API_URL")}}
	if *jiraAppID != "" && *publicURL == "" {
		return usagef("with --jira-app-id, set --public-url to the https URL Jira reaches gitrelay at")
	}
	if demoHosts != nil {
		cfg.Demo = demoHosts.info()
	}
	a := app.New(cfg)
	// Tokens saved before tokens were bound to their host's origin are
	// bound now, or deleted with a notice when gitrelay cannot tell which
	// host they were validated against.
	if bound, dropped, err := a.Actions.BindUserTokens(ctx); err != nil {
		return fmt.Errorf("binding saved personal access tokens to their hosts: %w", err)
	} else if bound+dropped > 0 {
		log.Info("bound saved personal access tokens to their hosts", "bound", bound, "deleted", dropped)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (choose another address with --addr)", *addr, err)
	}
	if demoHosts != nil {
		base := *publicURL
		if base == "" {
			base = "http://" + ln.Addr().String()
		}
		if err := seedDemo(ctx, db, a, demoHosts, base, stdout); err != nil {
			ln.Close()
			return err
		}
	} else {
		password, err := app.Bootstrap(ctx, db, a.Directory)
		if err != nil {
			ln.Close()
			return err
		}
		if password != "" {
			fmt.Fprintf(stdout, "Created administrator \"admin\". Password (shown once): %s\n", password)
			fmt.Fprintln(stdout, "Create an API token for scripts with: gitrelay users api-token admin")
		}
	}
	// Start-up work (migrations, the first administrator's argon2id hash
	// with its 19 MiB work area) leaves garbage an idle server should not
	// keep resident: collect it and give the memory back now.
	debug.FreeOSMemory()
	srv := &http.Server{
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Info("gitrelay listening", "addr", ln.Addr().String(), "database", db.Dialect(), "version", version)
	fmt.Fprintf(stdout, "gitrelay listening on http://%s\n", ln.Addr().String())

	// Host writes a previous process left pending (killed during the
	// call) are completed by asking the host; so are any that time out
	// while this one runs.
	go reconcileLoop(ctx, a.Actions, hostTimeout, log)
	if a.Devinfo != nil {
		// Pushes development information to Jira from the durable queue.
		go a.Devinfo.Run(ctx)
	}
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
