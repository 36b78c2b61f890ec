package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// ActionReads answers with the same values as the separate reads it
// replaces, in one round trip.
func TestActionReadsMatchesTheSeparateReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		createIntegration(t, db, newIntegration("t1", "i2"))
		createIntegration(t, db, newIntegration("t2", "i1"))
		putToken(t, db, newToken("t1", "alice", "i1"))
		putToken(t, db, newToken("t1", "bob", "i2"))
		putToken(t, db, newToken("t2", "alice", "i1"))
		saved := relay.Settings{BranchesEnabled: true, PullRequestsEnabled: false, BranchTemplate: "{key}-{summary}",
			Separator: "_", MaxBranchLength: 77}
		must(t, db.PutSettings(ctx, "t2", saved))

		for _, tt := range []struct {
			name, tenant, user, integration string
		}{
			{"default settings, the user's token", "t1", "alice", "i1"},
			{"another user's token is not read", "t1", "alice", "i2"},
			{"no token saved", "t1", "carol", "i1"},
			{"saved settings of the tenant", "t2", "alice", "i1"},
			{"another tenant's integration is not found", "t2", "alice", "i2"},
			{"an unknown integration is not found", "t1", "alice", "nope"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := db.RoundTrips()
				got, err := db.ActionReads(ctx, tt.tenant, tt.user, tt.integration)
				must(t, err)
				trips := db.RoundTrips() - before

				wantSettings, err := db.Settings(ctx, tt.tenant)
				must(t, err)
				wantEqual(t, "settings", got.Settings, wantSettings)
				in, err := db.Integration(ctx, tt.tenant, tt.integration)
				if relay.ErrorCode(err) == relay.ENotFound {
					wantEqual(t, "found", got.Found, false)
					return
				}
				must(t, err)
				wantEqual(t, "found", got.Found, true)
				wantEqual(t, "integration", got.Integration, in)
				wantEqual(t, "round trips", trips, int64(1))
				tok, err := db.UserToken(ctx, tt.tenant, tt.user, tt.integration)
				if relay.ErrorCode(err) == relay.ENotFound {
					if got.Token != nil {
						t.Fatalf("token %+v, want none", *got.Token)
					}
					return
				}
				must(t, err)
				if got.Token == nil {
					t.Fatal("no token, want the saved one")
				}
				wantEqual(t, "token", *got.Token, tok)
			})
		}
	})
}
