package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Periodic background work runs once at a time: a second run while one is
// under way does not run; the next one after it does.
func TestOneAtATimeRunsOneAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		inside := make(chan struct{})
		release := make(chan struct{})
		done := make(chan bool)
		go func() {
			ran, err := db.OneAtATime(ctx, "work", func(context.Context) error {
				close(inside)
				<-release
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			done <- ran
		}()
		<-inside
		ran, err := db.OneAtATime(ctx, "work", func(context.Context) error { return nil })
		must(t, err)
		if ran {
			t.Error("a second run started while the first was under way")
		}
		ran, err = db.OneAtATime(ctx, "other work", func(context.Context) error { return nil })
		must(t, err)
		if !ran {
			t.Error("work under another name did not run")
		}
		close(release)
		if !<-done {
			t.Fatal("the first run did not run")
		}
		ran, err = db.OneAtATime(ctx, "work", func(context.Context) error { return nil })
		must(t, err)
		if !ran {
			t.Error("the next run after the first did not run")
		}
	})
}

// On PostgreSQL the guard holds across processes on one database, and a
// process that dies while holding it (its connection ends) does not keep
// the work from running.
func TestOneAtATimeHoldsAcrossProcessesAndDiesWithItsHolder(t *testing.T) {
	url := storetest.EmptyPostgresURL(t)
	ctx := context.Background()
	// The first process's connections are told apart by their name.
	holder := fmt.Sprintf("gitrelay-test-holder-%d", time.Now().UnixNano())
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	open := func(url string) *store.DB {
		db, err := store.Open(ctx, store.Config{DatabaseURL: url})
		must(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	first, second := open(url+sep+"application_name="+holder), open(url)
	_, err := first.Migrate(ctx)
	must(t, err)

	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := first.OneAtATime(ctx, "work", func(ctx context.Context) error {
			close(inside)
			<-release
			return nil
		})
		done <- err
	}()
	<-inside
	ran, err := second.OneAtATime(ctx, "work", func(context.Context) error { return nil })
	must(t, err)
	if ran {
		t.Fatal("another process ran the work while the first held it")
	}

	// The holder's connection ends, as a killed process's does.
	admin, err := sql.Open("pgx", os.Getenv(storetest.EnvDatabaseURL))
	must(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	_, err = admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, holder)
	must(t, err)
	// pg_terminate_backend only signals the backend: its locks go when it
	// has exited.
	for deadline := time.Now().Add(time.Minute); ; {
		var left int
		must(t, admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, holder).Scan(&left))
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder's backend is still there a minute after it was terminated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ran, err = second.OneAtATime(ctx, "work", func(context.Context) error { return nil })
	must(t, err)
	if !ran {
		t.Error("the work did not run after its holder's connection ended")
	}
	close(release)
	<-done // the first run ends with its lost connection; what it says does not matter here
}
