package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// An issue is no vehicle for deleting another issue's branch: MO-1 is not
// in DEMO-1-victim, and only branches recorded for the issue go.
func TestDeletingFromAnIssueNeedsTheIssuesOwnBranch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		ctx := context.Background()
		dir := e.App.Directory
		for _, p := range []string{"MO", "DEMO"} {
			if _, err := dir.AddProject(ctx, relay.LocalTenant, p, p); err != nil {
				t.Fatal(err)
			}
		}
		// carol sees MO (and XYZ), not DEMO.
		for project, user := range map[string]string{"DEMO": "admin", "MO": "carol"} {
			if _, err := dir.Grant(ctx, relay.LocalTenant, project, user); err != nil {
				t.Fatal(err)
			}
		}
		id := e.Integration(false, nil)

		victim := e.Do("POST", "/api/v1/issues/DEMO-1/branches", e.Admin, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "name": "DEMO-1-victim"})
		wantStatus(t, victim, http.StatusCreated, "")
		mine := e.Do("POST", "/api/v1/issues/MO-1/branches", e.Carol, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "name": "MO-1-mine"})
		wantStatus(t, mine, http.StatusCreated, "")
		e.Sim.AddBranch(apptest.Repo, "MO-1-made-elsewhere", e.Sim.Branches(apptest.Repo)["main"])

		del := func(issue, name string) apptest.Response {
			return e.Do("DELETE", "/api/v1/issues/"+issue+"/branches?integration_id="+id+"&repository_id="+e.RepoID+"&name="+name, e.Carol, nil)
		}
		tests := []struct {
			name, issue, branch string
			status              int
			code, message       string
		}{
			{"another project's branch whose name contains the key's letters", "MO-1", "DEMO-1-victim",
				http.StatusForbidden, relay.EForbidden, "names containing the issue key MO-1"},
			{"a branch named after the issue but not created for it through gitrelay", "MO-1", "MO-1-made-elsewhere",
				http.StatusForbidden, relay.EForbidden, "is not listed on issue MO-1"},
			{"the issue's own branch through another issue", "MO-2", "MO-1-mine",
				http.StatusForbidden, relay.EForbidden, "names containing the issue key MO-2"},
			{"the issue's own branch", "MO-1", "MO-1-mine", http.StatusNoContent, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := del(tt.issue, tt.branch)
				wantStatus(t, r, tt.status, tt.code)
				if !strings.Contains(r.ErrorField("message"), tt.message) {
					t.Errorf("message = %q, want it to contain %q", r.ErrorField("message"), tt.message)
				}
			})
		}
		branches := e.Sim.Branches(apptest.Repo)
		for _, kept := range []string{"DEMO-1-victim", "MO-1-made-elsewhere"} {
			if _, ok := branches[kept]; !ok {
				t.Errorf("the host lost %s", kept)
			}
		}
		if _, ok := branches["MO-1-mine"]; ok {
			t.Error("the issue's own branch was not deleted")
		}
		if rows := auditRows(t, e, "action=branch.delete&outcome=refused&user=carol"); len(rows) != 3 {
			t.Errorf("refused deletions audited = %d, want 3", len(rows))
		}
	})
}

// Create branch checks its required fields before opening a credential or
// calling the host, like the other actions.
func TestCreateBranchWithoutRepositoryIsInvalidBeforeTheHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		// Any host call would now fail with a host error, not invalid_request.
		e.Sim.Inject(hostsim.Fault{Status: http.StatusInternalServerError})
		r := e.Do("POST", "/api/v1/issues/ABC-1/branches", e.Bob, map[string]any{"integration_id": id, "name": "ABC-1-x"})
		wantStatus(t, r, http.StatusUnprocessableEntity, relay.EInvalid)
		if f, _ := r.JSON()["error"].(map[string]any)["fields"].(map[string]any); f["repository_id"] != "required" {
			t.Errorf("fields = %v, want repository_id required", f)
		}
	})
}

