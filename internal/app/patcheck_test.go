package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// identityRequests counts the requests for the host's "who am I"
// (GET .../user), which is what a token check asks.
func identityRequests(e *apptest.Env) int {
	return e.HostRequests("GET /api/v3/user") - e.HostRequests("GET /api/v3/user/")
}

// bobsToken is what User settings shows of bob's token.
func bobsToken(t *testing.T, e *apptest.Env) map[string]any {
	t.Helper()
	tokens := e.Do("GET", "/api/v1/me/tokens", e.Bob, nil).List()
	if len(tokens) != 1 {
		t.Fatalf("bob's tokens: got %v, want one", tokens)
	}
	return tokens[0]
}

// bobsTokenStatus is the status User settings shows for bob's token.
func bobsTokenStatus(t *testing.T, e *apptest.Env) string {
	t.Helper()
	s, _ := bobsToken(t, e)["status"].(string)
	return s
}

// withSavedToken is an environment with an integration requiring users'
// tokens and bob's token saved for it.
func withSavedToken(t *testing.T, db *store.DB) (*apptest.Env, string) {
	t.Helper()
	e := apptest.New(t, db, apptest.Options{InProcess: true})
	id := e.Integration(true, nil)
	wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
	return e, id
}

// startHostJobs runs the token checks and repository refreshes on River,
// on e's database, with e's services and clock.
func startHostJobs(t *testing.T, e *apptest.Env) *jobs.Runner {
	t.Helper()
	ctx := context.Background()
	if _, err := jobs.Migrate(ctx, e.DB, nil); err != nil {
		t.Fatal(err)
	}
	r, err := jobs.New(jobs.Config{DB: e.DB, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	app.RegisterHostJobs(r, e.App.Actions, e.DB, e.Now, nil)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

// eventually polls cond until it holds, failing after a bound far above
// what the work needs (not a speed requirement).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A token revoked at the host is shown revoked once the periodic check
// has run, before bob tries an action: the check is audited naming bob,
// and the action is then refused without asking the host.
func TestATokenRevokedAtTheHostIsShownRevokedAfterTheCheckJobRuns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, id := withSavedToken(t, db)
		e.Sim.RevokeToken(apptest.BobToken)
		e.Advance(action.TokenCheckInterval + time.Minute)
		startHostJobs(t, e)
		eventually(t, "bob's token shown revoked", func() bool { return bobsTokenStatus(t, e) == string(relay.TokenRevoked) })

		rows := auditRows(t, e, "action="+relay.ActionTokenChecked)
		if len(rows) != 1 || rows[0]["user"] != "bob" || rows[0]["integration_id"] != id {
			t.Fatalf("token.checked audit rows: got %v, want one naming bob and the integration", rows)
		}
		before := len(e.Writes())
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-after-check"), http.StatusPreconditionRequired, "user_token_revoked")
		if len(e.Writes()) != before {
			t.Fatal("an action with the token the check found revoked reached the host")
		}
	})
}

// A token the host still accepts stays valid, is asked about once per
// interval, and no sooner: a second run right after the first, or within
// the interval, asks the host nothing.
func TestAHealthyTokenStaysValidAndIsNotCheckedTwiceWithinTheInterval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _ := withSavedToken(t, db)
		ctx := context.Background()
		check := func() action.TokenChecks {
			t.Helper()
			r, err := e.App.Actions.CheckUserTokens(ctx, app.TokenCheckBatch, action.TokenCheckInterval)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		asked := identityRequests(e)
		if r := check(); r != (action.TokenChecks{}) {
			t.Fatalf("a check right after the save: got %+v, want nothing checked (the save validated it)", r)
		}
		e.Advance(action.TokenCheckInterval + time.Minute)
		if r, want := check(), (action.TokenChecks{Checked: 1}); r != want {
			t.Fatalf("a check a day after the save: got %+v, want %+v", r, want)
		}
		if got := identityRequests(e) - asked; got != 1 {
			t.Fatalf("identity requests during the check: got %d, want 1", got)
		}
		if s := bobsTokenStatus(t, e); s != string(relay.TokenValid) {
			t.Fatalf("status after the check: got %q, want valid", s)
		}
		asked = identityRequests(e)
		if r := check(); r != (action.TokenChecks{}) {
			t.Fatalf("a second run at once: got %+v, want nothing checked", r)
		}
		e.Advance(action.TokenCheckInterval - time.Hour)
		if r := check(); r != (action.TokenChecks{}) {
			t.Fatalf("a run within the interval: got %+v, want nothing checked", r)
		}
		if got := identityRequests(e) - asked; got != 0 {
			t.Fatalf("identity requests within the interval: got %d, want 0", got)
		}
		e.Advance(2 * time.Hour)
		if r, want := check(), (action.TokenChecks{Checked: 1}); r != want {
			t.Fatalf("a run after the interval: got %+v, want %+v", r, want)
		}
		if rows := auditRows(t, e, "action="+relay.ActionTokenChecked); len(rows) != 0 {
			t.Fatalf("token.checked audit rows for a healthy token: got %v, want none", rows)
		}
	})
}

