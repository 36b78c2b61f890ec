package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// writesBy counts the simulator's successful writes performed as login.
func writesBy(ws []hostsim.Write, login string) int {
	n := 0
	for _, w := range ws {
		if w.Login == login && w.Status < 300 {
			n++
		}
	}
	return n
}

func auditRows(t *testing.T, e *apptest.Env, query string) []map[string]any {
	t.Helper()
	r := e.Do("GET", "/api/v1/audit?"+query, e.Admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	return r.List()
}

func wantStatus(t *testing.T, r apptest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.Status, r.Code(), status, code, r.Body)
	}
}

// 1. Default: the integration account acts, and the audit names both the
// requesting user and the integration account.
func TestDefaultActsAsIntegrationAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)

		r := e.CreateBranch(e.Bob, id, "ABC-1-fix-login")
		wantStatus(t, r, http.StatusCreated, "")
		acted := r.JSON()["acted_as"].(map[string]any)
		if acted["via"] != "integration" || acted["login"] != apptest.BotLogin {
			t.Fatalf("acted_as = %v, want the integration account %s", acted, apptest.BotLogin)
		}
		if !strings.Contains(r.JSON()["url"].(string), "/acme/widgets/tree/ABC-1-fix-login") {
			t.Errorf("branch url = %v", r.JSON()["url"])
		}
		e.Push("ABC-1-fix-login")
		pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-fix-login", "title": "ABC-1 Fix login"})
		wantStatus(t, pr, http.StatusCreated, "")
		if writesBy(e.Writes(), apptest.BotLogin) != 2 || writesBy(e.Writes(), apptest.BobLogin) != 0 {
			t.Fatalf("host writes: %+v; want 2 by the bot and none by bob", e.Writes())
		}
		rows := auditRows(t, e, "action=branch.create")
		if len(rows) != 1 || rows[0]["user"] != "bob" || rows[0]["via"] != "integration" ||
			rows[0]["identity"] != "integration account (relay-bot)" || rows[0]["outcome"] != "success" {
			t.Fatalf("audit = %v", rows)
		}
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil)
		if bs := dev.JSON()["branches"].([]any); len(bs) != 1 {
			t.Fatalf("development branches = %v", bs)
		}
		if prs := dev.JSON()["pull_requests"].([]any); len(prs) != 1 {
			t.Fatalf("development pull requests = %v", prs)
		}
	})
}

// 2. Require User PAT without a PAT: 428 user_token_required with links, and
// the host saw no write at all.
func TestRequiredWithoutTokenIsRefusedBeforeTheHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(true, nil)

		r := e.CreateBranch(e.Bob, id, "ABC-1-x")
		wantStatus(t, r, http.StatusPreconditionRequired, "user_token_required")
		setup := r.ErrorField("setup_url")
		if !strings.Contains(setup, "integration="+id) || !strings.Contains(setup, "return_to=%2Fissues%2FABC-1") {
			t.Errorf("setup_url = %q, want the integration's User settings entry returning to the issue", setup)
		}
		if !strings.HasPrefix(r.ErrorField("new_token_url"), e.HostURL+"/settings/tokens/new") {
			t.Errorf("new_token_url = %q", r.ErrorField("new_token_url"))
		}
		if !strings.Contains(r.ErrorField("message"), "GHE") {
			t.Errorf("message does not name the integration: %q", r.ErrorField("message"))
		}
		pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "main2"})
		wantStatus(t, pr, http.StatusPreconditionRequired, "user_token_required")
		del := e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+id+"&repository_id="+e.RepoID+"&name=ABC-1-x", e.Bob, nil)
		wantStatus(t, del, http.StatusPreconditionRequired, "user_token_required")
		if ws := e.Writes(); len(ws) != 0 {
			t.Fatalf("the host saw writes: %+v", ws)
		}
		rows := auditRows(t, e, "outcome=refused&user=bob")
		if len(rows) != 3 || rows[0]["error_code"] != "user_token_required" {
			t.Fatalf("audit = %v", rows)
		}
	})
}

