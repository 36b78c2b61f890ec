// Package store keeps gitrelay's data in SQLite (the default, one file in
// the data directory) or PostgreSQL. It implements relay.Store,
// relay.SecretStore and directory.Store with one SQL text for both
// dialects wherever possible: queries are written with `?` placeholders and
// rebound to `$n` for Postgres, timestamps are BIGINT Unix microseconds UTC
// and ids are caller-supplied TEXT, so data means the same on both.
//
// Every table carries tenant_id and every query filters by it. The two
// deliberate exceptions are ResealSecrets (key rotation visits every
// tenant) and APITokenUser (the token hash is what identifies the tenant).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"               // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// The store implements the ports the action path needs. directory.Store is
// asserted in the tests instead: importing directory here would make
// directory's own in-package tests (which use storetest) an import cycle.
var (
	_ relay.Store       = (*DB)(nil)
	_ relay.SecretStore = (*DB)(nil)
)

// Dialects.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// SQLiteFile is the database file's name in the data directory.
const SQLiteFile = "gitrelay.db"

const (
	// sqliteBusyTimeout is how long a SQLite connection waits for a lock
	// held by another connection or process before failing with
	// SQLITE_BUSY. Inside one process the single write connection makes
	// writers queue in database/sql instead, so this only matters for
	// other processes (a CLI command next to a running server) and WAL
	// checkpoints.
	sqliteBusyTimeout = 10 * time.Second

	// postgresMaxConns bounds the Postgres pool: enough for a busy server,
	// few enough that many gitrelay processes (or parallel test packages)
	// stay under the server's max_connections.
	postgresMaxConns = 16
	// postgresMaxIdleConns is how many of them stay open between requests:
	// all, until idle for postgresMaxIdleTime. A pool that closes
	// connections as soon as fewer are busy opens new ones under load, and
	// each new one costs PostgreSQL a backend process and the re-planning of
	// the statements the old one had prepared.
	postgresMaxIdleConns = postgresMaxConns
	postgresMaxIdleTime  = 5 * time.Minute
)

// Config says where the database is.
type Config struct {
	// DatabaseURL selects PostgreSQL when it starts with postgres:// or
	// postgresql://. Empty means SQLite in DataDir.
	DatabaseURL string
	// DataDir holds gitrelay.db; it is created (mode 0700) when missing.
	DataDir string
	// Logger receives start-up and migration messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock used to fill timestamps callers leave zero; nil
	// means time.Now.
	Now func() time.Time
}

// DB is the storage layer. It is safe for concurrent use.
type DB struct {
	dialect string
	// write runs every write transaction. For SQLite it is a pool of exactly
	// one connection: SQLite allows one writer at a time, and queueing in
	// database/sql is far cheaper (and never fails) compared with many
	// connections fighting over the file lock. read serves reads from
	// several connections, which WAL lets proceed beside the writer. For
	// Postgres both are the same pool.
	write *sql.DB
	read  *sql.DB
	log   *slog.Logger
	now   func() time.Time
	// trips counts the statements sent to the database (RoundTrips).
	trips atomic.Int64
	// integrations keeps integrations for the development panel.
	integrations integrationCache
	// panels keeps issues' records and index for the panel.
	panels panelCache
	// prepared keeps the hot reads' statements on SQLite (see hot).
	prepared sync.Map // query text → *sql.Stmt
	// recordHooks are told of recorded changes (SetRecordHooks).
	recordHooks RecordHooks
	// running holds, by name, the in-process half of OneAtATime's lock.
	running sync.Map
	// commitFault, when set (tests only), commits a transaction in place
	// of tx.Commit: it can lose the answer to a COMMIT that was made.
	commitFault func(commit func() error) error
}

