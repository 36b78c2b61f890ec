// Command gitrelay serves gitrelay and administers its data.
//
//	gitrelay serve [--addr 127.0.0.1:8080]
//	gitrelay users add USERNAME [--admin] [--name N] [--email E]
//	gitrelay users api-token USERNAME
//	gitrelay projects add KEY [--name N]
//	gitrelay projects grant KEY USERNAME | --everyone
//	gitrelay keys rotate
//	gitrelay migrate
//	gitrelay healthcheck
//	gitrelay version
//
// Every command takes --data DIR (default ./gitrelay-data) and
// --database-url URL (default: SQLite in the data directory).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errHelp) {
			return // the command printed its flags
		}
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "gitrelay:", err)
			fmt.Fprintln(os.Stderr, "Run 'gitrelay help' for usage.")
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "gitrelay:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `gitrelay — create branches and pull requests on git hosts from issues.

Usage:
  gitrelay serve [--addr 127.0.0.1:8080] [--public-url URL] [--host-timeout 20s] [--demo]
                 [--jira-app-id ID --jira-client-id ID] [--trusted-proxies CIDRS]
                 [--egress-allow CIDRS,HOSTS] [--admin-password-file FILE] [--index-rate-share 50%] [--index on|off]
  gitrelay users add USERNAME [--admin] [--name NAME] [--email EMAIL]
  gitrelay users api-token USERNAME [--token-name NAME]
  gitrelay projects add KEY [--name NAME]
  gitrelay projects grant KEY (USERNAME | --everyone)
  gitrelay keys rotate [--batch N]
  gitrelay audit reconcile [--older-than DURATION] [--host-timeout 20s] [--egress-allow LIST] [--jira-app-id ID]
  gitrelay audit tenants
  gitrelay audit export --tenant ID [--since TIME] [--until TIME] [--limit N]
  gitrelay index status [--tenant ID]   (one JSON line per integration: indexed, queued, failing, disk, webhook deliveries)
  gitrelay migrate
  gitrelay healthcheck [--addr 127.0.0.1:8080] [--timeout 5s]   (exit 0 when /readyz answers 200)
  gitrelay version

Common flags (every command but healthcheck and version):
  --data DIR            data directory (default ./gitrelay-data; env GITRELAY_DATA)
  --database-url URL    PostgreSQL URL (env GITRELAY_DATABASE_URL); default: SQLite in the data directory
  --secret-key-file F   file of secret keys (env GITRELAY_SECRET_KEY holds keys directly);
                        default with SQLite: DATA/secret.key, created on first start

A flag wins over its environment variable, which wins over the default.
Run 'gitrelay COMMAND --help' for a command's flags. See docs/configuration.md
for every setting.
`

// run is the whole program, with its environment passed in so tests can run
// it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return usagef("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, getenv, stdout, stderr)
	case "projects":
		return cmdProjects(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, getenv, stdout, stderr)
	case "index":
		return cmdIndex(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		info, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, versionLine(version, info))
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
}
