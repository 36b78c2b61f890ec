package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// selectedOption is the option chosen in the select named name.
func selectedOption(body, name string) string {
	m := regexp.MustCompile(`(?s)<select[^>]*name="`+regexp.QuoteMeta(name)+`"[^>]*>(.*?)</select>`).FindAllStringSubmatch(body, -1)
	for _, sel := range m {
		if o := regexp.MustCompile(`<option selected>([^<]*)</option>`).FindStringSubmatch(sel[1]); o != nil {
			return o[1]
		}
	}
	return ""
}

func TestAddIntegrationComesBackAsSentAfterARefusal(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	sent := url.Values{"csrf": {v.csrf()}, "kind": {"tfs"}, "name": {"Old TFS"}, "base_url": {"http://127.0.0.1:1"},
		"option.suffix": {"/custom"}, "option.collection": {"Coll2"}, "option.server_version": {"2015"},
		"username": {"builder"}, "password": {"pw-CANARY-0000000000000000000000000001"},
		"projects_mode": {"restrict"}, "projects": {"ABC"}, "require_user_pat": {"on"}}
	p := v.submit("/admin/integrations", sent)
	if p.Status < 400 {
		t.Fatalf("an unreachable server was saved: %d", p.Status)
	}
	if got := selectedOption(p.Body, "option.server_version"); got != "2015" {
		t.Errorf("server version shown = %q, want 2015 as sent", got)
	}
	for _, want := range []string{`value="/custom"`, `value="Coll2"`, `name="username" value="builder"`, `value="Old TFS"`, `value="http://127.0.0.1:1"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the form does not come back with %s", want)
		}
	}
	if !strings.Contains(p.Body, `<option value="tfs" selected`) {
		t.Error("the kind does not come back as tfs")
	}
	if strings.Contains(p.Body, "pw-CANARY") {
		t.Fatal("the password is echoed back in the page")
	}
	if !strings.Contains(p.Body, "data-resend") {
		t.Error("the page does not ask to type the password again")
	}
	warning := regexp.MustCompile(`<p[^>]*data-no-pat-warning="tfs"[^>]*>`).FindString(p.Body)
	if warning == "" || strings.Contains(warning, "hidden") {
		t.Errorf("the TFS 2015 warning is not shown with Require User PAT ticked: %q", warning)
	}
}

// Whatever credential field an adapter marks secret is never kept to show
// again: CodeCommit's secret access key is dropped, its access key ID kept.
func TestARefusedFormKeepsNoSecretTheAdapterDescribes(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	p := v.submit("/admin/integrations", url.Values{"csrf": {v.csrf()}, "kind": {"codecommit"}, "name": {"Repos"},
		"option.region": {"nowhere-1"}, "access_key_id": {"AKIAEXAMPLEKEEP"},
		"secret_access_key": {"sak-CANARY-0000000000000000000000000002"}, "projects_mode": {"all"}})
	if p.Status < 400 {
		t.Fatalf("an unusable integration was saved: %d", p.Status)
	}
	if strings.Contains(p.Body, "sak-CANARY") {
		t.Fatal("the secret access key is echoed back in the page")
	}
	if !strings.Contains(p.Body, `value="AKIAEXAMPLEKEEP"`) {
		t.Error("the access key ID does not come back as sent")
	}
	if !strings.Contains(p.Body, "data-resend") {
		t.Error("the page does not ask to type the secret access key again")
	}
}

func TestAddIntegrationKeepsAnEmptySuffix(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	p := v.submit("/admin/integrations", url.Values{"csrf": {v.csrf()}, "kind": {"tfs"}, "name": {"TFS"}, "base_url": {"http://127.0.0.1:1"},
		"option.suffix": {""}, "option.collection": {"C"}, "option.server_version": {"2022"}, "token": {"x"}, "projects_mode": {"all"}})
	if p.Status < 400 {
		t.Fatal("an unreachable server was saved")
	}
	if !regexp.MustCompile(`name="option.suffix" value=""`).MatchString(p.Body) {
		t.Error("an emptied suffix comes back filled with the default")
	}
}

func TestTokenPageNamesKindsAndCredentialFieldsFromTheAdapter(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	body := v.get("/settings/tokens").Body
	if !strings.Contains(body, "GitHub Enterprise Server") || strings.Contains(body, `<span class="tag">github-enterprise</span>`) {
		t.Error("the kind is not shown by its name")
	}
	if !strings.Contains(body, `id="token-`+id+`"`) {
		t.Error("the token field is missing")
	}
}

func TestTokenOfOnlySpacesNamesTheFieldAndTheRefusalLinksANewToken(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	p := v.submit("/settings/tokens/"+id, url.Values{"csrf": {v.csrf()}, "token": {"   "}})
	if !strings.Contains(p.Body, `data-field-error="token"`) {
		t.Errorf("a token of spaces is refused without naming the field:\n%s", p.Body)
	}
	p = v.submit("/settings/tokens/"+id, url.Values{"csrf": {v.csrf()}, "token": {"ghp_CANARYunknown000000000000000000000010"}})
	if !strings.Contains(p.Body, "data-token-error") || !strings.Contains(p.Body, "data-new-token") {
		t.Errorf("a refused token's message has no New token link:\n%s", p.Body)
	}
	if again := v.get("/settings/tokens?integration=" + id); strings.Contains(again.Body, "data-token-error") {
		t.Error("the refusal shows again on reload")
	}
}

// Every form posts and redirects to a page a reload or Enter shows again
// (POST/redirect/GET); a success notice is shown once and never put in the
// address.
func TestFormsRedirectAndNoticesAreShownOnce(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	csrf := v.csrf()
	p := v.post("/issues/ABC-1/branches", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {env.RepoID}, "name": {"ABC-1-once"}})
	if p.Status != http.StatusSeeOther || strings.Contains(p.Location, "done=") || !strings.HasPrefix(p.Location, "/issues/ABC-1") {
		t.Fatalf("create branch answered %d to %q, want 303 to the issue with nothing about the outcome in the address", p.Status, p.Location)
	}
	if page := v.get(p.Location); !strings.Contains(page.Body, "Branch ABC-1-once was created.") {
		t.Fatal("the notice is not shown after the redirect")
	}
	if page := v.get(p.Location); strings.Contains(page.Body, "was created.") {
		t.Error("the notice shows again on reload")
	}
	// Refused: the error and what was typed, once.
	p = v.post("/issues/ABC-1/pull-requests", url.Values{"csrf": {csrf}, "integration_id": {id}, "repository_id": {env.RepoID},
		"repository_name": {"acme/widgets"}, "source": {"no-such-branch"}, "title": {"My title"}, "description": {"Typed with care"}, "draft": {"on"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("a refused pull request answered %d, want 303", p.Status)
	}
	page := v.get(p.Location)
	for _, want := range []string{`id="action-error"`, "Typed with care", `value="My title"`, `value="no-such-branch"`, `value="acme/widgets"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("after the refusal the page lacks %s", want)
		}
	}
	if !regexp.MustCompile(`id="pr-draft" name="draft" checked`).MatchString(page.Body) {
		t.Error("Draft is not ticked again")
	}
	if again := v.get(p.Location); strings.Contains(again.Body, `id="action-error"`) {
		t.Error("the error shows again on reload")
	}
}