// Open connects to the database described by cfg. It does not migrate; call
// Migrate before use.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	db := &DB{log: log, now: now}
	var err error
	switch {
	case cfg.DatabaseURL == "":
		err = db.openSQLite(ctx, cfg.DataDir)
	case strings.HasPrefix(cfg.DatabaseURL, "postgres://"), strings.HasPrefix(cfg.DatabaseURL, "postgresql://"):
		err = db.openPostgres(ctx, cfg.DatabaseURL)
	default:
		// Never echo the URL: it may hold a password.
		return nil, errors.New("store: database URL must start with postgres:// or postgresql:// (or be empty for SQLite)")
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) openSQLite(ctx context.Context, dataDir string) error {
	if dataDir == "" {
		return errors.New("store: a data directory is required for SQLite")
	}
	// The driver cuts the file name at the first '?', where its options
	// begin; refuse rather than open a different file.
	if strings.Contains(dataDir, "?") {
		return fmt.Errorf("store: data directory %q must not contain '?'", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(dataDir, SQLiteFile)
	busy := strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10)

	// WAL lets readers run beside the writer; synchronous=NORMAL is durable
	// against application crashes in WAL mode and much faster than FULL;
	// foreign keys are off by default in SQLite. _txlock=immediate takes
	// the write lock at BEGIN, so a transaction never fails halfway when it
	// upgrades from reading to writing.
	writeDSN := path + "?" + url.Values{
		"_busy_timeout": {busy},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
	}.Encode()
	// WAL is a property of the file, set by the write pool before the read
	// pool opens; query_only makes an accidental write through the read
	// pool fail loudly instead of contending for the lock. Each reader
	// keeps up to 16 MiB of pages (SQLite's default is 2 MiB): the panel of
	// an issue with 500 indexed commits touches a few MiB of the index, and
	// with the default each read of it went back to the file for most of
	// them.
	readDSN := path + "?" + url.Values{
		"_busy_timeout": {busy},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
		"_pragma":       {"cache_size(-16384)"},
	}.Encode()

	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// The file may predate us with other permissions; secrets live in it.
	if err := os.Chmod(path, 0o600); err != nil {
		write.Close()
		return fmt.Errorf("store: restrict database file: %w", err)
	}

	read, err := sql.Open("sqlite", readDSN)
	if err != nil {
		write.Close()
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	readers := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(readers)
	// Keep readers open: a new SQLite connection re-runs its pragmas.
	read.SetMaxIdleConns(readers)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}

	db.dialect = DialectSQLite
	db.write, db.read = write, read
	db.log.Info("database opened", "dialect", db.dialect, "path", path)
	return nil
}

func (db *DB) openPostgres(ctx context.Context, databaseURL string) error {
	pool, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	pool.SetMaxOpenConns(postgresMaxConns)
	pool.SetMaxIdleConns(postgresMaxIdleConns)
	pool.SetConnMaxIdleTime(postgresMaxIdleTime)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("store: open postgres: %w", err)
	}
	db.dialect = DialectPostgres
	db.write, db.read = pool, pool
	db.log.Info("database opened", "dialect", db.dialect)
	return nil
}

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	if db.read != db.write {
		if err := db.read.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
	}
	return nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	db.prepared.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// RoundTrips is how many round trips the store has made to the database
// since it was opened: every query and exec, each BEGIN and COMMIT of a
// transaction, and each batch of statements sent together to PostgreSQL
// (batch). Benchmarks divide it by the requests they make; a counter is
// all it costs.
func (db *DB) RoundTrips() int64 { return db.trips.Load() }

// Pool is one connection pool's statistics.
type Pool struct {
	// Name is "write" and "read" on SQLite (one writer, several readers),
	// "main" on PostgreSQL (one pool for both).
	Name  string
	Stats sql.DBStats
}

