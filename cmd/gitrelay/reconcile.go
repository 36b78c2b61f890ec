package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
)

// hostTimeoutFlag registers --host-timeout (GITRELAY_HOST_TIMEOUT); the
// returned function checks it after parsing.
func hostTimeoutFlag(fs *settings) func() (time.Duration, error) {
	d := fs.Duration("host-timeout", 20*time.Second, "time limit for each request to a git host and for one action's host calls together")
	fs.fromEnv("host-timeout", "GITRELAY_HOST_TIMEOUT")
	return func() (time.Duration, error) {
		if *d <= 0 {
			return 0, usagef("%s must be a positive duration such as 20s", fs.flagOrEnv("host-timeout"))
		}
		return *d, nil
	}
}

// egressFlag registers --egress-allow (GITRELAY_EGRESS_ALLOW); the
// returned function checks it after parsing.
func egressFlag(fs *settings) func() (host.Allowlist, error) {
	v := fs.String("egress-allow", "",
		"comma-separated CIDRs and host names gitrelay may connect to although the egress policy refuses them (e.g. 127.0.0.0/8,gitlab.corp.example)")
	fs.fromEnv("egress-allow", "GITRELAY_EGRESS_ALLOW")
	return func() (host.Allowlist, error) {
		allow, err := host.ParseAllowlist(*v)
		if err != nil {
			return allow, usagef("%v (set with %s)", err, fs.flagOrEnv("egress-allow"))
		}
		return allow, nil
	}
}

// jiraAppIDFlag registers --jira-app-id (GITRELAY_JIRA_APP_ID).
func jiraAppIDFlag(fs *settings, usage string) *string {
	v := fs.String("jira-app-id", "", usage)
	fs.fromEnv("jira-app-id", "GITRELAY_JIRA_APP_ID")
	return v
}

// cmdAuditReconcile runs `gitrelay audit reconcile`: one reconciliation
// pass now, for operators (after an outage) and tests; serve runs the same
// pass as a background job at start-up and every minute
// (app.ReconcileArgs).
func cmdAuditReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("audit reconcile", stderr, getenv)
	c.register(fs)
	hostTimeout := hostTimeoutFlag(fs)
	egress := egressFlag(fs)
	jiraAppID := jiraAppIDFlag(fs, "the Forge app id serve runs with: its egress policy (private ranges refused) applies")
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
	log := newLogger(stderr, getenv("GITRELAY_LOG_LEVEL"))
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
		GitHubAPIURL: getenv("GITRELAY_GITHUB_API_URL"), GitLabURL: getenv("GITRELAY_GITLAB_URL"), Version: buildVersion()})
	r, err := a.Actions.ReconcilePending(ctx, *olderThan)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Reconciled pending host writes: %d succeeded, %d failed, %d unknown, %d to ask again.\n",
		r.Succeeded, r.Failed, r.Unknown, r.Deferred)
	return nil
}
