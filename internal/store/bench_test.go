package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func BenchmarkAppendAudit(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		e := relay.AuditEvent{TenantID: "t1", Username: "alice", Action: relay.ActionBranchCreate,
			IntegrationID: "i1", Repository: "acme/web", Ref: "ABC-1-fix", IssueKey: "ABC-1",
			Via: relay.ViaUserToken, Login: "alice-gh", Outcome: relay.OutcomeSuccess}
		b.ReportAllocs()
		for b.Loop() {
			if err := db.AppendAudit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkActionRead is what every branch or pull request action reads
// before calling the host: the integration, its credential and the user's
// token.
func BenchmarkActionRead(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		if err := db.CreateIntegration(ctx, in, credential(in), relay.AuditEvent{}); err != nil {
			b.Fatal(err)
		}
		if err := db.PutUserToken(ctx, newToken("t1", "u1", "i1"), relay.AuditEvent{}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.Integration(ctx, "t1", "i1"); err != nil {
					b.Fatal(err)
				}
				if _, err := db.IntegrationCredential(ctx, "t1", "i1"); err != nil {
					b.Fatal(err)
				}
				if _, err := db.UserToken(ctx, "t1", "u1", "i1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkClaimDueRepositories: one claim of eight repositories by one of
// three live replicas, in an index of 10,000 repositories all due at once
// (the worst case: after an outage), each replica holding a third of them,
// so that the claim passes over the others' repositories.
func BenchmarkClaimDueRepositories(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		if err := db.CreateIntegration(ctx, in, credential(in), relay.AuditEvent{}); err != nil {
			b.Fatal(err)
		}
		const n = 10_000
		repos := make([]relay.Repository, n)
		for i := range repos {
			repos[i] = repo(fmt.Sprint(i), fmt.Sprintf("acme/r%05d", i))
		}
		if _, err := db.SyncIndexRepositories(ctx, "t1", "i1", repos, t0); err != nil {
			b.Fatal(err)
		}
		now := t0
		replicas := []string{"a", "b", "c"}
		claim := func(replica string, limit int) int {
			got, err := db.ClaimDueRepositories(ctx, relay.IndexClaim{Owner: replica, Replica: replica, Now: now,
				Lease: time.Second, GoneAfter: time.Hour, Limit: limit})
			if err != nil {
				b.Fatal(err)
			}
			return len(got)
		}
		for i, r := range replicas {
			if err := db.BeatIndexReplica(ctx, r, now, 24*time.Hour); err != nil {
				b.Fatal(err)
			}
			if got := claim(r, n/3+min(i, 1)); got == 0 {
				b.Fatalf("replica %s claimed nothing", r)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			// The previous leases have ended; every repository is still due.
			now = now.Add(2 * time.Second)
			if got := claim("a", 8); got != 8 {
				b.Fatalf("claimed %d, want 8", got)
			}
		}
	})
}