func TestDialogsSaySetupIsRequiredBeforeTheyAreFilled(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	body := v.get("/issues/ABC-1").Body
	if n := strings.Count(body, `data-setup-needed="`+id+`"`); n != 2 {
		t.Errorf("setup required is said in %d dialogs, want both", n)
	}
}

func TestPullRequestSourceDefaultsToTheNewestBranch(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	for _, name := range []string{"ABC-1-old", "ABC-1-new"} {
		if r := env.CreateBranch(env.Bob, id, name); r.Status != http.StatusCreated {
			t.Fatalf("creating %s: %d %s", name, r.Status, r.Body)
		}
		env.Advance(time.Minute)
	}
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	if body := v.get("/issues/ABC-1").Body; !strings.Contains(body, `id="pr-source" name="source" list="pr-branch-list" autocomplete="off" required value="ABC-1-new"`) {
		t.Error("the source branch is not the newest of the issue's branches")
	}
}

func TestAuditShowsWhatAnUpdateChanged(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	edit := v.get("/admin/integrations/" + id).Body
	name := regexp.MustCompile(`id="name" name="name" required maxlength="100" value="([^"]*)"`).FindStringSubmatch(edit)
	if name == nil {
		t.Fatal("no name field on the settings page")
	}
	same := url.Values{"csrf": {v.csrf()}, "name": {name[1]}, "enabled": {"on"}, "projects_mode": {"all"}, "repos_mode": {"all"}}
	v.submit("/admin/integrations/"+id, same)
	on := url.Values{"require_user_pat": {"on"}}
	for k, vs := range same {
		on[k] = vs
	}
	v.submit("/admin/integrations/"+id, on)
	body := v.get("/admin/audit").Body
	if !strings.Contains(body, "no setting changed") {
		t.Error("an Update with nothing changed is not recorded as such")
	}
	if !strings.Contains(body, "Require User PAT on") {
		t.Error("ticking Require User PAT is not shown as on in the audit detail")
	}
	if strings.Contains(body, "changed name, enabled") {
		t.Error("the audit says name and enabled changed when they did not")
	}
}

