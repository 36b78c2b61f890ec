package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestIndexStatusListsEachIntegrationsIndex(t *testing.T) {
	_, env, db := migratedData(t)
	ctx := context.Background()
	in := relay.Integration{ID: "i1", TenantID: relay.LocalTenant, Kind: "github", Name: "GitHub", Enabled: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.CreateIntegration(ctx, in, []byte("sealed"), relay.AuditEvent{ID: relay.NewID(), Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SyncIndexRepositories(ctx, relay.LocalTenant, "i1", []relay.Repository{{ID: "1", FullName: "acme/widgets", WebURL: "https://github.com/acme/widgets"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out := mustGitrelay(t, env, "index", "status")
	var row map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
		t.Fatalf("status %q: %v", out, err)
	}
	if row["name"] != "GitHub" || row["total"] != float64(1) || row["queued"] != float64(1) || row["indexed"] != float64(0) {
		t.Errorf("got %v, want GitHub with one repository queued", row)
	}
	if out, err := gitrelay(t, env, "index"); err == nil || !strings.Contains(out, "subcommand") {
		t.Errorf("index without a subcommand: %v %q", err, out)
	}
}
