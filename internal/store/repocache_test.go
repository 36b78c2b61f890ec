package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func repo(id, fullName string) relay.Repository {
	name := fullName[strings.LastIndex(fullName, "/")+1:]
	return relay.Repository{ID: id, Name: name, FullName: fullName, DefaultBranch: "main", WebURL: "https://git.example/" + fullName}
}

func fullNames(repos []relay.Repository) []string {
	out := []string{}
	for _, r := range repos {
		out = append(out, r.FullName)
	}
	return out
}

func TestRepositoryCacheSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		must(t, db.ReplaceRepositories(ctx, "t1", "i1", []relay.Repository{
			repo("3", "acme/Widgets"), repo("1", "Acme/api"), repo("2", "tools/widgets"),
			repo("4", "acme/100%_done"), repo("5", "acme/100-x-done"), repo("6", "acme/bang!repo"),
			repo("3", "acme/duplicate-of-3"),
		}, at(0)))

		tests := []struct {
			name  string
			query string
			limit int
			want  []string
		}{
			{"an empty query lists every repository, ordered by full name ignoring case", "", 0,
				[]string{"acme/100%_done", "acme/100-x-done", "Acme/api", "acme/bang!repo", "acme/Widgets", "tools/widgets"}},
			{"a query matches a substring of the full name, ignoring case", "WIDG", 0, []string{"acme/Widgets", "tools/widgets"}},
			{"a query may span owner and name", "me/ap", 0, []string{"Acme/api"}},
			{"the limit keeps the first matches", "", 2, []string{"acme/100%_done", "acme/100-x-done"}},
			{"percent and underscore match themselves", "0%_", 0, []string{"acme/100%_done"}},
			{"underscore is not a wildcard", "100_", 0, []string{}},
			{"the escape character matches itself", "g!r", 0, []string{"acme/bang!repo"}},
			{"nothing matches", "gadgets", 0, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.SearchRepositories(ctx, "t1", "i1", tt.query, tt.limit)
				must(t, err)
				wantEqual(t, "full names", fullNames(got), tt.want)
			})
		}

		t.Run("a repository reads back whole", func(t *testing.T) {
			got, err := db.SearchRepositories(ctx, "t1", "i1", "acme/api", 0)
			must(t, err)
			wantEqual(t, "repositories", got, []relay.Repository{repo("1", "Acme/api")})
		})

		t.Run("a repeated id keeps its first occurrence", func(t *testing.T) {
			got, err := db.SearchRepositories(ctx, "t1", "i1", "duplicate", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{})
		})
	})
}

func TestRepositoryCacheReplaceAndSyncTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))

		t.Run("a list never synced has no sync time and no repositories", func(t *testing.T) {
			_, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			wantCode(t, err, relay.ENotFound, "")
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{})
		})

		t.Run("replacing records the sync time", func(t *testing.T) {
			must(t, db.ReplaceRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/old")}, at(1)))
			got, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "synced at", got, at(1))
		})

		t.Run("replacing again drops what the host no longer lists", func(t *testing.T) {
			must(t, db.ReplaceRepositories(ctx, "t1", "i1", []relay.Repository{repo("2", "acme/new")}, at(7)))
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{"acme/new"})
			at7, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "synced at", at7, at(7))
		})

		t.Run("an empty list is a synced list", func(t *testing.T) {
			must(t, db.ReplaceRepositories(ctx, "t1", "i1", nil, at(9)))
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{})
			at9, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "synced at", at9, at(9))
		})

		t.Run("thousands of repositories are stored in one replace", func(t *testing.T) {
			many := make([]relay.Repository, 3000)
			for i := range many {
				many[i] = repo(fmt.Sprint(i), fmt.Sprintf("org%02d/repo-%04d", i%30, i))
			}
			must(t, db.ReplaceRepositories(ctx, "t1", "i1", many, at(10)))
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			if len(got) != len(many) {
				t.Fatalf("got %d repositories, want %d", len(got), len(many))
			}
			got, err = db.SearchRepositories(ctx, "t1", "i1", "repo-2999", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{"org29/repo-2999"})
		})

		t.Run("an unknown integration is not found", func(t *testing.T) {
			err := db.ReplaceRepositories(ctx, "t1", "nope", []relay.Repository{repo("1", "acme/x")}, at(1))
			wantCode(t, err, relay.ENotFound, "")
		})

		t.Run("deleting the integration deletes its repositories and sync time", func(t *testing.T) {
			must(t, db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
			_, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			wantCode(t, err, relay.ENotFound, "")
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "full names", fullNames(got), []string{})
			// The same id created again starts with an empty, unsynced list.
			must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
			got, err = db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "full names after re-creating", fullNames(got), []string{})
		})
	})
}

func TestRepositoryCacheTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tenant := range []string{"t1", "t2"} {
			in := newIntegration(tenant, "i1")
			must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		}
		must(t, db.ReplaceRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "one/secret")}, at(1)))
		must(t, db.ReplaceRepositories(ctx, "t2", "i1", []relay.Repository{repo("1", "two/other")}, at(2)))

		t.Run("each tenant sees only its own list under the same integration id", func(t *testing.T) {
			for tenant, want := range map[string][]string{"t1": {"one/secret"}, "t2": {"two/other"}, "t3": {}} {
				got, err := db.SearchRepositories(ctx, tenant, "i1", "", 0)
				must(t, err)
				wantEqual(t, tenant+" full names", fullNames(got), want)
			}
		})
		t.Run("each tenant has its own sync time", func(t *testing.T) {
			got, err := db.RepositoriesSyncedAt(ctx, "t2", "i1")
			must(t, err)
			wantEqual(t, "t2 synced at", got, at(2))
			_, err = db.RepositoriesSyncedAt(ctx, "t3", "i1")
			wantCode(t, err, relay.ENotFound, "")
		})
		t.Run("replacing or deleting in one tenant leaves the other's list", func(t *testing.T) {
			must(t, db.ReplaceRepositories(ctx, "t2", "i1", nil, at(3)))
			must(t, db.DeleteIntegration(ctx, "t2", "i1", auditFor(relay.ActionIntegrationDelete)))
			got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
			must(t, err)
			wantEqual(t, "t1 full names", fullNames(got), []string{"one/secret"})
			at1, err := db.RepositoriesSyncedAt(ctx, "t1", "i1")
			must(t, err)
			wantEqual(t, "t1 synced at", at1, at(1))
		})
	})
}

// BenchmarkSearchRepositoryCache is one picker keystroke answered from the
// store: a substring search over an integration's 5,000 repositories.
func BenchmarkSearchRepositoryCache(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		if err := db.CreateIntegration(ctx, in, credential(in), relay.AuditEvent{}); err != nil {
			b.Fatal(err)
		}
		many := make([]relay.Repository, 5000)
		for i := range many {
			many[i] = repo(fmt.Sprint(i), fmt.Sprintf("org%02d/service-%04d", i%50, i))
		}
		if err := db.ReplaceRepositories(ctx, "t1", "i1", many, t0); err != nil {
			b.Fatal(err)
		}
		// A keystroke in the middle of typing: 110 of the 5,000 match, the
		// first 50 are answered.
		const query = "SERVICE-12"
		want := 0
		for _, r := range many {
			if strings.Contains(strings.ToLower(r.FullName), strings.ToLower(query)) {
				want++
			}
		}
		want = min(want, 50)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			got, err := db.SearchRepositories(ctx, "t1", "i1", query, 50)
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != want {
				b.Fatalf("got %d repositories, want %d", len(got), want)
			}
		}
	})
}

func TestConcurrentRepositoryReplacesTakeTurns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		list := make([]relay.Repository, 200)
		for i := range list {
			list[i] = repo(fmt.Sprint(i), fmt.Sprintf("acme/repo-%03d", i))
		}
		const writers = 4
		errs := make(chan error, writers)
		for i := range writers {
			go func() { errs <- db.ReplaceRepositories(ctx, "t1", "i1", list, at(i)) }()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Errorf("a concurrent replace failed: %v", err)
			}
		}
		got, err := db.SearchRepositories(ctx, "t1", "i1", "", 0)
		must(t, err)
		if len(got) != len(list) {
			t.Fatalf("got %d repositories, want %d", len(got), len(list))
		}
	})
}