// 3. With a saved PAT, branch creation, pull request creation and branch
// deletion all act with it.
func TestUserTokenActsForEveryAction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(true, nil)

		saved := e.SaveToken(e.Bob, id, apptest.BobToken)
		wantStatus(t, saved, http.StatusOK, "")
		if saved.JSON()["status"] != "valid" || saved.JSON()["account"].(map[string]any)["login"] != apptest.BobLogin {
			t.Fatalf("saved token = %s", saved.Body)
		}
		if scopes := saved.JSON()["scopes"].([]any); len(scopes) != 1 || scopes[0] != "repo" {
			t.Fatalf("scopes = %v", scopes)
		}

		r := e.CreateBranch(e.Bob, id, "ABC-1-mine")
		wantStatus(t, r, http.StatusCreated, "")
		if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "user_token" || acted["login"] != apptest.BobLogin {
			t.Fatalf("acted_as = %v", acted)
		}
		e.Push("ABC-1-mine")
		pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-mine"})
		wantStatus(t, pr, http.StatusCreated, "")
		if pr.JSON()["title"] != "ABC-1" || pr.JSON()["number"].(float64) < 1 {
			t.Fatalf("pull request = %s", pr.Body)
		}
		del := e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+id+"&repository_id="+e.RepoID+"&name=ABC-1-mine", e.Bob, nil)
		wantStatus(t, del, http.StatusNoContent, "")

		ws := e.Writes()
		if writesBy(ws, apptest.BobLogin) != 3 || writesBy(ws, apptest.BotLogin) != 0 {
			t.Fatalf("host writes %+v: want 3 by bob's token, none by the bot", ws)
		}
		if _, ok := e.Sim.Branches(apptest.Repo)["ABC-1-mine"]; ok {
			t.Fatal("branch still exists at the host")
		}
		for _, row := range auditRows(t, e, "user=bob&outcome=success") {
			if row["action"] != "token.save" && row["identity"] != "user PAT as "+apptest.BobLogin {
				t.Fatalf("audit row %v does not name bob's git login", row)
			}
		}
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil)
		if bs := dev.JSON()["branches"].([]any); len(bs) != 0 {
			t.Fatalf("a deleted branch is still listed: %v", bs)
		}
	})
}

// 4. A PAT revoked or expired at the host after saving: 428, the status
// changes, and the integration credential is not tried.
func TestRevokedOrExpiredTokenIsNeverReplacedByTheIntegration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spoil   func(s *hostsim.Sim)
		code    string
		status  string
		expires *time.Time
	}{
		{"revoked", func(s *hostsim.Sim) { s.RevokeToken("ghp_CANARYexpiring0000000000000000000009") }, "user_token_revoked", "revoked", nil},
		{"expired", func(s *hostsim.Sim) { s.ExpireToken("ghp_CANARYexpiring0000000000000000000009") }, "user_token_expired", "expired", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db)
				const pat = "ghp_CANARYexpiring0000000000000000000009"
				later := time.Now().Add(30 * 24 * time.Hour)
				e.Sim.AddToken(hostsim.Token{Value: pat, Login: apptest.BobLogin, Scopes: []string{"repo"}, ExpiresAt: &later})
				id := e.Integration(true, nil)
				wantStatus(t, e.SaveToken(e.Bob, id, pat), http.StatusOK, "")
				tc.spoil(e.Sim)

				r := e.CreateBranch(e.Bob, id, "ABC-1-late")
				if tc.name == "expired" {
					// The host answers 401 for both; gitrelay tells them
					// apart only by the expiry it learnt at save time, which
					// is still in the future here, so it says revoked.
					tc.code, tc.status = "user_token_revoked", "revoked"
				}
				wantStatus(t, r, http.StatusPreconditionRequired, tc.code)
				if r.ErrorField("new_token_url") == "" || r.ErrorField("setup_url") == "" {
					t.Errorf("links missing: %s", r.Body)
				}
				if n := writesBy(e.Writes(), apptest.BotLogin); n != 0 {
					t.Fatalf("the integration account wrote %d times", n)
				}
				for _, w := range e.Writes() {
					if w.Login == apptest.BotLogin {
						t.Fatalf("the integration credential was tried: %+v", w)
					}
				}
				tokens := e.Do("GET", "/api/v1/me/tokens", e.Bob, nil).List()
				if len(tokens) != 1 || tokens[0]["status"] != tc.status {
					t.Fatalf("token status = %v, want %s", tokens, tc.status)
				}
				// Once known bad, gitrelay refuses without asking the host.
				before := len(e.Writes())
				wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-again"), http.StatusPreconditionRequired, tc.code)
				if len(e.Writes()) != before {
					t.Fatal("a known-bad token was sent to the host again")
				}
			})
		})
	}
}