// Every host write is preceded by a durable pending audit row naming the
// requester and the acting identity, completed after the call.
func TestHostWritesArePendingWhileTheHostWorks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var (
			mu   sync.Mutex
			seen = map[string][]relay.HostWrite{} // by host operation
		)
		f := apptest.GitHubEnterprise()
		f.Serve = func(sim *hostsim.Sim) http.Handler {
			inner := sim.Handler()
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				op := ""
				switch {
				case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/git/refs"):
					op = "create branch"
				case r.Method == "DELETE" && strings.Contains(r.URL.Path, "/git/refs/"):
					op = "delete branch"
				case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/pulls"):
					op = "create pull request"
				}
				if op != "" {
					ws, err := db.PendingHostWrites(r.Context(), time.Now().Add(time.Hour), 0)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					seen[op] = ws
					mu.Unlock()
				}
				inner.ServeHTTP(w, r)
			})
		}
		e := apptest.New(t, db, apptest.Options{Fixture: &f})
		id := e.Integration(false, nil)
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-fix"), http.StatusCreated, "")
		e.Push("ABC-1-fix")
		wantStatus(t, e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-fix"}), http.StatusCreated, "")
		wantStatus(t, e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+id+"&repository_id="+e.RepoID+"&name=ABC-1-fix", e.Bob, nil),
			http.StatusNoContent, "")

		for op, action := range map[string]string{"create branch": relay.ActionBranchCreate,
			"create pull request": relay.ActionPullRequestCreate, "delete branch": relay.ActionBranchDelete} {
			ws := seen[op]
			if len(ws) != 1 {
				t.Fatalf("%s: pending writes while the host worked = %+v, want 1", op, ws)
			}
			ev := ws[0].Event
			if ev.Action != action || ev.Outcome != relay.OutcomePending || ev.Username != "bob" ||
				ev.Via != relay.ViaIntegration || ev.Login != apptest.BotLogin || ev.IntegrationID != id ||
				ev.Repository != apptest.Repo || ev.Ref != "ABC-1-fix" || ev.IssueKey != "ABC-1" || ws[0].RepositoryID != e.RepoID {
				t.Errorf("%s: pending row = %+v", op, ws[0])
			}
			rows := auditRows(t, e, "action="+action)
			if len(rows) != 1 || rows[0]["id"] != ev.ID || rows[0]["outcome"] != relay.OutcomeSuccess {
				t.Errorf("%s: audit = %v, want the pending row completed as success", op, rows)
			}
		}
		if ws, _ := db.PendingHostWrites(context.Background(), time.Now().Add(time.Hour), 0); len(ws) != 0 {
			t.Fatalf("writes left pending: %+v", ws)
		}
		// A write the host refuses completes its row as failed.
		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: http.StatusInternalServerError, Times: 1})
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-broken"), http.StatusBadGateway, relay.EHostError)
		if rows := auditRows(t, e, "action=branch.create&outcome=failed"); len(rows) != 1 || rows[0]["ref"] != "ABC-1-broken" {
			t.Errorf("failed write audit = %v", rows)
		}
		if rows := auditRows(t, e, "outcome=pending"); len(rows) != 0 {
			t.Errorf("pending rows = %v", rows)
		}
	})
}

