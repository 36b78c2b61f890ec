// Package storetest gives tests a freshly migrated, empty database on
// SQLite and, when GITRELAY_TEST_DATABASE_URL is set, on PostgreSQL.
//
// Each Postgres database is a schema of its own with a random name on the
// server GITRELAY_TEST_DATABASE_URL names, dropped when the test ends, so
// tests in parallel packages never see each other's data. Set
// GITRELAY_TEST_REQUIRE_POSTGRES=1 (as CI does) to fail instead of skipping
// when the server is not configured.
//
// Packages whose store.DB-using tests live inside the package itself
// (package relay, not relay_test) cannot import storetest: store imports
// relay, so that would be an import cycle. Put such tests in the _test
// package.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for creating schemas

	"github.com/gitrelay/gitrelay/internal/store"
)

// Environment variables.
const (
	EnvDatabaseURL     = "GITRELAY_TEST_DATABASE_URL"
	EnvRequirePostgres = "GITRELAY_TEST_REQUIRE_POSTGRES"
)

// setupTimeout bounds creating or dropping a test database.
const setupTimeout = 30 * time.Second

// Each runs f as the subtests "sqlite" and "postgres", each with a freshly
// migrated, empty database closed when the subtest ends. f may call
// t.Parallel.
func Each(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run(store.DialectSQLite, func(t *testing.T) { f(t, SQLite(t)) })
	t.Run(store.DialectPostgres, func(t *testing.T) { f(t, Postgres(t)) })
}

// EachB is Each for benchmarks. The timer is reset after the database is
// made; f should reset it again after its own setup.
func EachB(b *testing.B, f func(b *testing.B, db *store.DB)) {
	b.Helper()
	b.Run(store.DialectSQLite, func(b *testing.B) {
		db := SQLite(b)
		b.ResetTimer()
		f(b, db)
	})
	b.Run(store.DialectPostgres, func(b *testing.B) {
		db := Postgres(b)
		b.ResetTimer()
		f(b, db)
	})
}

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DataDir: t.TempDir(), Logger: discard()})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Postgres returns a migrated database in a new schema on the server
// GITRELAY_TEST_DATABASE_URL names. It skips the test when the variable is
// unset, or fails it when GITRELAY_TEST_REQUIRE_POSTGRES=1.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	databaseURL := EmptyPostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DatabaseURL: databaseURL, Logger: discard()})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	// Cleanups run last-registered first, so the pool closes before the
	// schema is dropped.
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// EmptyPostgresURL creates an empty schema, dropped when the test ends, and
// returns a database URL whose connections use it. It is for tests that
// open and migrate the database themselves (migration tests, main's
// end-to-end tests). It skips or fails like Postgres.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is not set", EnvRequirePostgres, EnvDatabaseURL)
		}
		t.Skipf("%s not set", EnvDatabaseURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	schema := "gitrelay_test_" + randomHex(t, 8)
	schemaURL, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("%s: %v", EnvDatabaseURL, err)
	}
	// The schema name is ours (letters, digits, underscores), so quoting
	// it is enough.
	if err := adminExec(ctx, base, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := adminExec(ctx, base, `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return schemaURL
}

// withSearchPath returns the URL with search_path set to schema; pgx sends
// unknown URL parameters to the server as run-time parameters.
func withSearchPath(databaseURL, schema string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("want a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func adminExec(ctx context.Context, databaseURL, stmt string) error {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