// A host that fails (5xx, a dropped connection) or limits the rate
// changes nothing about the token: it stays valid and nothing is audited.
// After a rate limit the token is still due, and the next run checks it.
func TestAHostFaultDuringTheTokenCheckChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     hostsim.Fault
		stillDue  bool
		wantFault action.TokenChecks
	}{
		{"server error", hostsim.Fault{Op: hostsim.OpIdentity, Status: http.StatusBadGateway}, false, action.TokenChecks{Faults: 1}},
		{"dropped connection", hostsim.Fault{Op: hostsim.OpIdentity, Drop: true}, false, action.TokenChecks{Faults: 1}},
		{"rate limited", hostsim.Fault{Op: hostsim.OpIdentity, RetryAfter: time.Minute, Status: http.StatusTooManyRequests}, true, action.TokenChecks{Faults: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e, _ := withSavedToken(t, db)
				ctx := context.Background()
				shown := bobsToken(t, e)
				e.Advance(action.TokenCheckInterval + time.Minute)
				e.Sim.Inject(tc.fault)
				r, err := e.App.Actions.CheckUserTokens(ctx, app.TokenCheckBatch, action.TokenCheckInterval)
				if err != nil {
					t.Fatal(err)
				}
				if r != tc.wantFault {
					t.Fatalf("check: got %+v, want %+v", r, tc.wantFault)
				}
				if got := bobsToken(t, e); got["status"] != string(relay.TokenValid) || got["validated_at"] != shown["validated_at"] {
					t.Fatalf("token after a host fault: got %v, want it as before: %v", got, shown)
				}
				if rows := auditRows(t, e, "action="+relay.ActionTokenChecked); len(rows) != 0 {
					t.Fatalf("token.checked audit rows after a host fault: got %v, want none", rows)
				}
				e.Sim.ClearFaults()
				r, err = e.App.Actions.CheckUserTokens(ctx, app.TokenCheckBatch, action.TokenCheckInterval)
				if err != nil {
					t.Fatal(err)
				}
				if got := r.Checked == 1; got != tc.stillDue {
					t.Fatalf("the next run checked it: %v, want %v (%+v)", got, tc.stillDue, r)
				}
			})
		})
	}
}

// A cached repository list about to go stale is read again in the
// background, so that the picker answers with what the host has now
// without a user waiting for the host; a list read moments ago is left
// alone, and so is a disabled integration's.
func TestRepositoryListsAreRefreshedInTheBackgroundBeforeTheyGoStale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		ctx := context.Background()
		id := e.Integration(false, nil) // the first read of the list
		base := "/api/v1/integrations/" + id + "/repositories"
		lists := func() int { return e.HostRequests("/user/repos") }

		read := lists()
		if did, err := e.App.Actions.RefreshRepositories(ctx, relay.LocalTenant, id); err != nil || did {
			t.Fatalf("refresh of a list read moments ago: read %v, err %v; want no read", did, err)
		}
		if lists() != read {
			t.Fatal("a fresh list was read from the host again")
		}

		e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "sprockets", Writers: []string{apptest.BotLogin}})
		e.Advance(action.RepositoryCacheTTL - action.RepositoryRefreshAhead + time.Second)
		startHostJobs(t, e)
		eventually(t, "the list refreshed in the background", func() bool {
			at, err := db.RepositoriesSyncedAt(ctx, relay.LocalTenant, id)
			return err == nil && e.Now().Sub(at) < time.Minute
		})
		read = lists()
		e.Advance(action.RepositoryRefreshAhead) // past the list's first age of staleness
		want := []string{"acme/sprockets", "acme/widgets"}
		if got := repoNames(t, e.Do("GET", base, e.Bob, nil)); !slices.Equal(got, want) {
			t.Fatalf("the picker after the background refresh: got %q, want %q", got, want)
		}
		if lists() != read {
			t.Fatal("the picker read the host itself: the background refresh did not spare the user the wait")
		}
	})
}

// However many sweeps (on any replica) enqueue an integration's refresh
// while one is queued or running, one job is queued.
func TestOneRepositoryRefreshPerIntegrationIsQueued(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		ctx := context.Background()
		id := e.Integration(false, nil)
		if _, err := jobs.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		r, err := jobs.New(jobs.Config{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		app.RegisterHostJobs(r, e.App.Actions, db, e.Now, nil)
		args := app.RepositoryRefreshArgs{TenantID: relay.LocalTenant, IntegrationID: id}
		for range 3 {
			if err := r.Enqueue(ctx, args, app.RepositoryRefreshOpts()); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.WritePool().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'repository_refresh'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("refresh jobs queued for one integration: got %d, want 1", n)
		}
	})
}
