package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

var allMigrations = []string{"0001_initial", "0002_web", "0003_jira", "0004_repositories", "0005_repository_cache", "0006_token_origins", "0007_host_writes", "0008_tenant_auth", "0009_replicas", "0010_integration_versions", "0011_devinfo_claims", "0012_index", "0014_webhooks", "0015_repository_changes", "0016_web_flashes", "0019_token_checks", "0020_commit_branches", "0021_webhook_registrations", "0022_clone_affinity", "0023_panel_versions"}

// emptyConfigs are configurations of empty, unmigrated databases.
func emptyConfigs(t *testing.T) map[string]func(t *testing.T) store.Config {
	return map[string]func(t *testing.T) store.Config{
		store.DialectSQLite: func(t *testing.T) store.Config {
			return store.Config{DataDir: t.TempDir()}
		},
		store.DialectPostgres: func(t *testing.T) store.Config {
			return store.Config{DatabaseURL: storetest.EmptyPostgresURL(t)}
		},
	}
}

func TestMigrate(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			cfg := emptyConfigs(t)[dialect](t)
			ctx := context.Background()

			t.Run("from empty applies every migration, re-run is a no-op", func(t *testing.T) {
				db, err := store.Open(ctx, cfg)
				must(t, err)
				defer db.Close()
				if got := db.Dialect(); got != dialect {
					t.Fatalf("got dialect %q, want %q", got, dialect)
				}
				applied, err := db.Migrate(ctx)
				must(t, err)
				wantEqual(t, "first run applied", applied, allMigrations)

				applied, err = db.Migrate(ctx)
				must(t, err)
				if len(applied) != 0 {
					t.Fatalf("second run applied %v, want nothing", applied)
				}
				versions, err := db.Versions(ctx)
				must(t, err)
				wantEqual(t, "recorded versions", versions, allMigrations)
				// The schema works.
				s, err := db.Settings(ctx, "t1")
				must(t, err)
				if s.MaxBranchLength == 0 {
					t.Fatalf("got settings %+v, want defaults", s)
				}
			})

			t.Run("a new process on a migrated database applies nothing", func(t *testing.T) {
				db, err := store.Open(ctx, cfg)
				must(t, err)
				defer db.Close()
				applied, err := db.Migrate(ctx)
				must(t, err)
				if len(applied) != 0 {
					t.Fatalf("applied %v, want nothing", applied)
				}
			})
		})
	}
}

func TestMigrateConcurrentProcesses(t *testing.T) {
	// Several replicas starting at once each migrate; every migration must
	// be applied exactly once and none may fail.
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			cfg := emptyConfigs(t)[dialect](t)
			ctx := context.Background()
			const processes = 4
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied []string
				errs    []error
			)
			for range processes {
				db, err := store.Open(ctx, cfg)
				must(t, err)
				defer db.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, err := db.Migrate(ctx)
					mu.Lock()
					defer mu.Unlock()
					applied = append(applied, a...)
					if err != nil {
						errs = append(errs, err)
					}
				}()
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("migrate errors: %v", errs)
			}
			// Processes take turns per migration, so one may apply a later
			// migration before another reports an earlier one: compare sets.
			slices.Sort(applied)
			wantEqual(t, "applied across processes", applied, allMigrations)
		})
	}
}
