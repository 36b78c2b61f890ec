package jira_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// journey creates a branch and a pull request for ABC-1 as bob (with the
// integration account: Require User PAT off) and returns the integration,
// repository and branch.
func (e *env) journey() (integrationID, repoID, branch string) {
	e.t.Helper()
	integrationID = e.integration(false)
	repoID = e.repoID(e.bob(), integrationID)
	r := e.do("POST", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{"integration_id": integrationID, "repository_id": repoID, "name": "ABC-1-fix/login"})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("creating the branch: %d %s", r.Status, r.Body)
	}
	branch = r.JSON()["name"].(string)
	e.sim.Commit("acme/widgets", branch) // work to propose: GitHub refuses an empty pull request
	r = e.do("POST", "/forge/issues/ABC-1/pull-requests", e.bob(), map[string]any{"integration_id": integrationID, "repository_id": repoID, "source": branch})
	if r.Status != http.StatusCreated {
		e.t.Fatalf("creating the pull request: %d %s", r.Status, r.Body)
	}
	return integrationID, repoID, branch
}

type bulkBody struct {
	Repositories []struct {
		ID               string            `json:"id"`
		Name             string            `json:"name"`
		URL              string            `json:"url"`
		UpdateSequenceID int64             `json:"updateSequenceId"`
		Commits          []json.RawMessage `json:"commits"`
		Branches         []struct {
			ID                   string   `json:"id"`
			IssueKeys            []string `json:"issueKeys"`
			UpdateSequenceID     int64    `json:"updateSequenceId"`
			Name                 string   `json:"name"`
			URL                  string   `json:"url"`
			CreatePullRequestURL string   `json:"createPullRequestUrl"`
			LastCommit           struct {
				ID              string   `json:"id"`
				Hash            string   `json:"hash"`
				IssueKeys       []string `json:"issueKeys"`
				Message         string   `json:"message"`
				Author          struct{ Name string }
				URL             string `json:"url"`
				AuthorTimestamp string `json:"authorTimestamp"`
				DisplayID       string `json:"displayId"`
			} `json:"lastCommit"`
		} `json:"branches"`
		PullRequests []struct {
			ID                string   `json:"id"`
			IssueKeys         []string `json:"issueKeys"`
			UpdateSequenceID  int64    `json:"updateSequenceId"`
			Status            string   `json:"status"`
			Title             string   `json:"title"`
			SourceBranch      string   `json:"sourceBranch"`
			DestinationBranch string   `json:"destinationBranch"`
			URL               string   `json:"url"`
			DisplayID         string   `json:"displayId"`
			LastUpdate        string   `json:"lastUpdate"`
		} `json:"pullRequests"`
	} `json:"repositories"`
	OperationType string            `json:"operationType"`
	Properties    map[string]string `json:"properties"`
}

var entityIDChars = regexp.MustCompile(`^[A-Za-z0-9~.\-_]+$`)

// validEntityID is Jira's rule: [A-Za-z0-9~.\-_], 1 to 1024 characters.
func validEntityID(id string) bool { return len(id) <= 1024 && entityIDChars.MatchString(id) }