func TestIssueOfAProjectThatDoesNotExistSaysSo(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	p := v.get("/issues/NOPE-1")
	if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "There is no project NOPE") || strings.Contains(p.Body, "View Development Tools") {
		t.Errorf("got %d, want 404 saying there is no project NOPE\n%s", p.Status, p.Body)
	}
}

func TestDeleteConfirmationNamesPullRequestsFromTheBranch(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	if r := env.CreateBranch(env.Bob, id, "ABC-1-pr"); r.Status != http.StatusCreated {
		t.Fatalf("creating the branch: %d %s", r.Status, r.Body)
	}
	env.Push("ABC-1-pr")
	pr := env.Do("POST", "/api/v1/issues/ABC-1/pull-requests", env.Bob, map[string]any{"integration_id": id, "repository_id": env.RepoID, "source": "ABC-1-pr", "title": "The open one"})
	if pr.Status != http.StatusCreated {
		t.Fatalf("creating the pull request: %d %s", pr.Status, pr.Body)
	}
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	q := url.Values{"integration_id": {id}, "repository_id": {env.RepoID}, "name": {"ABC-1-pr"}}
	if body := v.get("/issues/ABC-1/branches/delete?" + q.Encode()).Body; !strings.Contains(body, `id="open-pull-requests"`) || !strings.Contains(body, "The open one") {
		t.Error("the confirmation does not mention the pull request from the branch")
	}
	// Asking again for the same pull request lists the existing one with
	// its link, as a notice rather than a failure.
	again := v.submit("/issues/ABC-1/pull-requests", url.Values{"csrf": {v.csrf()}, "integration_id": {id}, "repository_id": {env.RepoID},
		"source": {"ABC-1-pr"}, "title": {"Again"}})
	if again.Status != http.StatusOK || strings.Contains(again.Body, `id="action-error"`) || !strings.Contains(again.Body, `id="existing-pr"`) {
		t.Errorf("a duplicate pull request: %d, want the existing one linked as a notice\n%s", again.Status, again.Body)
	}
}

func TestProjectKeysShowOnlyWhenRestricting(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	if !regexp.MustCompile(`<div data-for-projects-mode="restrict" hidden>`).MatchString(v.get("/admin/integrations/new").Body) {
		t.Error("Project keys show with Associate with all projects chosen")
	}
}

func TestPanelNamesTheIntegrationAccountsLogin(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	if r := env.CreateBranch(env.Bob, id, "ABC-1-bot"); r.Status != http.StatusCreated {
		t.Fatalf("creating the branch: %d %s", r.Status, r.Body)
	}
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	body := v.get("/issues/ABC-1").Body
	if !strings.Contains(body, "the integration account "+apptest.BotLogin) {
		t.Errorf("the panel does not name the integration account's login %s", apptest.BotLogin)
	}
	if !strings.Contains(body, "by Bob as") {
		t.Error("the panel does not show who asked by their display name")
	}
}