// Pools returns the statistics of each connection pool, for metrics.
func (db *DB) Pools() []Pool {
	if db.read == db.write {
		return []Pool{{Name: "main", Stats: db.write.Stats()}}
	}
	return []Pool{{Name: "write", Stats: db.write.Stats()}, {Name: "read", Stats: db.read.Stats()}}
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs `?`-placeholder SQL on a pool or a transaction, rebinding it
// for Postgres. Every query in the package goes through it.
type conn struct {
	q        querier
	postgres bool
	trips    *atomic.Int64
	// prepared, when set, keeps the statements of q (a pool) prepared.
	prepared *sync.Map
	// db makes a request's pending API token check (relay.TokenCheck)
	// before the first statement; nil when the statement makes the check
	// itself.
	db *DB
}

// conn wraps a pool or a transaction of db.
func (db *DB) conn(q querier) conn {
	return conn{q: q, postgres: db.dialect == DialectPostgres, trips: &db.trips, db: db}
}

// checking is c for a statement that makes the request's token check
// itself (see settle).
func (c conn) checking() conn {
	c.db = nil
	return c
}

// exec runs a statement. On a pool (outside a transaction), a statement
// the database refused because its connection was terminated before it
// ran is sent again on another connection (see retries).
func (c conn) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	if err := c.settle(ctx); err != nil {
		return nil, err
	}
	ctx, span := c.startSpan(ctx, query)
	defer func() { endSpan(span, err) }()
	_, pooled := c.q.(*sql.DB)
	for attempt := 1; ; attempt++ {
		c.trips.Add(1)
		res, err = c.q.ExecContext(ctx, rebind(c.postgres, query), args...)
		if !pooled || attempt >= retries || !notRun(err) || ctx.Err() != nil {
			return res, lostConnection(err)
		}
	}
}

// query runs a read. On a pool, a read that met a lost connection is sent
// again on another one: reading twice changes nothing.
func (c conn) query(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	if err := c.settle(ctx); err != nil {
		return nil, err
	}
	ctx, span := c.startSpan(ctx, query)
	// The span ends when the answer begins; reading the rows is the
	// caller's.
	defer func() { endSpan(span, err) }()
	_, pooled := c.q.(*sql.DB)
	for attempt := 1; ; attempt++ {
		c.trips.Add(1)
		if st := c.stmt(ctx, query); st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = c.q.QueryContext(ctx, rebind(c.postgres, query), args...)
		}
		if !pooled || attempt >= retries || !connectionLost(err) || ctx.Err() != nil {
			return rows, lostConnection(err)
		}
	}
}

// queryRow is query for one row; on a pool it is sent again like query.
// (The error of a *sql.Row cannot be replaced: callers that answer
// people pass it through dbError, which words a lost connection.)
func (c conn) queryRow(ctx context.Context, query string, args ...any) row {
	if err := c.settle(ctx); err != nil {
		return row{err: err}
	}
	ctx, span := c.startSpan(ctx, query)
	defer endSpan(span, nil)
	_, pooled := c.q.(*sql.DB)
	for attempt := 1; ; attempt++ {
		c.trips.Add(1)
		var r *sql.Row
		if st := c.stmt(ctx, query); st != nil {
			r = st.QueryRowContext(ctx, args...)
		} else {
			r = c.q.QueryRowContext(ctx, rebind(c.postgres, query), args...)
		}
		if !pooled || attempt >= retries || !connectionLost(r.Err()) || ctx.Err() != nil {
			return row{r: r}
		}
	}
}

// row is a *sql.Row, or the error that kept its statement from being
// sent.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// settle makes the request's pending API token check (relay.TokenCheck)
// as a statement of its own, before the first statement of a request
// that reads nothing with it, and refuses every statement of a request
// whose token does not authenticate.
func (c conn) settle(ctx context.Context) error {
	if c.db == nil {
		return nil
	}
	check := relay.TokenCheckFrom(ctx)
	if check == nil {
		return nil
	}
	return check.Settle(func() (valid, granted bool, err error) {
		args := tokenCheckArgs(check)
		err = c.db.hot().checking().queryRow(ctx, `SELECT `+tokenCheckColumns, args...).Scan(&valid, &granted)
		if err != nil {
			return false, false, fmt.Errorf("store: check API token: %w", err)
		}
		return valid, granted, nil
	})
}