// ReconcilePending completes writes a dead process left pending by asking
// the host, and lists what exists on the issue again.
func TestReconcilingPendingHostWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		ctx := context.Background()
		id := e.Integration(false, nil)
		gone := e.Integration(false, nil)
		main := e.Sim.Branches(apptest.Repo)["main"]
		e.Sim.AddBranch(apptest.Repo, "ABC-1-made", main)
		e.Sim.AddBranch(apptest.Repo, "ABC-1-kept", main)
		e.Sim.AddBranch(apptest.Repo, "ABC-1-src", "") // with a commit of its own to propose
		openPullRequest(t, e, "ABC-1-src", "main")

		long := time.Now().Add(-time.Hour)
		begin := func(action, integration, ref, target string, at time.Time) string {
			w := relay.HostWrite{Event: relay.AuditEvent{ID: relay.NewID(), TenantID: relay.LocalTenant, At: at,
				UserID: "u-bob", Username: "bob", Action: action, IntegrationID: integration, Repository: apptest.Repo,
				Ref: ref, IssueKey: "ABC-1", Via: relay.ViaIntegration, Login: apptest.BotLogin}, RepositoryID: e.RepoID, Target: target}
			must(t, db.BeginHostWrite(ctx, w))
			return w.Event.ID
		}
		created := begin(relay.ActionBranchCreate, id, "ABC-1-made", "", long)
		neverMade := begin(relay.ActionBranchCreate, id, "ABC-1-never", "", long)
		kept := begin(relay.ActionBranchDelete, id, "ABC-1-kept", "", long)
		pr := begin(relay.ActionPullRequestCreate, id, "ABC-1-src", "main", long)
		deleted := begin(relay.ActionBranchCreate, gone, "ABC-1-made", "", long)
		young := begin(relay.ActionBranchCreate, id, "ABC-1-young", "", time.Now())
		wantStatus(t, e.Do("DELETE", "/api/v1/integrations/"+gone, e.Admin, nil), http.StatusNoContent, "")

		got, err := e.App.Actions.ReconcilePending(ctx, time.Minute)
		must(t, err)
		if want := (action.Reconciled{Succeeded: 2, Failed: 2, Unknown: 1}); got != want {
			t.Fatalf("reconciled %+v, want %+v", got, want)
		}
		outcomes := map[string]string{}
		details := map[string]string{}
		for _, r := range auditRows(t, e, "limit=100") {
			outcomes[r["id"].(string)], details[r["id"].(string)] = r["outcome"].(string), r["detail"].(string)
		}
		for _, tt := range []struct {
			name, id, outcome, detail string
		}{
			{"a branch the host has was created", created, relay.OutcomeSuccess, "the branch exists on the host"},
			{"a branch the host lacks was not created", neverMade, relay.OutcomeFailed, "the branch does not exist on the host"},
			{"a branch the host still has was not deleted", kept, relay.OutcomeFailed, "the branch still exists"},
			{"an open pull request was created", pr, relay.OutcomeSuccess, "the pull request is open on the host"},
			{"the integration is gone", deleted, relay.OutcomeUnknown, "integration was deleted"},
			{"a write younger than the host timeout may still be under way", young, relay.OutcomePending, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if outcomes[tt.id] != tt.outcome || !strings.Contains(details[tt.id], tt.detail) {
					t.Errorf("outcome %q (%q), want %q (%q)", outcomes[tt.id], details[tt.id], tt.outcome, tt.detail)
				}
			})
		}
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil).JSON()
		if bs := dev["branches"].([]any); len(bs) != 1 || bs[0].(map[string]any)["name"] != "ABC-1-made" {
			t.Errorf("branches on the issue = %v, want the reconciled one", bs)
		}
		if prs := dev["pull_requests"].([]any); len(prs) != 1 || prs[0].(map[string]any)["source"] != "ABC-1-src" {
			t.Errorf("pull requests on the issue = %v, want the reconciled one", prs)
		}
		if ws := e.Writes(); len(ws) != 1 {
			t.Errorf("reconciliation wrote to the host: %+v", ws[1:])
		}

		t.Run("a host that cannot tell is asked a bounded number of times, then the write is unknown", func(t *testing.T) {
			e.Sim.Inject(hostsim.Fault{Op: hostsim.OpGetRepo, Status: http.StatusServiceUnavailable})
			defer e.Sim.ClearFaults()
			unreachable := begin(relay.ActionBranchCreate, id, "ABC-1-later", "", long)
			for i := 1; i < action.MaxReconcileAttempts; i++ {
				got, err := e.App.Actions.ReconcilePending(ctx, 30*time.Minute)
				must(t, err)
				if got != (action.Reconciled{Deferred: 1}) {
					t.Fatalf("attempt %d: %+v, want the write deferred", i, got)
				}
			}
			got, err := e.App.Actions.ReconcilePending(ctx, 30*time.Minute)
			must(t, err)
			if got != (action.Reconciled{Unknown: 1}) {
				t.Fatalf("last attempt: %+v, want unknown", got)
			}
			rows := auditRows(t, e, "outcome=unknown&limit=100")
			found := false
			for _, r := range rows {
				if r["id"] == unreachable {
					found = strings.Contains(r["detail"].(string), "asked 5 times")
				}
			}
			if !found {
				t.Errorf("unknown rows = %v, want %s with the reason and the attempts", rows, unreachable)
			}
		})
	})
}