func TestDevelopmentInformationPayloadsHaveJirasShape(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	integrationID, repoID, branch := e.journey()
	e.pushAll()

	pushes := e.fake.Pushes()
	if len(pushes) != 1 || pushes[0].Method != "POST" || pushes[0].Path != "/ex/jira/"+cloudA+"/rest/devinfo/0.10/bulk" {
		t.Fatalf("pushes: got %+v, want one bulk POST to site A", pushes)
	}
	var body bulkBody
	if err := json.Unmarshal(pushes[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.OperationType != "NORMAL" || len(body.Properties) > 5 || len(body.Repositories) != 1 {
		t.Fatalf("bulk: got %s, want NORMAL, ≤5 properties, one repository", pushes[0].Body)
	}
	repo := body.Repositories[0]
	if repo.ID != jira.EntityID(integrationID+"/"+repoID) || repo.Name != "acme/widgets" || !strings.HasSuffix(repo.URL, "/acme/widgets") || repo.Commits == nil {
		t.Fatalf("repository: got id %q name %q url %q", repo.ID, repo.Name, repo.URL)
	}
	if len(repo.Branches) != 1 || len(repo.PullRequests) != 1 {
		t.Fatalf("entities: got %d branches and %d pull requests, want 1 and 1", len(repo.Branches), len(repo.PullRequests))
	}
	b, pr := repo.Branches[0], repo.PullRequests[0]
	for _, id := range []string{repo.ID, b.ID, pr.ID} {
		if !validEntityID(id) {
			t.Fatalf("entity id %q is not valid for Jira", id)
		}
	}
	if b.ID != "ABC-1-fix~2flogin" || b.Name != branch || strings.Join(b.IssueKeys, ",") != "ABC-1" {
		t.Fatalf("branch: got id %q name %q keys %v", b.ID, b.Name, b.IssueKeys)
	}
	if len(b.LastCommit.ID) != 40 || b.LastCommit.Hash != b.LastCommit.ID || b.LastCommit.DisplayID != b.LastCommit.ID[:7] ||
		b.LastCommit.Message == "" || b.LastCommit.AuthorTimestamp == "" {
		t.Fatalf("last commit: got %+v, want the branch head's full commit", b.LastCommit)
	}
	q := url.Values{"create": {"pull-request"}, "integration_id": {integrationID}, "repository_id": {repoID}, "source": {branch}}
	if want := e.url + "/issues/ABC-1?" + q.Encode(); b.CreatePullRequestURL != want {
		t.Fatalf("createPullRequestUrl: got %q, want %q", b.CreatePullRequestURL, want)
	}
	if pr.Status != "OPEN" || pr.ID != "1" || pr.DisplayID != "#1" || pr.SourceBranch != branch || pr.DestinationBranch != "main" ||
		pr.Title != "ABC-1 Fix login on Safari" || pr.URL == "" || pr.LastUpdate == "" {
		t.Fatalf("pull request: got %+v", pr)
	}
	if !(b.UpdateSequenceID < pr.UpdateSequenceID && repo.UpdateSequenceID == pr.UpdateSequenceID) {
		t.Fatalf("sequence ids: branch %d, pull request %d, repository %d; want increasing in event order", b.UpdateSequenceID, pr.UpdateSequenceID, repo.UpdateSequenceID)
	}

	// Deleting the branch deletes it from Jira, with a higher sequence id.
	r := e.do("DELETE", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{"integration_id": integrationID, "repository_id": repoID, "name": branch})
	if r.Status != http.StatusNoContent {
		t.Fatalf("deleting: %d %s", r.Status, r.Body)
	}
	e.pushAll()
	pushes = e.fake.Pushes()
	del := pushes[len(pushes)-1]
	wantPath := "/ex/jira/" + cloudA + "/rest/devinfo/0.10/repository/" + repo.ID + "/branch/" + b.ID + "?_updateSequenceId="
	if del.Method != "DELETE" || !strings.HasPrefix(del.Path, wantPath) {
		t.Fatalf("delete: got %s %s, want DELETE %s…", del.Method, del.Path, wantPath)
	}
	e.noSecrets()
}

func TestDevelopmentInformationIsRetriedAfterRetryAfter(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := newEnv(t, storetest.SQLite(t))
			e.install()
			e.journey()
			e.fake.Script(jiratest.Answer{Status: status, RetryAfter: "120"})
			e.pushAll()
			queued, err := e.db.QueuedDevinfo(context.Background(), installA, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(queued) != 2 || !queued[0].NextAttemptAt.Equal(e.clock.Now().Add(120*time.Second)) || queued[0].Attempts != 1 {
				t.Fatalf("queue after %d: got %+v, want both ops due in 120s", status, queued)
			}
			e.clock.Advance(119 * time.Second)
			e.pushAll()
			if got := len(e.fake.Pushes()); got != 1 {
				t.Fatalf("pushes before Retry-After: got %d, want 1", got)
			}
			e.clock.Advance(2 * time.Second)
			e.pushAll()
			pushes := e.fake.Pushes()
			if len(pushes) != 2 || pushes[1].Status != http.StatusAccepted {
				t.Fatalf("pushes after Retry-After: got %+v, want the retry accepted", pushes)
			}
			if q, _ := e.db.QueuedDevinfo(context.Background(), installA, 10); len(q) != 0 {
				t.Fatalf("queue after the retry: got %d ops, want none", len(q))
			}
		})
	}
}

func TestTooLargeRequestsAreSplit(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	e.journey()
	e.fake.Script(jiratest.Answer{Status: http.StatusRequestEntityTooLarge})
	e.pushAll()
	pushes := e.fake.Pushes()
	if len(pushes) != 3 || pushes[0].Status != http.StatusRequestEntityTooLarge || pushes[1].Status != http.StatusAccepted || pushes[2].Status != http.StatusAccepted {
		t.Fatalf("pushes: got %+v, want 413 then two halves accepted", pushes)
	}
	if q, _ := e.db.QueuedDevinfo(context.Background(), installA, 10); len(q) != 0 {
		t.Fatalf("queue: got %d ops, want none", len(q))
	}
}