// stmt returns the kept prepared statement for query, preparing it the
// first time; nil when statements are not kept or it cannot be prepared
// (the query then runs unprepared, and reports its own error).
func (c conn) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.prepared == nil {
		return nil
	}
	if st, ok := c.prepared.Load(query); ok {
		return st.(*sql.Stmt)
	}
	pool, ok := c.q.(*sql.DB)
	if !ok {
		return nil
	}
	st, err := pool.PrepareContext(ctx, rebind(c.postgres, query))
	if err != nil {
		return nil
	}
	if kept, loaded := c.prepared.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return kept.(*sql.Stmt)
	}
	return st
}

// reader is for reads outside a transaction.
func (db *DB) reader() conn {
	return db.conn(db.read)
}

// hot is reader for the reads of the requests made all day (API token,
// View Development Tools, the Jira installation of a Forge call, an
// action's prologue, the development panel),
// whose texts are constants. On SQLite their statements are prepared once
// and kept: parsing the SQL is a large part of a small read there.
// PostgreSQL's driver keeps prepared statements by itself.
func (db *DB) hot() conn {
	c := db.reader()
	if db.dialect == DialectSQLite {
		c.prepared = &db.prepared
	}
	return c
}

// inTx runs fn in one write transaction, committing when fn returns nil.
// fn must use only the conn it is given: on SQLite the write pool has a
// single connection, which the transaction holds.
//
// A transaction whose BEGIN met a lost connection is begun again on
// another one: nothing of it ran. Once a statement of it ran, it is not
// repeated (fn may have acted on what it read); a lost connection then
// fails it with relay.EBusy, which asks the person to try again. See
// inTxRepeatable for transactions that may be run again.
func (db *DB) inTx(ctx context.Context, fn func(c conn) error) error {
	return db.runTx(ctx, fn, false, nil)
}

// inTxRepeatable is inTx for an fn that only sends statements on c, with
// no effect outside the transaction (it sets nothing the caller reads
// unless it sets it anew each time): when a statement of it meets a lost
// connection before COMMIT, the transaction did not commit, and it is run
// again, whole, on another connection. The write paths of every action
// use it, so that a terminated connection does not fail a change the host
// already made.
func (db *DB) inTxRepeatable(ctx context.Context, fn func(c conn) error) error {
	return db.runTx(ctx, fn, true, nil)
}

// inTxAudited is inTxRepeatable for a transaction that records the audit
// event e (its ID set by the caller) with its outcome. When the connection
// is lost while COMMIT is answered, whether it committed is not known; the
// event tells: it is asked for on another connection, and the transaction
// is reported done when it is there, or run again when it is not. So a
// person is not told "try again" about a change that was made.
func (db *DB) inTxAudited(ctx context.Context, tenantID string, e relay.AuditEvent, fn func(c conn) error) error {
	return db.runTx(ctx, fn, true, db.auditedProbe(tenantID, e))
}

// auditedProbe asks whether e is recorded with its outcome.
func (db *DB) auditedProbe(tenantID string, e relay.AuditEvent) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var n int
		err := db.conn(db.write).queryRow(context.WithoutCancel(ctx), `SELECT COUNT(*) FROM audit_events WHERE tenant_id = ? AND id = ? AND outcome = ?`,
			tenantID, e.ID, e.Outcome).Scan(&n)
		return n > 0, err
	}
}

func (db *DB) runTx(ctx context.Context, fn func(c conn) error, repeatable bool, committed func(context.Context) (bool, error)) error {
	if err := db.reader().settle(ctx); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		began, committing, err := db.txOnce(ctx, fn)
		if err == nil {
			return nil
		}
		if committing && committed != nil && connectionLost(err) {
			done, probeErr := committed(ctx)
			if probeErr == nil && done {
				return nil
			}
			if probeErr == nil && attempt < retries && ctx.Err() == nil {
				continue // it did not commit: run it again
			}
			return err
		}
		again := connectionLost(err) && !committing && (!began || repeatable)
		if !again || attempt >= retries || ctx.Err() != nil {
			return err
		}
	}
}

