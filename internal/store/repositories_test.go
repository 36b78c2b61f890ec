package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

func TestMigrationRepositoriesKeepsExistingIntegrationsOnAllRepositories(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, emptyConfigs(t)[dialect](t))
			must(t, err)
			defer db.Close()

			// An integration as the release before 0004 wrote it.
			must(t, store.MigrateBefore(ctx, db, "0004_repositories"))
			must(t, store.ExecRaw(ctx, db, `INSERT INTO integrations (tenant_id, id, kind, name, base_url, options,
				enabled, require_user_pat, projects, account_login, account_name, account_scopes, account_expires_at,
				credential_sealed, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				"t1", "old", "github", "Old GitHub", "", "{}", true, false, `["ABC"]`, "relay-bot", "Relay Bot",
				`["repo"]`, nil, []byte("sealed"), t0.UnixMicro(), t0.UnixMicro()))

			applied, err := db.Migrate(ctx)
			must(t, err)
			wantEqual(t, "applied", applied, allMigrations[3:]) // 0004 and every later one

			got, err := db.Integration(ctx, "t1", "old")
			must(t, err)
			if got.Repositories != nil {
				t.Fatalf("got repositories %#v, want nil (all repositories)", got.Repositories)
			}
			wantEqual(t, "projects", got.Projects, []string{"ABC"})

			// The upgraded row takes a subset like any other.
			got.Repositories = []string{"1", "2"}
			must(t, db.UpdateIntegration(ctx, got, nil, auditFor(relay.ActionIntegrationUpdate)))
			again, err := db.Integration(ctx, "t1", "old")
			must(t, err)
			wantEqual(t, "repositories after update", again.Repositories, []string{"1", "2"})
		})
	}
}