func TestPartialFailuresAreRecordedForAdministrators(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	integrationID, repoID, _ := e.journey()
	// An issue Jira does not know, and a branch Jira rejects.
	r := e.do("POST", "/forge/issues/ABC-404/branches", e.bob(), map[string]any{"integration_id": integrationID, "repository_id": repoID, "name": "ABC-404-ghost"})
	if r.Status != http.StatusCreated {
		t.Fatalf("branch for ABC-404: %d %s", r.Status, r.Body)
	}
	repoEntity := jira.EntityID(integrationID + "/" + repoID)
	e.fake.Script(jiratest.Answer{Status: http.StatusAccepted, FailedBranches: map[string][]string{repoEntity: {"ABC-1-fix~2flogin"}}})
	e.pushAll()

	r = e.do("GET", "/forge/admin/devinfo", e.alice(), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("admin devinfo: %d %s", r.Status, r.Body)
	}
	var got struct {
		Queued   []any `json:"queued"`
		Failures []struct {
			EntityType string   `json:"entity_type"`
			EntityID   string   `json:"entity_id"`
			IssueKeys  []string `json:"issue_keys"`
			Reason     string   `json:"reason"`
		} `json:"failures"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range got.Failures {
		found[f.EntityType+" "+f.EntityID] = f.Reason != ""
	}
	for _, want := range []string{"branch ABC-1-fix~2flogin", "issue_key ABC-404"} {
		if !found[want] {
			t.Fatalf("failures: got %+v, want %q with a reason", got.Failures, want)
		}
	}
	if len(got.Queued) != 0 {
		t.Fatalf("queued: got %v, want none", got.Queued)
	}
	if r := e.do("GET", "/forge/admin/devinfo", e.bob(), nil); r.Status != http.StatusForbidden {
		t.Fatalf("devinfo status for a non-administrator: got %d, want 403", r.Status)
	}
}

func TestQueuedPushesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	e := newEnv(t, db)
	e.install()
	e.journey()
	// Jira is down when the first push is tried; then gitrelay stops.
	e.fake.Script(jiratest.Answer{Status: http.StatusBadGateway})
	e.pushAll()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := open()
	t.Cleanup(func() { _ = db2.Close() })
	restarted := jira.NewDevinfo(jira.DevinfoConfig{Store: db2, Sealer: e.keys,
		Hosts: action.New(action.Config{Store: db2, Hosts: e.hosts, Sealer: e.keys}), HTTPClient: http.DefaultClient,
		PublicURL: e.url, Now: e.clock.Now})
	if q, _ := db2.QueuedDevinfo(ctx, installA, 10); len(q) != 2 {
		t.Fatalf("queue after restart: got %d ops, want 2", len(q))
	}
	e.clock.Advance(time.Hour)
	for {
		n, err := restarted.PushOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	pushes := e.fake.Pushes()
	if len(pushes) != 2 || pushes[1].Status != http.StatusAccepted {
		t.Fatalf("pushes: got %+v, want the queued ops accepted after the restart", pushes)
	}
	var body bulkBody
	_ = json.Unmarshal(pushes[1].Body, &body)
	if len(body.Repositories) != 1 || len(body.Repositories[0].Branches) != 1 || len(body.Repositories[0].PullRequests) != 1 {
		t.Fatalf("pushed after restart: %s, want the branch and the pull request", pushes[1].Body)
	}
	if q, _ := db2.QueuedDevinfo(ctx, installA, 10); len(q) != 0 {
		t.Fatalf("queue: got %d ops, want none", len(q))
	}
}

func TestBuiltInTenantActionsAreNotQueued(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.devinfo.BranchCreated(context.Background(), relay.BranchRecord{TenantID: relay.LocalTenant, IssueKey: "ABC-1", Name: "ABC-1-x"})
	if n, err := e.devinfo.PushOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("push: got %d, %v; want nothing queued", n, err)
	}
}

func TestEntityIDs(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid characters stay", "ABC-1_fix.v2", "ABC-1_fix.v2"},
		{"a slash is encoded", "feature/ABC-1", "feature~2fABC-1"},
		{"tilde itself is encoded, so encodings cannot collide", "a~2f", "a~7e2f"},
		{"non-ASCII bytes are encoded", "é", "~c3~a9"},
		{"over-long names become a hash", strings.Repeat("/", 400), "~h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jira.EntityID(tt.in)
			if tt.want == "~h" {
				if !strings.HasPrefix(got, "~h") || len(got) != 66 {
					t.Fatalf("got %q, want ~h and a SHA-256", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzEntityID(f *testing.F) {
	for _, s := range []string{"", "main", "feature/ABC-1", "a~b", "日本", strings.Repeat("x/", 600)} {
		f.Add(s, s+"/")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := jira.EntityID(a), jira.EntityID(b)
		if a != "" && !validEntityID(ea) {
			t.Fatalf("EntityID(%q) = %q is not a valid entity id", a, ea)
		}
		if a != b && ea == eb {
			t.Fatalf("EntityID collides: %q and %q both give %q", a, b, ea)
		}
	})
}

func TestJobsPushAsSoonAsSomethingIsQueued(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		ctx := context.Background()
		if _, err := jobs.Migrate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		runner, err := jobs.New(jobs.Config{DB: db, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// A long sweep interval: only the job the event enqueued can
		// explain a push.
		pusher := jira.NewDevinfo(jira.DevinfoConfig{Store: e.db, Sealer: e.keys, Hosts: e.actions, PublicURL: e.url,
			HTTPClient: e.hc, Now: e.clock.Now, Interval: time.Hour})
		pusher.UseJobs(runner)
		if err := runner.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runner.Stop(context.Background()) })

		integrationID := e.integration(false)
		repoID := e.repoID(e.bob(), integrationID)
		pusher.BranchCreated(ctx, relay.BranchRecord{TenantID: installA, IssueKey: "ABC-1", IntegrationID: integrationID,
			RepositoryID: repoID, Repository: "acme/widgets", Name: "main", CreatedAt: e.clock.Now()})
		// A bound, not a speed requirement: the job is polled for every
		// 100ms.
		deadline := time.Now().Add(30 * time.Second)
		for len(e.fake.Pushes()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("nothing was pushed within 30s of queueing")
			}
			time.Sleep(20 * time.Millisecond)
		}
		for {
			q, err := db.QueuedDevinfo(ctx, installA, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(q) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue after the push: got %d ops, want none", len(q))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := len(e.fake.Pushes()); got != 1 {
			t.Fatalf("pushes: got %d, want 1", got)
		}
	})
}

func TestAClaimedTenantIsNotPushedByAnotherPusher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		e.journey()
		ctx := context.Background()
		due, err := db.DueDevinfo(ctx, e.clock.Now(), 10)
		if err != nil || len(due) == 0 {
			t.Fatalf("due before the claim: got %d ops, %v; want some", len(due), err)
		}
		// Another replica's push holds the tenant's ops.
		claimed, err := db.ClaimDevinfo(ctx, installA, e.clock.Now(), time.Minute, 500)
		if err != nil || len(claimed) != len(due) {
			t.Fatalf("claim: got %d ops, %v; want %d", len(claimed), err, len(due))
		}
		if n, err := e.devinfo.PushTenant(ctx, installA); n != 0 || err != nil {
			t.Fatalf("push while claimed: got %d, %v; want nothing pushed", n, err)
		}
		if got := len(e.fake.Pushes()); got != 0 {
			t.Fatalf("Jira got %d pushes while another push held the claim, want 0", got)
		}
		// The claim of a push whose process died ends by itself.
		e.clock.Advance(time.Minute + time.Second)
		e.pushAll()
		if got := len(e.fake.Pushes()); got != 1 {
			t.Fatalf("pushes after the claim ended: got %d, want 1", got)
		}
		if q, _ := db.QueuedDevinfo(ctx, installA, 10); len(q) != 0 {
			t.Fatalf("queue: got %d ops, want none", len(q))
		}
	})
}

func TestPushesStayWithinJirasLimits(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	integrationID := e.integration(false)
	repoID := e.repoID(e.bob(), integrationID)
	ctx := context.Background()
	// 450 branches of one repository: over Jira's 400 per entity type and
	// repository, so they must go in two requests.
	const n = 450
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("ABC-1-part-%03d", i)
		e.sim.AddBranch("acme/widgets", name, "")
		e.devinfo.BranchCreated(ctx, relay.BranchRecord{TenantID: installA, IssueKey: "ABC-1", IntegrationID: integrationID,
			RepositoryID: repoID, Repository: "acme/widgets", Name: name, CreatedAt: e.clock.Now()})
	}
	e.pushAll()
	pushes := e.fake.Pushes()
	total := 0
	for _, p := range pushes {
		var body bulkBody
		if err := json.Unmarshal(p.Body, &body); err != nil {
			t.Fatal(err)
		}
		entities := 0
		for _, r := range body.Repositories {
			if len(r.Branches) > 400 || len(r.PullRequests) > 400 {
				t.Fatalf("a request carries %d branches and %d pull requests for one repository; Jira allows 400 each", len(r.Branches), len(r.PullRequests))
			}
			entities += len(r.Branches) + len(r.PullRequests)
		}
		if entities > 1000 {
			t.Fatalf("a request carries %d entities; Jira allows 1000", entities)
		}
		total += entities
	}
	if len(pushes) != 2 || total != n {
		t.Fatalf("got %d requests with %d entities, want 2 with %d", len(pushes), total, n)
	}
}
