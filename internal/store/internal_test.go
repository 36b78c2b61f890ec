package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"placeholders are numbered in order", "SELECT a FROM t WHERE b = ? AND c IN (?, ?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"},
		{"no placeholders is unchanged", "SELECT 1", "SELECT 1"},
		{"question marks in string literals are kept", "SELECT '?' FROM t WHERE a = ?", "SELECT '?' FROM t WHERE a = $1"},
		{"ten and more", strings.Repeat("?,", 10) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rebind(true, tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if got := rebind(false, tt.in); got != tt.in {
				t.Fatalf("sqlite: got %q, want it unchanged", got)
			}
		})
	}
}

func TestMigrationSQL(t *testing.T) {
	for dialect, want := range map[string]string{DialectSQLite: "BLOB", DialectPostgres: "BYTEA"} {
		if got := migrationSQL(dialect, "x {{bytes}} NOT NULL"); got != "x "+want+" NOT NULL" {
			t.Errorf("%s: got %q", dialect, got)
		}
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.Contains(migrationSQL(DialectPostgres, m.text), "{{") {
			t.Errorf("%s: unknown substitution left in the text", m.version)
		}
	}
}

func TestAuditLimit(t *testing.T) {
	tests := []struct{ in, want int }{
		{0, DefaultAuditLimit}, {-5, DefaultAuditLimit}, {1, 1}, {500, 500},
		{MaxAuditLimit, MaxAuditLimit}, {MaxAuditLimit + 1, MaxAuditLimit},
	}
	for _, tt := range tests {
		if got := auditLimit(tt.in); got != tt.want {
			t.Errorf("auditLimit(%d): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	db, err := Open(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("the data directory is created private", func(t *testing.T) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Fatalf("got mode %v, want 0700", got)
		}
		fi, err = os.Stat(filepath.Join(dir, SQLiteFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Fatalf("database file: got mode %v, want 0600", got)
		}
	})

	t.Run("the write connection is tuned", func(t *testing.T) {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"busy_timeout": "10000",
			"foreign_keys": "1",
			"synchronous":  "1", // NORMAL
		} {
			var got string
			if err := db.write.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: got %q, want %q", pragma, got, want)
			}
		}
	})

	t.Run("read connections are read-only and wait for locks", func(t *testing.T) {
		for pragma, want := range map[string]string{"query_only": "1", "busy_timeout": "10000", "journal_mode": "wal"} {
			var got string
			if err := db.read.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: got %q, want %q", pragma, got, want)
			}
		}
		if _, err := db.read.ExecContext(ctx, "CREATE TABLE x (a INTEGER)"); err == nil {
			t.Error("a write through the read pool succeeded")
		}
	})

	t.Run("one writer, several readers", func(t *testing.T) {
		if got := db.write.Stats().MaxOpenConnections; got != 1 {
			t.Errorf("write pool: got %d connections, want 1", got)
		}
		if got := db.read.Stats().MaxOpenConnections; got < 4 {
			t.Errorf("read pool: got %d connections, want at least 4", got)
		}
	})

	if got := db.Dialect(); got != DialectSQLite {
		t.Errorf("got dialect %q, want %q", got, DialectSQLite)
	}
	if err := db.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"SQLite without a data directory", Config{}},
		{"a data directory with a '?'", Config{DataDir: filepath.Join(t.TempDir(), "a?b")}},
		{"an unknown URL scheme", Config{DatabaseURL: "mysql://root:s3cret@localhost/db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), tt.cfg)
			if err == nil {
				db.Close()
				t.Fatal("got nil error, want one")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error %q shows the password", err)
			}
		})
	}
}

func TestDBErrorTranslation(t *testing.T) {
	t.Run("no rows is not found with the given message", func(t *testing.T) {
		err := dbError(errNoRows(), "read", "widget not found", "")
		e, ok := relay.AsError(err)
		if !ok || e.Code != relay.ENotFound || e.Message != "widget not found" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other errors stay plain and keep their cause", func(t *testing.T) {
		cause := errors.New("disk on fire")
		err := dbError(cause, "read", "widget not found", "widget exists")
		if _, ok := relay.AsError(err); ok || !errors.Is(err, cause) {
			t.Fatalf("got %v", err)
		}
	})
}

func errNoRows() error { return sql.ErrNoRows }

func TestPanicInTransactionReleasesTheWriter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = db.inTx(ctx, func(c conn) error { panic("handler bug") })
	}()
	// With SQLite's single write connection still held, this would block
	// forever.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1"}); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
}

// A statement that met a terminated or broken connection, and could not
// safely be sent again, asks the person to try again (busy, with a
// Retry-After), rather than being an internal error; other driver errors
// stay as they are.
func TestALostConnectionIsBusy(t *testing.T) {
	for _, err := range []error{
		&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		fmt.Errorf("write: %w", syscall.EPIPE),
		io.ErrUnexpectedEOF,
	} {
		got := dbError(err, "record branch", "", "")
		e, ok := relay.AsError(got)
		if !ok || e.Code != relay.EBusy || e.RetryAfter <= 0 || !errors.Is(got, err) {
			t.Errorf("dbError(%v) = %v, want busy with a Retry-After, keeping the cause", err, got)
		}
	}
	other := &pgconn.PgError{Code: "42P01", Message: "relation does not exist"}
	if got := dbError(other, "record branch", "", ""); relay.ErrorCode(got) != relay.EInternal {
		t.Errorf("dbError(%v) = %v, want an internal error", other, got)
	}
}
