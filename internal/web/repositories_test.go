package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// includedRepositories reads an integration's "repositories" through the
// API: nil for null (every repository).
func includedRepositories(t *testing.T, env *apptest.Env, id string) []string {
	t.Helper()
	r := env.Do("GET", "/api/v1/integrations/"+id, env.Admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("reading integration: %d %s", r.Status, r.Body)
	}
	v := r.JSON()["repositories"]
	if v == nil {
		return nil
	}
	out := []string{}
	for _, id := range v.([]any) {
		out = append(out, id.(string))
	}
	return out
}

// gadgetsEnv is newEnv with a second repository, acme/gadgets, and an
// integration including every repository. It returns the integration's id
// and acme/gadgets' id.
func gadgetsEnv(t *testing.T) (env *apptest.Env, id, gadgetsID string) {
	t.Helper()
	env = newEnv(t)
	env.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Private: true, Writers: []string{apptest.BotLogin, apptest.BobLogin}})
	id = env.Integration(false, nil)
	l := env.Do("GET", "/api/v1/integrations/"+id+"/repositories?q=gadgets", env.Admin, nil).List()
	if len(l) != 1 {
		t.Fatalf("repositories matching gadgets: %v", l)
	}
	return env, id, l[0]["id"].(string)
}

func TestChoosingRepositoriesInIntegrationSettings(t *testing.T) {
	env, id, gadgetsID := gadgetsEnv(t)
	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	csrf := admin.csrf()
	path := "/admin/integrations/" + id
	// form is the settings form as the page sends it, plus extra fields.
	form := func(extra url.Values) url.Values {
		f := url.Values{"csrf": {csrf}, "name": {"GHE"}, "enabled": {"on"}, "projects_mode": {"all"}}
		for k, vs := range extra {
			f[k] = vs
		}
		return f
	}

	t.Run("the list says all, and the settings page offers the choice", func(t *testing.T) {
		if p := admin.get("/admin/integrations"); !strings.Contains(p.Body, `data-included="all"`) {
			t.Fatalf("the integrations table does not say all repositories\n%s", p.Body)
		}
		p := admin.get(path)
		for _, want := range []string{`name="repos_mode" value="all" checked`, "All repositories the integration account can see", "Only these repositories"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the settings page lacks %q", want)
			}
		}
	})

	t.Run("searching shows matching repositories with Add, and saves nothing", func(t *testing.T) {
		p := admin.submit(path, form(url.Values{"repos_mode": {"only"}, "repo_q": {"GADG"}, "op": {"search_repositories"}}))
		if p.Status != http.StatusOK {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		if !strings.Contains(p.Body, `name="add_repository" value="`+gadgetsID+`"`) {
			t.Errorf("the results offer no Add for acme/gadgets\n%s", p.Body)
		}
		if strings.Contains(p.Body, `name="add_repository" value="`+env.RepoID+`"`) {
			t.Error("the results offer acme/widgets, which does not match GADG")
		}
		if got := includedRepositories(t, env, id); got != nil {
			t.Fatalf("a search saved repositories %q", got)
		}
	})

	t.Run("Add puts the repository in the chosen list, still unsaved", func(t *testing.T) {
		p := admin.submit(path, form(url.Values{"repos_mode": {"all"}, "repo_q": {"gadg"}, "add_repository": {gadgetsID}}))
		if p.Status != http.StatusOK {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		chosen := `<input type="hidden" name="repository" value="` + gadgetsID + `">`
		if !strings.Contains(p.Body, chosen) || !strings.Contains(p.Body, `name="remove_repository" value="`+gadgetsID+`"`) {
			t.Fatalf("acme/gadgets is not in the chosen list with a Remove button\n%s", p.Body)
		}
		if !strings.Contains(p.Body, `name="repos_mode" value="only" checked`) {
			t.Error("adding a repository did not switch to Only these repositories")
		}
		if got := includedRepositories(t, env, id); got != nil {
			t.Fatalf("Add saved repositories %q", got)
		}
	})

	t.Run("Update saves the chosen repositories", func(t *testing.T) {
		p := admin.post(path, form(url.Values{"repos_mode": {"only"}, "repository": {gadgetsID}}))
		if p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		if got, want := includedRepositories(t, env, id), []string{gadgetsID}; !slices.Equal(got, want) {
			t.Fatalf("repositories = %q, want %q", got, want)
		}
		if p := admin.get("/admin/integrations"); !strings.Contains(p.Body, `data-included="1"`) {
			t.Error("the integrations table does not count 1 repository")
		}
		page := admin.get(path)
		if !strings.Contains(page.Body, "acme/gadgets") || !strings.Contains(page.Body, `name="remove_repository" value="`+gadgetsID+`"`) {
			t.Fatalf("the settings page does not list the chosen repository by name\n%s", page.Body)
		}
		if l := env.Do("GET", "/api/v1/integrations/"+id+"/repositories", env.Bob, nil).List(); len(l) != 1 || l[0]["full_name"] != "acme/gadgets" {
			t.Fatalf("bob lists %v, want only acme/gadgets", l)
		}
	})

	t.Run("a settings form without the repositories part keeps them", func(t *testing.T) {
		if p := admin.post(path, form(nil)); p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		if got, want := includedRepositories(t, env, id), []string{gadgetsID}; !slices.Equal(got, want) {
			t.Fatalf("repositories = %q, want %q", got, want)
		}
	})

	t.Run("Remove takes the repository off the chosen list", func(t *testing.T) {
		p := admin.submit(path, form(url.Values{"repos_mode": {"only"}, "repository": {gadgetsID}, "remove_repository": {gadgetsID}}))
		if p.Status != http.StatusOK || strings.Contains(p.Body, `name="repository" value="`+gadgetsID+`"`) {
			t.Fatalf("got %d with acme/gadgets still chosen\n%s", p.Status, p.Body)
		}
		if !strings.Contains(p.Body, `id="no-chosen-repositories"`) {
			t.Error("the page does not say that no repository is chosen")
		}
	})

	t.Run("All repositories includes every one again", func(t *testing.T) {
		if p := admin.post(path, form(url.Values{"repos_mode": {"all"}, "repository": {gadgetsID}})); p.Status != http.StatusSeeOther {
			t.Fatalf("got %d\n%s", p.Status, p.Body)
		}
		if got := includedRepositories(t, env, id); got != nil {
			t.Fatalf("repositories = %q, want null", got)
		}
	})

	t.Run("a user who is not an administrator cannot choose", func(t *testing.T) {
		bob := newVisitor(t, env)
		bob.signIn("bob", bobPassword)
		p := bob.post(path, url.Values{"csrf": {bob.csrf()}, "name": {"GHE"}, "enabled": {"on"}, "projects_mode": {"all"},
			"repos_mode": {"only"}, "repository": {gadgetsID}})
		if p.Status != http.StatusForbidden {
			t.Fatalf("got %d, want 403", p.Status)
		}
		if got := includedRepositories(t, env, id); got != nil {
			t.Fatalf("bob changed repositories to %q", got)
		}
	})

	if strings.Contains(admin.seen.String(), apptest.BotToken) {
		t.Fatal("a page showed the integration credential")
	}
}

func TestAddIntegrationWithChosenRepositoriesOpensThePicker(t *testing.T) {
	env := newEnv(t)
	v := newVisitor(t, env)
	v.signIn("admin", adminPassword)
	if p := v.get("/admin/integrations/new"); !strings.Contains(p.Body, "Only these repositories") {
		t.Fatal("Add integration does not offer Only these repositories")
	}
	p := v.post("/admin/integrations", url.Values{"csrf": {v.csrf()}, "kind": {"github-enterprise"}, "name": {"Chosen GHE"},
		"base_url": {env.HostURL}, "token": {apptest.BotToken}, "projects_mode": {"all"}, "repos_mode": {"only"}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location, "#repositories") {
		t.Fatalf("got %d to %q, want a redirect to the settings page's repositories", p.Status, p.Location)
	}
	list := env.Do("GET", "/api/v1/integrations", env.Admin, nil).List()
	if len(list) != 1 {
		t.Fatalf("got %d integrations, want 1", len(list))
	}
	if got, ok := list[0]["repositories"].([]any); !ok || len(got) != 0 {
		t.Fatalf("repositories = %#v, want an empty list (none until chosen), not all", list[0]["repositories"])
	}
	page := v.get(strings.TrimSuffix(p.Location, "#repositories"))
	if !strings.Contains(page.Body, "It includes no repository yet") || !strings.Contains(page.Body, `id="repo_q"`) {
		t.Fatalf("the settings page does not invite choosing repositories\n%s", page.Body)
	}
	if strings.Contains(v.seen.String(), apptest.BotToken) {
		t.Fatal("a page showed the integration credential")
	}
}

func TestBrowserChoosesRepositoriesForAnIntegration(t *testing.T) {
	requireChromium(t)
	env, id, gadgetsID := gadgetsEnv(t)
	b := newBrowserWith(t, env)
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations/" + id)
	if b.exists("[data-for-repos-mode=only]:not([hidden])") {
		t.Fatal("the picker shows while All repositories is chosen")
	}
	b.run("choose Only these repositories and search with Enter",
		chromedp.Click(chromedp.CSS("input[name=repos_mode][value=only]")),
		chromedp.WaitVisible(chromedp.CSS("#repo_q")),
		typeInto("#repo_q", "gadg"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#repository-results")),
	)
	if got := includedRepositories(t, env, id); got != nil {
		t.Fatalf("Enter in the search saved repositories %q", got)
	}
	b.run("add acme/gadgets",
		pressButton("#repository-results button[name=add_repository]"),
		chromedp.WaitVisible(chromedp.CSS("#chosen-repositories")),
	)
	if got := b.text("#chosen-repositories"); !strings.Contains(got, "acme/gadgets") {
		t.Fatalf("chosen list = %q, want acme/gadgets", got)
	}
	b.screenshot("integration-repositories")
	b.run("Update", chromedp.Click(chromedp.CSS("form button.primary")))
	// The page after Update looks like the one before (both carry a
	// notice): wait for the saved result instead.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, want := includedRepositories(t, env, id), []string{gadgetsID}
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Update, repositories = %q, want %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.open("/admin/integrations")
	if got := b.text("#integration-" + id + " td[data-included]"); got != "1" {
		t.Errorf("the Repositories column says %q, want 1", got)
	}
	if strings.Contains(b.pages.String(), apptest.BotToken) {
		t.Fatal("a page showed the integration credential")
	}
}
