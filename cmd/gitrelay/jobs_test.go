package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

const (
	jobsCloud   = "33333333-cccc-4ccc-8ccc-000000000003"
	jobsInstall = "ari:cloud:ecosystem::installation/cccccccc-0000-4000-8000-000000000003"
	jobsSite    = "https://gamma.atlassian.net"
)

// jiraReplicas is a Jira site (the fake Atlassian), a git host (the
// simulator) and gitrelay replicas in Jira mode on one database.
type jiraReplicas struct {
	t        *testing.T
	fake     *jiratest.Fake
	env      []string
	dbURL    string
	dataDir  string
	hostURL  string
	sys      string
	aliceTok string
	bobTok   string
}

// newJiraReplicas serves from databaseURL, or from SQLite when it is empty.
func newJiraReplicas(t *testing.T, databaseURL string) *jiraReplicas {
	fake := jiratest.New(t)
	fake.AddSite(jobsCloud, jobsSite)
	j := &jiraReplicas{t: t, fake: fake, dbURL: databaseURL, dataDir: t.TempDir()}
	j.aliceTok = fake.AddUser(jobsCloud, jiratest.User{AccountID: "acc-alice", DisplayName: "Alice", Admin: true, DevTools: []string{"ABC"}})
	j.bobTok = fake.AddUser(jobsCloud, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob", DevTools: []string{"ABC"}})
	for i := 1; i <= 20; i++ {
		fake.AddIssue(jobsCloud, fmt.Sprintf("ABC-%d", i), jiratest.Issue{Summary: "An issue", Type: "Task"})
	}
	j.sys = fake.SystemToken(jobsCloud)
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	sim.AddToken(hostsim.Token{Value: botPAT, Login: "bot", Scopes: []string{"repo"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"bot"}})
	j.hostURL = hs.URL
	j.env = baseEnv("GITRELAY_DATA="+j.dataDir, "GITRELAY_DATABASE_URL="+databaseURL, replicaKey,
		"GITRELAY_EGRESS_ALLOW=127.0.0.0/8", "GITRELAY_JIRA_APP_ID="+jiratest.AppID,
		"GITRELAY_JIRA_JWKS_URL="+fake.JWKSURL(), "GITRELAY_JIRA_AUTH_URL="+fake.URL, "GITRELAY_JIRA_API_URL="+fake.URL)
	return j
}

// replicas starts n replicas at once.
func (j *jiraReplicas) replicas(n int) []*proc {
	starting := make([]*startingProc, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			starting[i] = startServe(j.t, j.env, "--public-url", "https://gitrelay.example.com")
		}()
	}
	wg.Wait()
	out := make([]*proc, n)
	for i, s := range starting {
		out[i] = s.wait()
	}
	return out
}

