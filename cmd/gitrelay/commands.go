package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// common holds the flags every command takes.
type common struct {
	dataDir       string
	databaseURL   string
	secretKeyFile string
	getenv        func(string) string
}

func (c *common) register(fs *settings) {
	c.getenv = fs.getenv
	fs.StringVar(&c.dataDir, "data", "./gitrelay-data", "data directory")
	fs.fromEnv("data", "GITRELAY_DATA")
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL (default: SQLite in the data directory)")
	fs.fromSecretEnv("database-url", "GITRELAY_DATABASE_URL")
	fs.StringVar(&c.secretKeyFile, "secret-key-file", "", "file of secret keys")
	fs.fromEnv("secret-key-file", "GITRELAY_SECRET_KEY_FILE")
}

// openStore opens and migrates the database.
func (c *common) openStore(ctx context.Context, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, store.Config{DatabaseURL: c.databaseURL, DataDir: c.dataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	// The job queue's tables live beside ours, migrated by River's own
	// migrations.
	if _, err := jobs.Migrate(ctx, db, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	return db, nil
}

// keys loads the secret key ring. With SQLite and nothing configured, a key
// file is created in the data directory on first start. With PostgreSQL the
// key must be supplied, because every replica must share it.
func (c *common) keys(dialect string) (vault.KeySource, error) {
	if env := c.getenv("GITRELAY_SECRET_KEY"); env != "" {
		keys, err := vault.ParseKeys(env)
		if err != nil {
			return nil, fmt.Errorf("GITRELAY_SECRET_KEY: %w", err)
		}
		return vault.NewStaticKeys(keys...)
	}
	if c.secretKeyFile != "" {
		return vault.NewFileKeys(c.secretKeyFile, vault.FileOptions{Create: dialect == "sqlite"})
	}
	if dialect != "sqlite" {
		return nil, errors.New("with PostgreSQL, gitrelay needs a secret key shared by every replica: set GITRELAY_SECRET_KEY (generate one with `openssl rand -base64 32`) or --secret-key-file")
	}
	return vault.NewFileKeys(filepath.Join(c.dataDir, "secret.key"), vault.FileOptions{Create: true})
}

// newLogger logs JSON lines to w at level (GITRELAY_LOG_LEVEL: debug, info,
// warn or error; default info).
func newLogger(w io.Writer, levelName string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(levelName) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("migrate", stderr, getenv)
	c.register(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("migrate takes no arguments")
	}
	db, err := store.Open(ctx, store.Config{DatabaseURL: c.databaseURL, DataDir: c.dataDir, Logger: newLogger(stderr, getenv("GITRELAY_LOG_LEVEL"))})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	river, err := jobs.Migrate(ctx, db, nil)
	if err != nil {
		return err
	}
	for _, v := range river {
		applied = append(applied, fmt.Sprintf("job queue (River) %03d", v))
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "The database schema is up to date.")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

func cmdUsers(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("users needs a subcommand: add or api-token")
	}
	var c common
	fs := newFlagSet("users "+args[0], stderr, getenv)
	c.register(fs)
	admin := fs.Bool("admin", false, "make the user an administrator")
	name := fs.String("name", "", "display name")
	email := fs.String("email", "", "email address")
	tokenName := fs.String("token-name", "", "a name for the API token")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("users %s takes exactly one USERNAME", args[0])
	}
	db, err := c.openStore(ctx, newLogger(stderr, getenv("GITRELAY_LOG_LEVEL")))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.EnsureTenant(ctx, relay.LocalTenant, "built-in directory"); err != nil {
		return err
	}
	dir := directory.New(db, nil)
	switch args[0] {
	case "add":
		u, password, err := dir.AddUser(ctx, relay.LocalTenant, directory.NewUser{Username: pos[0], DisplayName: *name, Email: *email, Admin: *admin})
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "Added user %s", u.Username)
		if u.Admin {
			fmt.Fprint(stdout, " (administrator)")
		}
		fmt.Fprintf(stdout, ".\nPassword (shown once): %s\n", password)
	case "api-token":
		token, err := dir.NewAPIToken(ctx, relay.LocalTenant, pos[0], *tokenName)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintln(stdout, token)
	default:
		return usagef("unknown users subcommand %q (add, api-token)", args[0])
	}
	return nil
}

