package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// TestConcurrentWriters has 32 clients record branches (with their audit
// events), append audit events and read at once. On SQLite this is where
// "database is locked" would show up if writers competed for the file lock
// instead of queueing for the single write connection.
func TestConcurrentWriters(t *testing.T) {
	const (
		clients = 32
		rounds  = 10
	)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		putToken(t, db, newToken("t1", "u1", "i1"))

		var wg sync.WaitGroup
		errs := make(chan error, clients*rounds*4)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					issue := fmt.Sprintf("ABC-%d", c)
					b := newBranch(relay.NewID(), issue, "r1", fmt.Sprintf("%s-%d", issue, r), r)
					e := relay.AuditEvent{Action: relay.ActionBranchCreate, IssueKey: issue, Outcome: relay.OutcomeSuccess}
					if err := db.RecordBranch(ctx, b, e); err != nil {
						errs <- fmt.Errorf("record branch: %w", err)
					}
					if err := db.AppendAudit(ctx, relay.AuditEvent{TenantID: "t1", Action: relay.ActionBranchDelete, Outcome: relay.OutcomeFailed}); err != nil {
						errs <- fmt.Errorf("append audit: %w", err)
					}
					if _, err := db.IssueBranches(ctx, "t1", issue); err != nil {
						errs <- fmt.Errorf("issue branches: %w", err)
					}
					if _, err := db.UserToken(ctx, "t1", "u1", "i1"); err != nil {
						errs <- fmt.Errorf("user token: %w", err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		events, err := db.Audit(ctx, "t1", relay.AuditFilter{Limit: store.MaxAuditLimit})
		must(t, err)
		// Two per round, plus the integration's and the token's.
		if want := clients*rounds*2 + 2; len(events) != want {
			t.Fatalf("got %d audit events, want %d", len(events), want)
		}
		for c := range clients {
			bs, err := db.IssueBranches(ctx, "t1", fmt.Sprintf("ABC-%d", c))
			must(t, err)
			if len(bs) != rounds {
				t.Fatalf("issue ABC-%d: got %d branches, want %d", c, len(bs), rounds)
			}
		}
	})
}