func TestMissingScopeRefusalDoesNotRepeatTheHelp(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	if code := env.Fixture.WeakToken(env.Sim, "ghp_CANARYweakTOKEN000000000000000000011", apptest.BobLogin); code == "" {
		t.Skip("this host cannot tell a token's scopes")
	}
	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	p := v.submit("/settings/tokens/"+id, url.Values{"csrf": {v.csrf()}, "token": {"ghp_CANARYweakTOKEN000000000000000000011"}})
	help := regexp.MustCompile(`<p class="hint">([^<]*scope[^<]*)</p>`).FindStringSubmatch(p.Body)
	if help == nil {
		t.Fatalf("no help text on the token's entry\n%s", p.Body)
	}
	if n := strings.Count(p.Body, help[1]); n != 1 {
		t.Errorf("the help text shows %d times, want once (not repeated in the refusal)", n)
	}
	if !strings.Contains(p.Body, "data-token-error") {
		t.Error("the refusal is not shown")
	}
}

func TestAuditNamesAFailedCreateRatherThanItsId(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	v.submit("/admin/integrations", url.Values{"csrf": {v.csrf()}, "kind": {"github-enterprise"}, "name": {"Broken"}, "base_url": {env.HostURL},
		"token": {"ghp_CANARYwrong0000000000000000000000000012"}, "projects_mode": {"all"}})
	body := v.get("/admin/audit").Body
	row := regexp.MustCompile(`(?s)<tr><td data-label="When">[^\n]*integration.create.*?</tr>`).FindString(body)
	if row == "" || !strings.Contains(row, "not created") {
		t.Errorf("the failed create's row does not say the integration was not created:\n%s", row)
	}
}

func TestAuditNamesARefusedAttemptsRepository(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(true, nil)
	// The repository list is read once (the picker does), so the cache
	// knows the name.
	env.Do("GET", "/api/v1/integrations/"+id+"/repositories", env.Bob, nil)
	if r := env.CreateBranch(env.Bob, id, "ABC-1-refused"); r.Status != http.StatusPreconditionRequired {
		t.Fatalf("creating a branch without the required token: %d, want 428", r.Status)
	}
	events := env.Do("GET", "/api/v1/audit?action=branch.create", env.Admin, nil).List()
	if len(events) == 0 || events[0]["repository"] == apptest.Repo {
		t.Fatalf("the refused attempt recorded %v; this test is about one recorded by repository id", events)
	}
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	body := v.get("/admin/audit").Body
	row := regexp.MustCompile(`(?s)<tr><td data-label="When">[^\n]*branch.create.*?</tr>`).FindString(body)
	if row == "" || !strings.Contains(row, apptest.Repo) {
		t.Errorf("the refused attempt's row does not name the repository %s:\n%s", apptest.Repo, row)
	}
}

// The audit log names people as they know each other, by display name,
// with the username at hand; a user deleted since keeps the username the
// row recorded.
func TestAuditShowsUsersByDisplayName(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	bob, err := env.DB.UserByUsername(ctx, relay.LocalTenant, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bob.DisplayName = "Bob Builder"
	if err := env.DB.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	id := env.Integration(false, nil)
	env.CreateBranch(env.Bob, id, "ABC-1-by-bob")
	env.CreateBranch(env.Carol, id, "ABC-1-by-carol")
	carol, err := env.DB.UserByUsername(ctx, relay.LocalTenant, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.DB.DeleteUser(ctx, relay.LocalTenant, carol.ID); err != nil {
		t.Fatal(err)
	}
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	body := v.get("/admin/audit?action=branch.create").Body
	rowOf := func(ref string) string {
		return regexp.MustCompile(`(?s)<tr><td data-label="When">(?:[^<]|<[^/]|</[^t]|</t[^r])*?` + regexp.QuoteMeta(ref) + `.*?</tr>`).FindString(body)
	}
	if row := rowOf("ABC-1-by-bob"); !strings.Contains(row, `<td data-label="User"><span title="bob">Bob Builder</span></td>`) {
		t.Errorf("bob's row does not show his display name with his username at hand:\n%s", row)
	}
	if row := rowOf("ABC-1-by-carol"); !strings.Contains(row, `<td data-label="User">carol</td>`) {
		t.Errorf("the deleted user's row does not keep her username:\n%s", row)
	}
}