// 4b. A token whose expiry gitrelay knows is reported expired by the clock.
func TestTokenPastItsExpiryIsExpired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		const pat = "ghp_CANARYshortlived00000000000000000008"
		soon := time.Now().Add(1500 * time.Millisecond)
		e.Sim.AddToken(hostsim.Token{Value: pat, Login: apptest.BobLogin, Scopes: []string{"repo"}, ExpiresAt: &soon})
		id := e.Integration(true, nil)
		saved := e.SaveToken(e.Bob, id, pat)
		wantStatus(t, saved, http.StatusOK, "")
		if saved.JSON()["status"] != "expiring" || saved.JSON()["expires_at"] == nil {
			t.Fatalf("a token expiring within days should say so: %s", saved.Body)
		}
		time.Sleep(time.Until(soon) + 100*time.Millisecond)
		r := e.CreateBranch(e.Bob, id, "ABC-1-late")
		wantStatus(t, r, http.StatusPreconditionRequired, "user_token_expired")
		if len(e.Writes()) != 0 {
			t.Fatalf("host writes: %+v", e.Writes())
		}
	})
}

// 5. Require User PAT off, but the user saved a PAT: the PAT acts.
func TestSavedTokenActsEvenWhenNotRequired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		r := e.CreateBranch(e.Bob, id, "ABC-1-self")
		wantStatus(t, r, http.StatusCreated, "")
		if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "user_token" {
			t.Fatalf("acted_as = %v", acted)
		}
		if writesBy(e.Writes(), apptest.BobLogin) != 1 || writesBy(e.Writes(), apptest.BotLogin) != 0 {
			t.Fatalf("writes = %+v", e.Writes())
		}
		// Removing it falls back to the integration account.
		wantStatus(t, e.Do("DELETE", "/api/v1/me/tokens/"+id, e.Bob, nil), http.StatusNoContent, "")
		r = e.CreateBranch(e.Bob, id, "ABC-1-bot")
		if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "integration" {
			t.Fatalf("after removal acted_as = %v", acted)
		}
	})
}

// 6. Tokens that cannot do the job are refused at save with the reason.
func TestTokenRefusedAtSave(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(true, nil)
		e.Sim.AddToken(hostsim.Token{Value: apptest.CarolToken, Login: "carol-gh", Scopes: []string{"public_repo", "gist"}})
		r := e.SaveToken(e.Bob, id, apptest.CarolToken)
		wantStatus(t, r, http.StatusUnprocessableEntity, "token_insufficient_scope")
		if r.ErrorField("scope") != "repo" || !strings.Contains(r.ErrorField("message"), "repo") {
			t.Fatalf("the missing scope is not named: %s", r.Body)
		}
		wantStatus(t, e.SaveToken(e.Bob, id, "ghp_CANARYunknown0000000000000000000007"), http.StatusUnprocessableEntity, "token_invalid")
		past := time.Now().Add(-time.Hour)
		e.Sim.AddToken(hostsim.Token{Value: "ghp_CANARYold00000000000000000000000006", Login: "bob-gh", Scopes: []string{"repo"}, ExpiresAt: &past})
		r = e.SaveToken(e.Bob, id, "ghp_CANARYold00000000000000000000000006")
		if r.Status != http.StatusUnprocessableEntity || (r.Code() != "token_expired" && r.Code() != "token_invalid") {
			t.Fatalf("expired token: %d %s", r.Status, r.Body)
		}
		wantStatus(t, e.SaveToken(e.Bob, id, "  "), http.StatusUnprocessableEntity, "invalid_request")
		tokens := e.Do("GET", "/api/v1/me/tokens", e.Bob, nil).List()
		if len(tokens) != 1 || tokens[0]["status"] != "missing" {
			t.Fatalf("a refused token was saved: %v", tokens)
		}
	})
}

