package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// The development panel's workload: every issue view in Jira asks for it.
const (
	panelIntegrations = 50
	panelRecords      = 20 // half branches, half pull requests
	panelClients      = 32
)

// seedPanel gives tenantID panelIntegrations integrations on hostURL (the
// ones in have, plus new ones) and panelRecords records on ABC-1 spread
// over them, and returns the integrations' ids.
func seedPanel(b *testing.B, db *store.DB, sealer relay.Sealer, tenantID, hostURL string, have ...string) []string {
	b.Helper()
	ctx := context.Background()
	ids := append([]string(nil), have...)
	for len(ids) < panelIntegrations {
		in := relay.Integration{ID: relay.NewID(), TenantID: tenantID, Kind: relay.Kind("github-enterprise"),
			Name: fmt.Sprintf("GHE %d", len(ids)), BaseURL: hostURL, Enabled: true,
			Account: relay.Account{Login: apptest.BotLogin}}
		sealed, err := relay.SealCredential(sealer, relay.TokenCredential(apptest.BotToken), relay.IntegrationSecretOwner(tenantID, in.ID))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateIntegration(ctx, in, sealed, relay.AuditEvent{ID: relay.NewID(), TenantID: tenantID,
			Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	for i := 0; i < panelRecords; i++ {
		in := ids[i%len(ids)]
		ev := relay.AuditEvent{ID: relay.NewID(), TenantID: tenantID, IssueKey: "ABC-1", IntegrationID: in, Outcome: relay.OutcomeSuccess}
		by := relay.ActedAs{Via: relay.ViaIntegration, Login: apptest.BotLogin}
		var err error
		if i%2 == 0 {
			ev.Action = relay.ActionBranchCreate
			name := fmt.Sprintf("ABC-1-panel-%d", i)
			err = db.RecordBranch(ctx, relay.BranchRecord{ID: relay.NewID(), TenantID: tenantID, IssueKey: "ABC-1",
				IntegrationID: in, RepositoryID: "1", Repository: apptest.Repo, Name: name,
				URL: hostURL + "/acme/widgets/tree/" + name, ActedAs: by, CreatedBy: "bob"}, ev)
		} else {
			ev.Action = relay.ActionPullRequestCreate
			err = db.RecordPullRequest(ctx, relay.PullRequestRecord{ID: relay.NewID(), TenantID: tenantID, IssueKey: "ABC-1",
				IntegrationID: in, RepositoryID: "1", Repository: apptest.Repo, Number: i, Title: "ABC-1 panel",
				URL: fmt.Sprintf("%s/acme/widgets/pull/%d", hostURL, i), Source: fmt.Sprintf("ABC-1-panel-%d", i-1),
				Target: "main", ActedAs: by, CreatedBy: "bob"}, ev)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// panelGet is one panel read as a client would send it.
type panelGet func() (*http.Response, error)

// checkPanel makes sure the panel answers with the whole workload before
// it is measured.
func checkPanel(b *testing.B, get panelGet) {
	b.Helper()
	resp, err := get()
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Integrations []any `json:"integrations"`
		Branches     []any `json:"branches"`
		PullRequests []any `json:"pull_requests"`
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("panel read: %d", resp.StatusCode)
	}
	if err := decodeJSON(resp, &d); err != nil {
		b.Fatal(err)
	}
	if len(d.Integrations) != panelIntegrations || len(d.Branches)+len(d.PullRequests) != panelRecords {
		b.Fatalf("panel shows %d integrations and %d records, want %d and %d",
			len(d.Integrations), len(d.Branches)+len(d.PullRequests), panelIntegrations, panelRecords)
	}
}

// runPanel reads the panel from panelClients concurrent clients and
// reports reads per second, the latency percentiles and the database
// round trips per read.
func runPanel(b *testing.B, db *store.DB, get panelGet) {
	checkPanel(b, get)
	var (
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
		done atomic.Int64
	)
	b.SetParallelism((panelClients + 1) / 2) // × GOMAXPROCS (2 here) goroutines
	b.ReportAllocs()
	trips := db.RoundTrips()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		defer func() {
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			t0 := time.Now()
			resp, err := get()
			if err != nil {
				b.Error(err)
				return
			}
			drain(resp)
			if resp.StatusCode != http.StatusOK {
				b.Errorf("panel read: %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
			done.Add(1)
		}
	})
	b.StopTimer()
	elapsed := time.Since(start)
	b.ReportMetric(float64(done.Load())/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(db.RoundTrips()-trips)/float64(max(done.Load(), 1)), "db-trips/op")
	reportPercentiles(b, lat, "")
}

// BenchmarkPanelRead is GET /api/v1/issues/{key}/development (API token
// authentication, View Development Tools, 50 integrations with the user's
// token status, 20 records) from 32 concurrent clients, of an issue that
// does not change (its records and index are kept in memory and only
// their versions read).
func BenchmarkPanelRead(b *testing.B) { benchmarkPanelRead(b, 0) }

// BenchmarkPanelReadChanged is BenchmarkPanelRead with nothing kept in
// memory: every read reads the records and the index, as the first read
// of an issue after a change does.
func BenchmarkPanelReadChanged(b *testing.B) { benchmarkPanelRead(b, -1) }

func benchmarkPanelRead(b *testing.B, cacheBytes int) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		db.SetPanelCacheBytes(cacheBytes)
		e := apptest.New(b, db, apptest.Options{InProcess: true})
		first := e.Integration(false, nil)
		if r := e.SaveToken(e.Bob, first, apptest.BobToken); r.Status != http.StatusOK {
			b.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		seedPanel(b, db, e.Keys, relay.LocalTenant, e.HostURL, first)
		e.Client.Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * panelClients
		runPanel(b, db, func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", e.URL+"/api/v1/issues/ABC-1/development", nil)
			req.Header.Set("Authorization", "Bearer "+e.Bob)
			return e.Client.Do(req)
		})
	})
}

// BenchmarkForgePanelRead is the Forge remote's panel call (invocation
// token verified against the cached JWKS, the installation, the user's
// Jira permissions as cached by gitrelay, the same panel as
// BenchmarkPanelRead) from 32 concurrent clients.
func BenchmarkForgePanelRead(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		const (
			cloud   = "33333333-cccc-4ccc-8ccc-000000000003"
			install = "ari:cloud:ecosystem::installation/cccccccc-0000-4000-8000-000000000003"
		)
		fake := jiratest.New(b)
		fake.AddSite(cloud, "https://bench.atlassian.net")
		userTok := fake.AddUser(cloud, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
		sim := hostsim.New()
		b.Cleanup(sim.Close)
		hs := httptest.NewServer(sim.Handler())
		b.Cleanup(hs.Close)
		keys, err := vault.NewStaticKeys(vault.NewKey())
		if err != nil {
			b.Fatal(err)
		}
		a := app.New(app.Config{DB: db, Sealer: keys, PublicURL: "https://gitrelay.example.com",
			EgressAllow: host.MustAllowlist(hosttest.LoopbackAllowed),
			Jira: app.JiraConfig{AppID: jiratest.AppID, JWKSURL: fake.JWKSURL(), AuthURL: fake.URL, APIURL: fake.URL,
				ClientID: "client", ClientSecret: "secret"}})
		srv := httptest.NewServer(a.Server.Handler())
		b.Cleanup(srv.Close)
		client := srv.Client()
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * panelClients

		// The installation exists before its users call (the installed
		// event), as in production.
		seedPanel(b, db, keys, install, hs.URL)
		fit := fake.FIT(jiratest.Claims{InstallationID: install, CloudID: cloud, SiteURL: "https://bench.atlassian.net",
			AccountID: "acc-bob", Lifetime: time.Hour})
		sys := fake.SystemToken(cloud)
		runPanel(b, db, func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", srv.URL+"/forge/issues/ABC-1/development", nil)
			req.Header.Set("Authorization", "Bearer "+fit)
			req.Header.Set("x-forge-oauth-user", userTok)
			req.Header.Set("x-forge-oauth-system", sys)
			return client.Do(req)
		})
	})
}

// BenchmarkCreateBranchTrips counts the database round trips of one
// create-branch request (the same request as BenchmarkCreateBranch).
func BenchmarkCreateBranchTrips(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		e := apptest.New(b, db, apptest.Options{InProcess: true})
		id := e.Integration(true, nil)
		if r := e.SaveToken(e.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
			b.Fatalf("save token: %d %s", r.Status, r.Body)
		}
		trips := db.RoundTrips()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if r := e.CreateBranch(e.Bob, id, fmt.Sprintf("ABC-1-trips-%d", i)); r.Status != http.StatusCreated {
				b.Fatalf("create branch: %d %s", r.Status, r.Body)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(db.RoundTrips()-trips)/float64(b.N), "db-trips/op")
	})
}

func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// drain reads and closes a body so that its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
