package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
)

// reconcileEvery is how often serve completes host writes left pending.
const reconcileEvery = time.Minute

// hostTimeoutFlag registers --host-timeout; the returned function reads
// it after parsing: the flag when given, else GITRELAY_HOST_TIMEOUT, else
// 20s (flag > environment > default, like every setting).
func hostTimeoutFlag(fs *flag.FlagSet, getenv func(string) string) func() (time.Duration, error) {
	d := fs.Duration("host-timeout", 20*time.Second, "time limit for each git host call (GITRELAY_HOST_TIMEOUT)")
	return func() (time.Duration, error) {
		if v := getenv("GITRELAY_HOST_TIMEOUT"); v != "" && !flagGiven(fs, "host-timeout") {
			e, err := time.ParseDuration(v)
			if err != nil || e <= 0 {
				return 0, usagef("GITRELAY_HOST_TIMEOUT=%q is not a duration such as 20s", v)
			}
			return e, nil
		}
		if *d <= 0 {
			return 0, usagef("--host-timeout must be a positive duration such as 20s")
		}
		return *d, nil
	}
}

// egressFlag registers --egress-allow (default GITRELAY_EGRESS_ALLOW); the
// returned function checks it after parsing.
func egressFlag(fs *flag.FlagSet, getenv func(string) string) func() (host.Allowlist, error) {
	v := fs.String("egress-allow", getenv("GITRELAY_EGRESS_ALLOW"),
		"comma-separated CIDRs and host names gitrelay may connect to although the egress policy refuses them (e.g. 127.0.0.0/8,gitlab.corp.example)")
	return func() (host.Allowlist, error) {
		allow, err := host.ParseAllowlist(*v)
		if err != nil {
			return allow, usagef("%v (set with --egress-allow or GITRELAY_EGRESS_ALLOW)", err)
		}
		return allow, nil
	}
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// reconcileLoop completes host writes left pending for longer than the
// host timeout (their process died, or their call timed out): once at
// start-up, then every reconcileEvery, until ctx ends.
func reconcileLoop(ctx context.Context, actions *action.Service, hostTimeout time.Duration, log *slog.Logger) {
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		r, err := actions.ReconcilePending(ctx, hostTimeout)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("reconciling pending host writes", "err", err)
		case r != (action.Reconciled{}):
			log.Info("reconciled pending host writes", "succeeded", r.Succeeded, "failed", r.Failed,
				"unknown", r.Unknown, "deferred", r.Deferred)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cmdAuditReconcile runs `gitrelay audit reconcile`: one reconciliation
// pass now, for operators (after an outage) and tests; serve runs the same
// pass at start-up and every minute.
func cmdAuditReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("audit reconcile", stderr)
	c.register(fs, getenv)
	hostTimeout := hostTimeoutFlag(fs, getenv)
	egress := egressFlag(fs, getenv)
	jiraAppID := fs.String("jira-app-id", getenv("GITRELAY_JIRA_APP_ID"), "the Forge app id serve runs with: its egress policy (private ranges refused) applies")
	olderThan := fs.Duration("older-than", -1, "reconcile writes pending for longer than this (default: the host timeout); "+
		"shorter only when no server is sending host writes")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit reconcile takes no arguments")
	}
	timeout, err := hostTimeout()
	if err != nil {
		return err
	}
	allow, err := egress()
	if err != nil {
		return err
	}
	if *olderThan < 0 {
		*olderThan = timeout
	}
	log := newLogger(stderr, getenv)
	db, err := c.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := c.keys(db.Dialect())
	if err != nil {
		return err
	}
	// The hosts are asked under serve's egress policy, Jira mode included;
	// Jira itself is not needed for a pass.
	hc := app.NewHTTPClient(app.Config{HostTimeout: timeout, EgressAllow: allow, Jira: app.JiraConfig{AppID: *jiraAppID}})
	a := app.New(app.Config{DB: db, Sealer: keys, Logger: log, HostTimeout: timeout, EgressAllow: allow, HTTPClient: hc,
		GitHubAPIURL: getenv("GITRELAY_GITHUB_API_URL"), GitLabURL: getenv("GITRELAY_GITLAB_URL"), Version: version})
	r, err := a.Actions.ReconcilePending(ctx, *olderThan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Reconciled pending host writes: %d succeeded, %d failed, %d unknown, %d to ask again.\n",
		r.Succeeded, r.Failed, r.Unknown, r.Deferred)
	return nil
}
