package app_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The requests every user makes all day cost few database round trips:
// on PostgreSQL each is a network round trip, and the panel is read on
// every issue view. (On SQLite a transaction's BEGIN and COMMIT count too,
// while PostgreSQL writes an audit row with its record in one statement.)
// The API token and the grant on the project are checked in the
// database on every request, with its first read.
func TestHotRequestsDatabaseRoundTrips(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		id := e.Integration(true, nil)
		if r := e.SaveToken(e.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			t.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		createBranch := map[string]int64{store.DialectSQLite: 11, store.DialectPostgres: 3}[db.Dialect()]
		for _, tt := range []struct {
			name string
			do   func(i int) int
			want int64
		}{
			// The user's tokens with the API token's check, View
			// Development Tools and the versions of the integrations, the
			// issue's records and the index, all three kept from the first
			// read: one statement.
			{"panel read", func(int) int {
				return e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil).Status
			}, 1},
			// Settings with the integration, the user's token, the API
			// token's check and View Development Tools; the pending audit
			// row; its completion with the branch record and the issue's
			// record version (one statement on PostgreSQL).
			{"create branch", func(i int) int {
				return e.CreateBranch(e.Bob, id, "ABC-1-trips-"+string(rune('a'+i))).Status
			}, createBranch},
		} {
			t.Run(tt.name, func(t *testing.T) {
				// The first request warms what is kept (the integrations),
				// looks the API token up and records its use; the next
				// checks it with its first read.
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

// A Forge panel read (after the first, which records the installation and
// caches the user's Jira permissions) of an unchanged issue is the panel's
// first statement alone: the installation just recorded is trusted for a
// while rather than read on every call.
func TestForgePanelReadDatabaseRoundTrips(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		alice := e.browser()
		created := alice.api("POST", "/api/v1/integrations", alice.csrf(alice.signIn("acc-alice", "/issues/ABC-1")), map[string]any{
			"kind": "github-enterprise", "name": "Site A GHE", "base_url": e.hostURL,
			"credential": map[string]string{"token": sessBotToken}})
		if created.Status != http.StatusCreated {
			t.Fatalf("adding an integration: got %d %s, want 201", created.Status, created.Body)
		}
		bobForgeToken := e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
		bob := e.browser()
		panel := func() int {
			t.Helper()
			req, err := http.NewRequest("GET", e.url+"/forge/issues/ABC-1/development", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.fake.FIT(jiratest.Claims{InstallationID: sessInstallA, CloudID: sessCloudA,
				SiteURL: sessSiteA, AccountID: "acc-bob"}))
			req.Header.Set("x-forge-oauth-user", bobForgeToken)
			req.Header.Set("x-forge-oauth-system", e.fake.SystemToken(sessCloudA))
			return bob.do(req).Status
		}
		if s := panel(); s != http.StatusOK {
			t.Fatalf("first panel read: %d", s)
		}
		before := db.RoundTrips()
		if s := panel(); s != http.StatusOK {
			t.Fatalf("second panel read: %d", s)
		}
		if got := db.RoundTrips() - before; got != 1 {
			t.Fatalf("%d round trips, want 1", got)
		}
	})
}