// txOnce runs fn in one transaction, and says how far it got: whether
// BEGIN succeeded, and whether COMMIT was sent (after which a lost
// connection leaves the outcome unknown).
func (db *DB) txOnce(ctx context.Context, fn func(c conn) error) (began, committing bool, err error) {
	db.trips.Add(1)
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, false, fmt.Errorf("store: begin: %w", lostConnection(err))
	}
	// Also on panic: a transaction left open would hold SQLite's only
	// write connection forever. After Commit this is a harmless no-op.
	defer func() { _ = tx.Rollback() }()
	if err := fn(db.conn(tx)); err != nil {
		return true, false, lostConnection(err)
	}
	db.trips.Add(1)
	commit := tx.Commit
	if db.commitFault != nil {
		commit = func() error { return db.commitFault(tx.Commit) }
	}
	if err := commit(); err != nil {
		return true, true, fmt.Errorf("store: commit: %w", lostConnection(err))
	}
	return true, true, nil
}

// retries bounds how many times a statement or a transaction that met a
// lost connection is sent: each failure removes one dead connection from the
// pool, and after PostgreSQL's connections were all terminated at once,
// every idle one (postgresMaxIdleConns) is dead.
const retries = postgresMaxIdleConns + 1

// connectionLost is true for an error that says the statement's
// connection is gone: PostgreSQL terminated its backend (an administrator,
// a failover, a restart: SQLSTATE class 57P) or the connection broke.
// The pool discards such a connection; the next statement gets another.
func connectionLost(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P") // admin_shutdown, crash_shutdown, cannot_connect_now...
	}
	return notRun(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed")
}

// notRun is true for an error that says a statement did not run at all:
// PostgreSQL refused it because its backend was being terminated (its
// session's FATAL answer), or the driver found the connection dead before
// sending anything.
func notRun(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err)
}

// lostConnection words err for the person when it is a lost connection
// that was not (or could not safely be) retried: relay.EBusy, answered
// 503 with Retry-After, rather than an internal error. Other errors are
// returned as they are.
func lostConnection(err error) error {
	if !connectionLost(err) {
		return err
	}
	if _, ok := relay.AsError(err); ok {
		return err
	}
	return &relay.Error{Code: relay.EBusy, RetryAfter: time.Second, Err: err,
		Message: "gitrelay lost its connection to its database while doing this, so it may not have been saved. Try again in a moment."}
}

// rebind turns `?` placeholders into Postgres' `$1, $2, ...`. Our SQL
// never has a `?` inside a string literal, but skipping quoted text keeps
// the function honest.
func rebind(postgres bool, query string) string {
	if !postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'':
			inQuote = !inQuote
			b.WriteByte(ch)
		case ch == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// dbError translates a driver error into the domain error a caller can act
// on. notFound names what is missing, both when a row was expected
// (sql.ErrNoRows) and when a foreign key points at nothing; conflict
// names what already exists. Anything else is a plain wrapped error whose
// text is for logs only.
func dbError(err error, op, notFound, conflict string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows) && notFound != "":
		return relay.Errorf(relay.ENotFound, "%s", notFound)
	case isUniqueViolation(err) && conflict != "":
		return &relay.Error{Code: relay.EConflict, Message: conflict, Err: err}
	case isForeignKeyViolation(err) && notFound != "":
		return &relay.Error{Code: relay.ENotFound, Message: notFound, Err: err}
	case connectionLost(err):
		return lostConnection(err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503" // foreign_key_violation
	}
	return false
}

// mustAffect turns "no row changed" into ENotFound, for updates and deletes
// of a row the caller names.
func mustAffect(res sql.Result, op, notFound string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if n == 0 {
		return relay.Errorf(relay.ENotFound, "%s", notFound)
	}
	return nil
}

// Timestamps are BIGINT Unix microseconds UTC on both dialects, so they
// compare and sort identically everywhere. Optional times are NULL when
// zero.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// orNow returns t, or the store's clock when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.now()
	}
	return t
}