func cmdProjects(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("projects needs a subcommand: add or grant")
	}
	var c common
	fs := newFlagSet("projects "+args[0], stderr, getenv)
	c.register(fs)
	name := fs.String("name", "", "project name")
	everyone := fs.Bool("everyone", false, "grant to every user")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	db, err := c.openStore(ctx, newLogger(stderr, getenv("GITRELAY_LOG_LEVEL")))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.EnsureTenant(ctx, relay.LocalTenant, "built-in directory"); err != nil {
		return err
	}
	dir := directory.New(db, nil)
	switch args[0] {
	case "add":
		if len(pos) != 1 {
			return usagef("projects add takes exactly one KEY")
		}
		p, err := dir.AddProject(ctx, relay.LocalTenant, pos[0], *name)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(stdout, "Added project %s (%s).\n", p.Key, p.Name)
	case "grant":
		if *everyone && len(pos) == 1 {
			pos = append(pos, "")
		}
		if len(pos) != 2 || (*everyone == (pos[1] != "")) {
			return usagef("projects grant takes KEY and either USERNAME or --everyone")
		}
		g, err := dir.Grant(ctx, relay.LocalTenant, pos[0], pos[1])
		if err != nil {
			return userError(err)
		}
		who := g.Username
		if who == "" {
			who = "everyone"
		}
		fmt.Fprintf(stdout, "Granted View Development Tools on %s to %s.\n", g.ProjectKey, who)
	default:
		return usagef("unknown projects subcommand %q (add, grant)", args[0])
	}
	return nil
}

func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usagef("keys needs the subcommand rotate")
	}
	var c common
	fs := newFlagSet("keys rotate", stderr, getenv)
	c.register(fs)
	batch := fs.Int("batch", 500, "secrets re-sealed per transaction")
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("keys rotate takes no arguments")
	}
	db, err := c.openStore(ctx, newLogger(stderr, getenv("GITRELAY_LOG_LEVEL")))
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := c.keys(db.Dialect())
	if err != nil {
		return err
	}
	last := 0
	stats, err := vault.Rotate(ctx, keys, db, vault.RotateOptions{Batch: *batch, Progress: func(seen, updated int) {
		if seen-last >= 1000 {
			fmt.Fprintf(stdout, "… %d secrets checked, %d re-sealed\n", seen, updated)
			last = seen
		}
	}})
	if err != nil {
		return err
	}
	if stats.Generated {
		fmt.Fprintf(stdout, "Generated a new primary key %s.\n", stats.Primary)
	}
	fmt.Fprintf(stdout, "Checked %d secrets in %d passes; re-sealed %d under key %s.\n", stats.Secrets, stats.Passes, stats.Resealed, stats.Primary)
	if len(stats.Pruned) > 0 {
		fmt.Fprintf(stdout, "Removed %d retired key(s) from the key file.\n", len(stats.Pruned))
	}
	if len(stats.Unused) > 0 {
		fmt.Fprintf(stdout, "No secret uses these keys any more; remove them from GITRELAY_SECRET_KEY and restart: %v\n", stats.Unused)
	}
	if stats.Unopenable > 0 {
		fmt.Fprintf(stdout, "WARNING: %d secret(s) could not be opened with any key (keys %v are missing); they were left as they are. Add the missing key and run rotate again.\n", stats.Unopenable, stats.UnknownKeys)
	}
	return nil
}

// userError adds field details to a domain error for the terminal.
func userError(err error) error {
	e, ok := relay.AsError(err)
	if !ok {
		return err
	}
	msg := e.Message
	for k, v := range e.Fields {
		msg += fmt.Sprintf(" %s: %s", k, v)
	}
	return errors.New(msg)
}