// openPullRequest opens a pull request on the simulator directly, as
// something outside gitrelay would.
func openPullRequest(t *testing.T, e *apptest.Env, source, target string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"title": "outside", "head": source, "base": target})
	req, _ := http.NewRequest("POST", e.HostURL+"/api/v3/repos/"+apptest.Repo+"/pulls", bytes.NewReader(body))
	req.Header.Set("Authorization", "token "+apptest.BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("opening a pull request on the host: %d", resp.StatusCode)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A write whose answer is cut off after the host acted is the host's
// failure to confirm, not gitrelay's: the person hears 502 host_error
// saying the result will show on the issue, the row stays pending, and
// reconciliation completes it from what the host holds.
func TestAWriteWhoseAnswerIsLostIsSettledByReconciliation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		ctx := context.Background()
		id := e.Integration(false, nil)

		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Cut: true, Times: 1})
		r := e.CreateBranch(e.Bob, id, "ABC-1-cut")
		wantStatus(t, r, http.StatusBadGateway, relay.EHostError)
		if msg := r.ErrorField("message"); !strings.Contains(msg, "did not confirm") || !strings.Contains(msg, "the issue shows the result") {
			t.Errorf("message = %q, want it to say the host did not confirm and the issue will show the result", msg)
		}
		if _, made := e.Sim.Branches(apptest.Repo)["ABC-1-cut"]; !made {
			t.Fatal("the host did not create the branch, so the scenario proves nothing")
		}
		rows := auditRows(t, e, "action="+relay.ActionBranchCreate)
		if len(rows) != 1 || rows[0]["outcome"] != relay.OutcomePending {
			t.Fatalf("audit after a lost answer = %v, want one pending row", rows)
		}

		got, err := e.App.Actions.ReconcilePending(ctx, 0)
		must(t, err)
		if want := (action.Reconciled{Succeeded: 1}); got != want {
			t.Fatalf("reconciled %+v, want %+v", got, want)
		}
		rows = auditRows(t, e, "action="+relay.ActionBranchCreate)
		if len(rows) != 1 || rows[0]["outcome"] != relay.OutcomeSuccess {
			t.Errorf("audit after reconciliation = %v, want the row completed as success", rows)
		}
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil).JSON()
		if bs := dev["branches"].([]any); len(bs) != 1 || bs[0].(map[string]any)["name"] != "ABC-1-cut" {
			t.Errorf("branches on the issue = %v, want the reconciled one", bs)
		}
	})
}

// Once a write was sent, the host answered it: a host's refusal that
// reads like a validation error (a branch name in the way of another) is
// audited as failed, never as refused, which says nothing was sent.
func TestAWriteTheHostRefusesIsAuditedAsFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		e.Sim.AddBranch(apptest.Repo, "ABC-1-a/b", "")
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-a"), http.StatusUnprocessableEntity, relay.EInvalidBranchName)
		rows := auditRows(t, e, "action="+relay.ActionBranchCreate)
		if len(rows) != 1 || rows[0]["outcome"] != relay.OutcomeFailed || rows[0]["error_code"] != relay.EInvalidBranchName {
			t.Errorf("audit = %v, want one failed row with invalid_branch_name", rows)
		}
		// A name gitrelay itself refuses is never sent, and is refused.
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1 bad"), http.StatusUnprocessableEntity, relay.EInvalidBranchName)
		if rows := auditRows(t, e, "action="+relay.ActionBranchCreate+"&outcome=refused"); len(rows) != 1 {
			t.Errorf("refused rows = %v, want the name gitrelay refused", rows)
		}
	})
}

// Users racing to create the same branch all see it: one created it, the
// others hear it already existed (the green notice), and every audit row
// of a write that was sent is a success.
func TestUsersRacingForOneBranchAllGetIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		const n = 6
		results := make([]apptest.Response, n)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = e.CreateBranch(e.Bob, id, "ABC-1-shared") })
		}
		wg.Wait()
		already := 0
		for i, r := range results {
			if r.Status != http.StatusCreated && r.Status != http.StatusOK {
				t.Fatalf("racer %d: got %d %s, want success", i, r.Status, r.Body)
			}
			if r.JSON()["already_existed"] == true {
				already++
			}
		}
		if already != n-1 {
			t.Errorf("%d racers heard the branch already existed, want %d", already, n-1)
		}
		for _, row := range auditRows(t, e, "action="+relay.ActionBranchCreate) {
			if row["outcome"] != relay.OutcomeSuccess {
				t.Errorf("audit row %v, want success", row)
			}
		}
	})
}
