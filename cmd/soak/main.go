// Command soak runs gitrelay as it is deployed at scale, with faults, and
// checks what must hold whatever fails: several `gitrelay serve` replicas
// on one PostgreSQL database behind a round-robin proxy, the host
// simulator answering slowly and sometimes with 5xx, 429 or not at all, a
// fake Jira receiving development information, and many concurrent users
// creating and deleting branches, creating pull requests, saving personal
// access tokens and reading the development panel. Mid-run one replica is
// killed (SIGKILL) and restarted, and PostgreSQL's connections are
// terminated. Once the load is over it reads every user's issue panel from
// each replica and compares what it shows with the records. At the end it
// prints a table and exits 1 when an invariant is violated.
//
// Everything listens on the loopback interface. PostgreSQL must accept the
// URL given (-database-url, default the local server with trust
// authentication); a fresh database is created for the run and dropped
// afterwards.
//
//	go build -o /tmp/gitrelay ./cmd/gitrelay && go run ./cmd/soak -gitrelay /tmp/gitrelay
//
// scripts/soak does both.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the flags, runs the soak and prints its report: 0 when every
// invariant held, 1 when one did not, 2 when the soak could not run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	rep, err := soak(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 2
	}
	rep.print(stdout)
	if len(rep.violations()) > 0 {
		return 1
	}
	return 0
}

// config is one soak's size and environment.
type config struct {
	gitrelay    string
	databaseURL string
	replicas    int
	users       int
	actions     int
	// jiraUsers of the users are Jira users, usersPerSite to a site; the
	// others use the built-in directory and the JSON API.
	jiraUsers    int
	usersPerSite int
	latency      time.Duration
	hostTimeout  time.Duration
	// faults turns the injected host faults on.
	faults   bool
	duration time.Duration
	drain    time.Duration
	seed     int64
	logs     string
	verbose  bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.gitrelay, "gitrelay", "gitrelay", "the gitrelay binary to run")
	fs.StringVar(&c.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL database to connect to for creating (and dropping) the soak's own database")
	fs.IntVar(&c.replicas, "replicas", 3, "gitrelay serve processes")
	fs.IntVar(&c.users, "users", 200, "concurrent users")
	fs.IntVar(&c.actions, "actions", 50, "actions per user")
	fs.IntVar(&c.jiraUsers, "jira-users", -1, "how many of the users are Jira users (default: half)")
	fs.IntVar(&c.usersPerSite, "users-per-site", 10, "Jira users per Jira site")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "the simulated host's latency on every request")
	fs.DurationVar(&c.hostTimeout, "host-timeout", 3*time.Second, "gitrelay's --host-timeout (a hanging host costs this much)")
	fs.BoolVar(&c.faults, "faults", true, "inject host faults: 5xx, 429, requests that hang, answers cut off")
	fs.DurationVar(&c.duration, "duration", 15*time.Minute, "time bound of the load; actions not started by then are not run")
	fs.DurationVar(&c.drain, "drain", 3*time.Minute, "time bound for finishing background work after the load (reconciliation, the devinfo queue)")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the users' choices")
	fs.StringVar(&c.logs, "logs", "", "directory to keep the replicas' logs in (default: a temporary directory, removed)")
	fs.BoolVar(&c.verbose, "v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "soak takes no arguments")
		return c, fmt.Errorf("arguments")
	}
	if c.jiraUsers < 0 {
		c.jiraUsers = c.users / 2
	}
	if c.replicas < 2 || c.users < 1 || c.actions < 1 || c.usersPerSite < 1 || c.jiraUsers > c.users {
		fmt.Fprintln(stderr, "soak needs at least 2 replicas, 1 user, 1 action, 1 user per site, and no more Jira users than users")
		return c, fmt.Errorf("flags")
	}
	return c, nil
}
