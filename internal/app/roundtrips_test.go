package app_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The requests every user makes all day cost few database round trips:
// on PostgreSQL each is a network round trip, and the panel is read on
// every issue view. (On SQLite a transaction's BEGIN and COMMIT count too,
// while PostgreSQL writes an audit row with its record in one statement.)
func TestHotRequestsDatabaseRoundTrips(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		id := e.Integration(true, nil)
		if r := e.SaveToken(e.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			t.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		createBranch := map[string]int64{store.DialectSQLite: 12, store.DialectPostgres: 5}[db.Dialect()]
		for _, tt := range []struct {
			name string
			do   func(i int) int
			want int64
		}{
			// API token, View Development Tools, the user's tokens with
			// the integrations' version, the records, the index
			// (branches, commits, pull requests in one statement).
			{"panel read", func(int) int {
				return e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil).Status
			}, 5},
			// API token, View Development Tools, settings with the
			// integration and the user's token, the pending audit row,
			// its completion with the branch record.
			{"create branch", func(i int) int {
				return e.CreateBranch(e.Bob, id, "ABC-1-trips-"+string(rune('a'+i))).Status
			}, createBranch},
		} {
			t.Run(tt.name, func(t *testing.T) {
				// The first request warms what is kept (the integrations)
				// and records the API token's use.
				if s := tt.do(0); s/100 != 2 {
					t.Fatalf("first request: %d", s)
				}
				before := db.RoundTrips()
				if s := tt.do(1); s/100 != 2 {
					t.Fatalf("second request: %d", s)
				}
				if got := db.RoundTrips() - before; got != tt.want {
					t.Fatalf("%d round trips, want %d", got, tt.want)
				}
			})
		}
	})
}