// 7. Permissions.
func TestPermissions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		all := e.Integration(false, nil)
		xyzOnly := e.Integration(false, []string{"XYZ"})

		// carol has no View Development Tools on ABC.
		wantStatus(t, e.CreateBranch(e.Carol, all, "ABC-1-c"), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("GET", "/api/v1/issues/ABC-1/development", e.Carol, nil), http.StatusForbidden, "forbidden")
		// An integration restricted to XYZ cannot act on ABC and is not listed there.
		wantStatus(t, e.CreateBranch(e.Bob, xyzOnly, "ABC-1-b"), http.StatusForbidden, "forbidden")
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil)
		if ins := dev.JSON()["integrations"].([]any); len(ins) != 1 || ins[0].(map[string]any)["id"] != all {
			t.Fatalf("integrations listed on ABC-1: %v", ins)
		}
		if l := e.Do("GET", "/api/v1/integrations", e.Bob, nil).List(); len(l) != 1 || l[0]["id"] != all {
			t.Fatalf("bob lists %v", l)
		}
		wantStatus(t, e.Do("GET", "/api/v1/integrations/"+xyzOnly, e.Bob, nil), http.StatusNotFound, "not_found")
		// Non-admins cannot create or change integrations or read the audit.
		wantStatus(t, e.Do("POST", "/api/v1/integrations", e.Bob, map[string]any{"kind": "github-enterprise", "name": "x",
			"base_url": e.HostURL, "credential": map[string]string{"token": apptest.BobToken}}), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+all, e.Bob, map[string]any{"require_user_pat": true}), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("DELETE", "/api/v1/integrations/"+all, e.Bob, nil), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("GET", "/api/v1/audit", e.Bob, nil), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("GET", "/api/v1/audit", "", nil), http.StatusUnauthorized, "unauthenticated")
		wantStatus(t, e.Do("GET", "/api/v1/me", "grt_not-a-token", nil), http.StatusUnauthorized, "unauthenticated")
		if len(e.Writes()) != 0 {
			t.Fatalf("host writes: %+v", e.Writes())
		}
	})
}

// 8. Conflicts and idempotency.
func TestConflictsAndRepeats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)

		// A branch of that name at another commit: 409 with its url.
		old := e.Sim.Branches(apptest.Repo)["main"]
		e.Sim.Commit(apptest.Repo, "main")
		e.Sim.AddBranch(apptest.Repo, "ABC-1-taken", old)
		r := e.CreateBranch(e.Bob, id, "ABC-1-taken")
		wantStatus(t, r, http.StatusConflict, "branch_exists")
		if !strings.Contains(r.ErrorField("url"), "ABC-1-taken") {
			t.Errorf("url = %q", r.ErrorField("url"))
		}

		// A double click creates one branch; both answers are success.
		first := e.CreateBranch(e.Bob, id, "ABC-1-twice")
		second := e.CreateBranch(e.Bob, id, "ABC-1-twice")
		wantStatus(t, first, http.StatusCreated, "")
		wantStatus(t, second, http.StatusCreated, "")
		if second.JSON()["already_existed"] != true || first.JSON()["already_existed"] != false {
			t.Errorf("already_existed: first %v, second %v", first.JSON()["already_existed"], second.JSON()["already_existed"])
		}
		created := 0
		for _, w := range e.Writes() {
			if w.Op == hostsim.OpCreateBranch && w.Ref == "ABC-1-twice" && w.Status == http.StatusCreated {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("created %d branches", created)
		}
		dev := e.Do("GET", "/api/v1/issues/ABC-1/development", e.Bob, nil)
		if bs := dev.JSON()["branches"].([]any); len(bs) != 1 {
			t.Fatalf("listed branches: %v", bs)
		}

		// A pull request that exists: 409 with its url.
		e.Push("ABC-1-twice")
		body := map[string]any{"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-twice"}
		pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, body)
		wantStatus(t, pr, http.StatusCreated, "")
		again := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, body)
		wantStatus(t, again, http.StatusConflict, "pull_request_exists")
		if again.ErrorField("url") != pr.JSON()["url"] {
			t.Fatalf("existing url = %q, want %v", again.ErrorField("url"), pr.JSON()["url"])
		}
		if n := len(e.Sim.PullRequests(apptest.Repo)); n != 1 {
			t.Fatalf("%d pull requests", n)
		}

		// A draft where the repository has none: created as a regular one, with a note.
		e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "nodrafts", DraftsUnsupported: true, Writers: []string{apptest.BotLogin}})
		e.Advance(action.MinRepositoryReadInterval) // the host is read at most this often
		repos := e.Do("GET", "/api/v1/integrations/"+id+"/repositories?q=nodrafts", e.Bob, nil).List()
		if len(repos) != 1 {
			t.Fatalf("repositories = %v", repos)
		}
		nd := repos[0]["id"].(string)
		wantStatus(t, e.Do("POST", "/api/v1/issues/ABC-1/branches", e.Bob, map[string]any{
			"integration_id": id, "repository_id": nd, "name": "ABC-1-d"}), http.StatusCreated, "")
		e.Sim.Commit("acme/nodrafts", "ABC-1-d")
		draft := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": nd, "source": "ABC-1-d", "draft": true})
		wantStatus(t, draft, http.StatusCreated, "")
		if draft.JSON()["draft"] != false || !strings.Contains(draft.JSON()["note"].(string), "not supported") {
			t.Fatalf("draft answer: %s", draft.Body)
		}
		// And a draft where drafts work stays a draft.
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-dd"), http.StatusCreated, "")
		e.Push("ABC-1-dd")
		d2 := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-dd", "draft": true})
		if d2.JSON()["draft"] != true {
			t.Fatalf("draft: %s", d2.Body)
		}
	})
}