// forge calls the remote on p as Forge would: as a user (account) or, with
// no account, as a backend trigger.
func (j *jiraReplicas) forge(p *proc, method, path, account, userToken string, body any) (int, []byte) {
	j.t.Helper()
	c := jiratest.Claims{InstallationID: jobsInstall, CloudID: jobsCloud, SiteURL: jobsSite, AccountID: account}
	if account == "" {
		c = jiratest.Claims{InstallationID: jobsInstall, CloudID: jobsCloud, NoContext: true}
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, p.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+j.fake.FIT(c))
	req.Header.Set("x-forge-oauth-system", j.sys)
	if userToken != "" {
		req.Header.Set("x-forge-oauth-user", userToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		j.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// setUp installs the app and creates an integration through p, and
// returns the integration's and the repository's ids.
func (j *jiraReplicas) setUp(p *proc) (integrationID, repoID string) {
	j.t.Helper()
	if status, body := j.forge(p, "POST", "/forge/lifecycle", "", "", map[string]any{"eventType": jira.EventInstalled, "id": jobsInstall}); status != http.StatusNoContent {
		j.t.Fatalf("installed event: %d %s", status, body)
	}
	status, body := j.forge(p, "POST", "/forge/integrations", "acc-alice", j.aliceTok, map[string]any{
		"kind": "github-enterprise", "base_url": j.hostURL, "name": "GHE",
		"credential": map[string]string{"token": botPAT}, "require_user_pat": false})
	if status != http.StatusCreated {
		j.t.Fatalf("creating the integration: %d %s", status, body)
	}
	var in struct{ ID string }
	_ = json.Unmarshal(body, &in)
	status, body = j.forge(p, "GET", "/forge/integrations/"+in.ID+"/repositories?q=widgets", "acc-bob", j.bobTok, nil)
	var repos []struct{ ID string }
	if err := json.Unmarshal(body, &repos); status != http.StatusOK || err != nil || len(repos) != 1 {
		j.t.Fatalf("repositories: %d %s", status, body)
	}
	return in.ID, repos[0].ID
}

// createBranch creates a branch for issue through p, as bob.
func (j *jiraReplicas) createBranch(p *proc, integrationID, repoID, issue string) string {
	j.t.Helper()
	status, body := j.forge(p, "POST", "/forge/issues/"+issue+"/branches", "acc-bob", j.bobTok,
		map[string]any{"integration_id": integrationID, "repository_id": repoID, "name": issue + "-work"})
	if status != http.StatusCreated {
		j.t.Fatalf("creating a branch for %s: %d %s", issue, status, body)
	}
	var b struct{ Name string }
	_ = json.Unmarshal(body, &b)
	return b.Name
}

// accepted counts, per branch entity id, how often Jira accepted it.
func (j *jiraReplicas) accepted() map[string]int {
	out := map[string]int{}
	for _, p := range j.fake.Pushes() {
		if p.Status != http.StatusAccepted {
			continue
		}
		var body struct {
			Repositories []struct {
				Branches []struct{ ID string } `json:"branches"`
			} `json:"repositories"`
		}
		_ = json.Unmarshal(p.Body, &body)
		for _, r := range body.Repositories {
			for _, b := range r.Branches {
				out[b.ID]++
			}
		}
	}
	return out
}

// drained waits until the tenant's queue is empty and Jira accepted want
// entities; the bound is generous, not a speed requirement.
func (j *jiraReplicas) drained(want int) map[string]int {
	j.t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{DatabaseURL: j.dbURL, DataDir: j.dataDir})
	if err != nil {
		j.t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(90 * time.Second)
	for {
		q, err := db.QueuedDevinfo(ctx, jobsInstall, 1000)
		if err != nil {
			j.t.Fatal(err)
		}
		got := j.accepted()
		if len(q) == 0 && len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("after 90s: %d ops still queued, %d of %d entities accepted by Jira", len(q), len(got), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkOnce(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Jira accepted %d distinct branches, want %d: %v", len(got), len(want), got)
	}
	for _, name := range want {
		if n := got[jira.EntityID(name)]; n != 1 {
			t.Errorf("branch %s was pushed %d times, want exactly once", name, n)
		}
	}
}

// Three replicas on one PostgreSQL database push each change to Jira
// exactly once: the changes are made through every replica, each
// replica's jobs take the pushes, and no branch is pushed twice or never.
func TestDevinfoIsPushedExactlyOncePerChangeAcrossReplicas(t *testing.T) {
	j := newJiraReplicas(t, storetest.EmptyPostgresURL(t))
	ps := j.replicas(3)
	integrationID, repoID := j.setUp(ps[0])
	var names []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Changes arrive on every replica at once.
	for i := 1; i <= 15; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := j.createBranch(ps[i%len(ps)], integrationID, repoID, fmt.Sprintf("ABC-%d", i))
			mu.Lock()
			names = append(names, name)
			mu.Unlock()
		}()
	}
	wg.Wait()
	checkOnce(t, j.drained(len(names)), names)

	// Every replica reports the whole queue on /metrics.
	resp, err := http.Get(ps[2].url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`gitrelay_jobs_queue_depth{kind="devinfo_push",state=`, `gitrelay_jobs_failures_total{kind="devinfo_push"} 0`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, raw)
		}
	}
}

// Changes Jira could not take yet are pushed after every replica
// restarted: the queue and its jobs are in the database. SQLite, served by
// one process, runs the same jobs.
func TestDevinfoSurvivesARestartOfEveryReplica(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			url, n := "", 1
			if dialect == "postgres" {
				url, n = storetest.EmptyPostgresURL(t), 2
			}
			j := newJiraReplicas(t, url)
			ps := j.replicas(n)
			integrationID, repoID := j.setUp(ps[0])
			// Jira is busy at the first push and says when to come back.
			j.fake.Script(jiratest.Answer{Status: http.StatusTooManyRequests, RetryAfter: "3"})
			names := []string{
				j.createBranch(ps[0], integrationID, repoID, "ABC-1"),
				j.createBranch(ps[len(ps)-1], integrationID, repoID, "ABC-2"),
			}
			deadline := time.Now().Add(60 * time.Second)
			for len(j.fake.Pushes()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no push tried within 60s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, p := range ps {
				p.stop()
			}
			// A new process on the same database takes the queue over.
			j.replicas(1)
			checkOnce(t, j.drained(len(names)), names)
		})
	}
}
