package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// The operator reads the audit trail of a Jira site that disconnected
// gitrelay, by tenant id, from the command line.
func TestAuditOfARemovedJiraSiteStaysReadable(t *testing.T) {
	_, env, db := migratedData(t)
	ctx := context.Background()
	const tenant = "ari:cloud:ecosystem::installation/gone"
	if err := db.PutJiraInstallation(ctx, store.JiraInstallation{TenantID: tenant, CloudID: "c", SiteURL: "https://gone.atlassian.net"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendAudit(ctx, relay.AuditEvent{ID: relay.NewID(), TenantID: tenant, At: time.Now(), Username: "acc-alice",
		Action: relay.ActionBranchCreate, Repository: "acme/widgets", Ref: "ABC-1-fix", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteJiraTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var listed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(mustGitrelay(t, env, "audit", "tenants")), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("tenants line %q: %v", line, err)
		}
		if row["id"] == tenant {
			listed = row
		}
	}
	if listed == nil || listed["removed_at"] == nil || !strings.Contains(listed["name"].(string), "gone.atlassian.net") {
		t.Fatalf("the removed site is not listed as removed: %v", listed)
	}
	out := mustGitrelay(t, env, "audit", "export", "--tenant", tenant)
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ev); err != nil || ev["ref"] != "ABC-1-fix" || ev["user"] != "acc-alice" {
		t.Fatalf("export: %q (%v)", out, err)
	}
	if out, err := gitrelay(t, env, "audit", "export"); err == nil || !strings.Contains(out, "needs --tenant") {
		t.Fatalf("export without a tenant: %v %q", err, out)
	}
}
