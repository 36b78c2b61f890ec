package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// TestKilledDuringAHostWrite kills `gitrelay serve` (SIGKILL) while the
// host is creating a branch for it, and finds the attempt in the audit
// trail after a restart: pending, then completed by reconciliation, with
// the branch listed on the issue again.
func TestKilledDuringAHostWrite(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			k := killDuringAHostWrite(t, dialect)

			// A long host timeout: the restarted server leaves the write
			// pending (it might still be under way elsewhere) until
			// reconciliation is asked for below.
			p := serve(t, k.env, "--host-timeout", "10m")
			status, body, _ := p.do("GET", "/api/v1/audit?outcome=pending", k.admin, nil)
			rows := list(t, status, body)
			if len(rows) != 1 || rows[0]["user"] != "bob" || rows[0]["action"] != "branch.create" ||
				rows[0]["ref"] != "ABC-7-interrupted" || rows[0]["repository"] != "acme/api" || rows[0]["issue_key"] != "ABC-7" ||
				rows[0]["via"] != "integration" || rows[0]["login"] != "bot" || rows[0]["integration_id"] != k.integrationID {
				t.Fatalf("pending audit rows after the restart = %v", rows)
			}
			pendingID := rows[0]["id"]

			out := mustGitrelay(t, k.env, "audit", "reconcile", "--older-than", "0s")
			if !strings.Contains(out, "1 succeeded, 0 failed, 0 unknown") {
				t.Fatalf("audit reconcile: %s", out)
			}
			status, body, _ = p.do("GET", "/api/v1/audit?action=branch.create", k.admin, nil)
			rows = list(t, status, body)
			if len(rows) != 1 || rows[0]["id"] != pendingID || rows[0]["outcome"] != "success" {
				t.Fatalf("audit after reconciliation = %v, want the same row completed as success", rows)
			}
			status, body, _ = p.do("GET", "/api/v1/issues/ABC-7/development", k.bob, nil)
			if bs, _ := body["branches"].([]any); status != 200 || len(bs) != 1 || bs[0].(map[string]any)["name"] != "ABC-7-interrupted" {
				t.Fatalf("the issue's branches = %d %v", status, body)
			}
		})
	}
}

// A restarted serve completes the write a killed one left pending by
// itself: reconciliation is a background job run at start-up (and every
// minute), on SQLite and on PostgreSQL.
func TestServeReconcilesWritesLeftPendingInTheBackground(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			k := killDuringAHostWrite(t, dialect)
			// Reconciliation leaves writes younger than the host timeout
			// alone (they may still be under way): let the pending row
			// grow older than the restarted server's.
			const hostTimeout = time.Second
			time.Sleep(time.Until(k.killedAt.Add(hostTimeout)))
			p := serve(t, k.env, "--host-timeout", hostTimeout.String())
			deadline := time.Now().Add(30 * time.Second)
			for {
				status, body, _ := p.do("GET", "/api/v1/audit?action=branch.create", k.admin, nil)
				rows := list(t, status, body)
				if len(rows) == 1 && rows[0]["outcome"] == "success" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("30s after the restart the audit is %v, want the write completed as success", rows)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// killedWrite is a server killed (SIGKILL) while the host was creating
// branch ABC-7-interrupted for bob, through integrationID.
type killedWrite struct {
	env                       []string
	admin, bob, integrationID string
	killedAt                  time.Time
}

func killDuringAHostWrite(t *testing.T, dialect string) killedWrite {
	t.Helper()
	env := baseEnv("GITRELAY_DATA="+t.TempDir(),
		// The simulator listens on loopback, which outbound
		// requests reach only when the operator allows it.
		"GITRELAY_EGRESS_ALLOW=127.0.0.0/8")
	if dialect == "postgres" {
		env = append(env, "GITRELAY_DATABASE_URL="+storetest.EmptyPostgresURL(t),
			"GITRELAY_SECRET_KEY=bXlzZWNyZXRrZXlteXNlY3JldGtleW15c2VjcmV0a2U=")
	}
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	sim.AddToken(hostsim.Token{Value: botPAT, Login: "bot", Scopes: []string{"repo"}})
	repo := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "api", Private: true, Writers: []string{"bot"}})

	// The host creates the branch, tells the test, and never
	// answers: the server dies waiting.
	arrived := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	inner := sim.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git/refs") {
			inner.ServeHTTP(httptest.NewRecorder(), r)
			once.Do(func() { close(arrived) })
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) })

	p := serve(t, env)
	mustGitrelay(t, env, "projects", "add", "ABC", "--name", "Alpha")
	mustGitrelay(t, env, "users", "add", "bob", "--name", "Bob")
	mustGitrelay(t, env, "projects", "grant", "ABC", "bob")
	admin := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "admin"))
	bob := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "bob"))
	status, body, _ := p.do("POST", "/api/v1/integrations", admin, map[string]any{
		"kind": "github-enterprise", "name": "GHE", "base_url": hs.URL,
		"credential": map[string]string{"token": botPAT}, "projects": nil})
	if status != 201 {
		t.Fatalf("create integration: %d %v", status, body)
	}
	id := body["id"].(string)

	answered := make(chan string, 1)
	go func() {
		// The answer never comes: the process is killed.
		req, _ := http.NewRequest("POST", p.url+"/api/v1/issues/ABC-7/branches", strings.NewReader(
			fmt.Sprintf(`{"integration_id":%q,"repository_id":"%d","name":"ABC-7-interrupted"}`, id, repo.ID)))
		req.Header.Set("Authorization", "Bearer "+bob)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			answered <- resp.Status
		}
	}()
	select {
	case <-arrived:
	case status := <-answered:
		t.Fatalf("the server answered %s before the host did", status)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	killedAt := time.Now()
	if _, ok := sim.Branches("acme/api")["ABC-7-interrupted"]; !ok {
		t.Fatal("the host did not create the branch")
	}
	return killedWrite{env: env, admin: admin, bob: bob, integrationID: id, killedAt: killedAt}
}

// list is a JSON array answer (proc.do keeps it raw).
func list(t *testing.T, status int, body map[string]any) []map[string]any {
	t.Helper()
	raw, _ := body["_raw"].(string)
	if status != 200 {
		t.Fatalf("status %d: %v", status, body)
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("not a list: %v", body)
	}
	return out
}
