package store_test

import (
	"context"
	"testing"

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