// 9. Invalid branch names are refused before the host, saying which rule.
func TestInvalidBranchNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		for _, tc := range []struct{ name, says string }{
			{"ABC-1..x", ".."},
			{"ABC-1@{x", "@{"},
			{"ABC-1-x.lock", ".lock"},
			{"ABC-1 x", "space"},
			{"ABC-1\x07x", "control"},
			{"ABC-1-" + strings.Repeat("a", 260), "maximum"},
			{"fix-login", "ABC-1"},
		} {
			r := e.CreateBranch(e.Bob, id, tc.name)
			wantStatus(t, r, http.StatusUnprocessableEntity, "invalid_branch_name")
			if !strings.Contains(r.ErrorField("message"), tc.says) {
				t.Errorf("%q: message %q does not mention %q", tc.name, r.ErrorField("message"), tc.says)
			}
		}
		if len(e.Writes()) != 0 {
			t.Fatalf("host writes: %+v", e.Writes())
		}
		// Without a name, the template names it from the summary.
		r := e.Do("POST", "/api/v1/issues/ABC-1/branches", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "summary": "Fix the Login page!"})
		wantStatus(t, r, http.StatusCreated, "")
		if r.JSON()["name"] != "ABC-1-fix-the-login-page" {
			t.Fatalf("templated name = %v", r.JSON()["name"])
		}
	})
}

// 10. Host 5xx, timeouts and rate limits, each audited.
func TestHostFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{HostTimeout: 300 * time.Millisecond})
		id := e.Integration(false, nil)

		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: 502, Times: 1})
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-a"), http.StatusBadGateway, "host_error")

		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Hang: true, Times: 1})
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-b"), http.StatusGatewayTimeout, "host_timeout")

		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, RetryAfter: 42 * time.Second, Status: 429, Times: 1})
		r := e.CreateBranch(e.Bob, id, "ABC-1-c")
		wantStatus(t, r, http.StatusTooManyRequests, "rate_limited")
		// The host states a reset time; a second may pass on the way.
		if ra := r.Header.Get("Retry-After"); ra != "42" && ra != "41" {
			t.Errorf("Retry-After = %q, want 42 (or 41)", ra)
		}

		rows := auditRows(t, e, "action=branch.create&outcome=failed")
		var codes []string
		for _, row := range rows {
			codes = append(codes, row["error_code"].(string))
		}
		if strings.Join(codes, ",") != "rate_limited,host_timeout,host_error" {
			t.Fatalf("audited codes (newest first) = %v", codes)
		}
	})
}

// 11. Deleting an integration deletes its users' PATs.
func TestDeletingIntegrationDeletesTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(true, nil)
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		wantStatus(t, e.Do("DELETE", "/api/v1/integrations/"+id, e.Admin, nil), http.StatusNoContent, "")
		toks, err := db.UserTokens(t.Context(), "local", bobID(t, e))
		if err != nil || len(toks) != 0 {
			t.Fatalf("tokens after delete: %v %v", toks, err)
		}
		if rows := auditRows(t, e, "action=integration.delete"); len(rows) != 1 {
			t.Fatalf("audit: %v", rows)
		}
	})
}

func bobID(t *testing.T, e *apptest.Env) string {
	u, err := e.DB.UserByUsername(t.Context(), "local", "bob")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// Require User PAT is toggled with PATCH and audited as its own action.
func TestTogglingRequireUserPAT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-before"), http.StatusCreated, "")
		r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"require_user_pat": true})
		wantStatus(t, r, http.StatusOK, "")
		if r.JSON()["require_user_pat"] != true {
			t.Fatalf("patch answer %s", r.Body)
		}
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-after"), http.StatusPreconditionRequired, "user_token_required")
		if rows := auditRows(t, e, "action=integration.require_user_pat"); len(rows) != 1 || rows[0]["user"] != "admin" {
			t.Fatalf("audit: %v", rows)
		}
		// projects: a list restricts, null restores all projects.
		r = e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"projects": []string{"xyz"}})
		if ps := r.JSON()["projects"].([]any); len(ps) != 1 || ps[0] != "XYZ" {
			t.Fatalf("projects = %v", r.JSON()["projects"])
		}
		r = e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"projects": nil})
		if r.JSON()["projects"] != nil {
			t.Fatalf("projects = %v, want null", r.JSON()["projects"])
		}
	})
}
