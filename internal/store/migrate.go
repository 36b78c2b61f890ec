package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Migrations are numbered SQL files, applied in name order, each in its own
// transaction and recorded in schema_migrations. A released migration is
// never edited; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// migrationSQL adapts a migration's text to the dialect. The only
// difference between the dialects' schemas is the byte-string type.
func migrationSQL(dialect, text string) string {
	bytesType := "BLOB"
	if dialect == DialectPostgres {
		bytesType = "BYTEA"
	}
	return strings.ReplaceAll(text, "{{bytes}}", bytesType)
}

type migration struct {
	version string // the file name without .sql, e.g. "0001_initial"
	text    string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		if !migrationName.MatchString(base) {
			return nil, fmt.Errorf("store: migration %q is not named NNNN_words.sql", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: strings.TrimSuffix(base, ".sql"), text: string(b)})
	}
	return out, nil
}

// Migrate applies the migrations the database lacks and returns their
// versions. Running it again is a no-op. Several processes may migrate the
// same database at once: on SQLite the write transaction serialises them,
// on Postgres an advisory lock does, and each re-checks inside its
// transaction whether the migration is still needed.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	err = db.inTx(ctx, func(c conn) error {
		if err := db.lockMigrations(ctx, c); err != nil {
			return err
		}
		_, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    TEXT   NOT NULL PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`)
		if err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		done := false
		err := db.inTx(ctx, func(c conn) error {
			if err := db.lockMigrations(ctx, c); err != nil {
				return err
			}
			var n int
			err := c.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
			if err != nil {
				return fmt.Errorf("store: read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			// No arguments: both drivers then accept several statements.
			if _, err := c.exec(ctx, migrationSQL(db.dialect, m.text)); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.version, err)
			}
			_, err = c.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.version, micros(db.now()))
			if err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.version, err)
			}
			done = true
			return nil
		})
		if err != nil {
			return applied, err
		}
		if done {
			db.log.Info("migration applied", "version", m.version)
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// lockMigrations makes concurrent migrators on Postgres take turns until
// the transaction ends. The lock is keyed by schema so that databases in
// different schemas (parallel tests) do not wait for each other. SQLite
// needs nothing: BEGIN IMMEDIATE already excludes other writers.
func (db *DB) lockMigrations(ctx context.Context, c conn) error {
	if db.dialect != DialectPostgres {
		return nil
	}
	_, err := c.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gitrelay.migrate.' || current_schema()))`)
	if err != nil {
		return fmt.Errorf("store: lock migrations: %w", err)
	}
	return nil
}

// Versions lists the applied migrations, oldest first.
func (db *DB) Versions(ctx context.Context) ([]string, error) {
	rows, err := db.reader().query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	return out, nil
}

// Exclusively runs fn while no other gitrelay process on the same database
// runs a function under the same name: replicas starting at the same moment
// take turns, and each finds what the previous one did. On PostgreSQL a
// transaction-scoped advisory lock, keyed by name and schema, is held by a
// transaction of its own until fn returns; fn does its work in transactions
// of its own, committed before the lock is released. SQLite databases are
// served by one process, whose start-up runs once: fn simply runs (holding
// SQLite's single write connection would keep fn from writing).
func (db *DB) Exclusively(ctx context.Context, name string, fn func(context.Context) error) error {
	if db.dialect != DialectPostgres {
		return fn(ctx)
	}
	return db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('gitrelay.' || ? || '.' || current_schema()))`, name); err != nil {
			return fmt.Errorf("store: lock %s: %w", name, err)
		}
		return fn(ctx)
	})
}

// OneAtATime runs fn unless a function under the same name is already
// running, in this process or (on PostgreSQL) in another gitrelay process
// on the same database, and says whether fn ran. It is for periodic
// background work that must not overlap with itself: on PostgreSQL a
// transaction-scoped advisory lock is tried, which the database releases
// when fn returns or when the process holding it dies with its connection,
// so a killed replica never keeps the work from running.
func (db *DB) OneAtATime(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	m, _ := db.running.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	if !mu.TryLock() {
		return false, nil
	}
	defer mu.Unlock()
	if db.dialect != DialectPostgres {
		return true, fn(ctx)
	}
	ran := false
	err := db.inTx(ctx, func(c conn) error {
		var got bool
		if err := c.queryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('gitrelay.' || ? || '.' || current_schema()))`, name).Scan(&got); err != nil {
			return fmt.Errorf("store: lock %s: %w", name, err)
		}
		if !got {
			return nil
		}
		ran = true
		return fn(ctx)
	})
	return ran, err
}
