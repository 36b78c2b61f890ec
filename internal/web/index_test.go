package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// The issue page lists what the index found; the integration's page shows
// the index's progress and re-indexes on request.
func TestIndexOnTheIssueAndIntegrationPages(t *testing.T) {
	env := newIndexEnv(t)
	ctx := context.Background()
	id := env.Integration(false, nil)
	if _, err := env.Git.Commit(apptest.Repo, "feature/ABC-1-login", hostsim.Change{Message: "ABC-1 Log in <fast>", AuthorName: "Dana"}); err != nil {
		t.Fatal(err)
	}
	if err := env.App.Indexer.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Indexer.PollDue(ctx); err != nil {
		t.Fatal(err)
	}

	bob := newVisitor(t, env)
	bob.signIn("bob", bobPassword)
	p := bob.get("/issues/ABC-1")
	for _, want := range []string{`id="commits"`, "ABC-1 Log in &lt;fast&gt;", "feature/ABC-1-login", "found in the repository"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the issue page lacks %q", want)
		}
	}

	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	p = admin.get("/admin/integrations/" + id)
	if !strings.Contains(p.Body, `id="index-indexed">1 of 1<`) || !strings.Contains(p.Body, `id="index-queued">0<`) {
		t.Errorf("the integration page does not show one repository indexed, none queued:\n%s", p.Body)
	}
	p = admin.post("/admin/integrations/"+id+"/index", url.Values{"csrf": {admin.csrf()}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("re-index: %d %s", p.Status, p.Body)
	}
	if p = admin.get(p.Location); !strings.Contains(p.Body, `id="index-queued">1<`) {
		t.Errorf("after re-index the page does not show the repository queued")
	}
}

// The integration's page shows administrators the webhook to copy into the
// host — URL and secret — and what it received; Rotate gives a new secret
// (POST, then the page again), after which deliveries signed with the old
// one are refused. The secret never reaches the log.
func TestTheIntegrationPageShowsTheWebhookToCopyAndRotatesItsSecret(t *testing.T) {
	env := newIndexEnv(t)
	ctx := context.Background()
	id := env.Integration(false, nil)
	if err := env.App.Indexer.Discover(ctx); err != nil {
		t.Fatal(err)
	}

	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	p := admin.get("/admin/integrations/" + id)
	secret := inputValue(p.Body, "webhook-secret")
	if !strings.Contains(p.Body, `id="webhook-url" type="text" readonly value="`+env.URL+`/hooks/`+id+`"`) || secret == "" {
		t.Fatalf("the integration page lacks the webhook URL and secret:\n%s", p.Body)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page with the webhook secret may be cached: Cache-Control %q", p.Header.Get("Cache-Control"))
	}
	env.Sim.AddHook(apptest.Repo, hostsim.Hook{URL: env.URL + "/hooks/" + id, Secret: secret, Format: hostsim.HookGitHub, Client: env.Client})
	env.Sim.AddBranch(apptest.Repo, "ABC-1-hooked", "")
	if p = admin.get("/admin/integrations/" + id); !strings.Contains(p.Body, `id="index-webhook">1 received, 0 refused; last `) {
		t.Errorf("the index section does not count the delivery:\n%s", p.Body)
	}

	p = admin.post("/admin/integrations/"+id+"/webhook/rotate", url.Values{"csrf": {admin.csrf()}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("rotate: %d %s", p.Status, p.Body)
	}
	p = admin.get(p.Location)
	if rotated := inputValue(p.Body, "webhook-secret"); rotated == "" || rotated == secret || !strings.Contains(p.Body, "new secret") {
		t.Errorf("after rotating, the page shows secret %q (was %q), want a new one and a notice", rotated, secret)
	}
	env.Sim.AddBranch(apptest.Repo, "ABC-1-old-secret", "")
	if p = admin.get("/admin/integrations/" + id); !strings.Contains(p.Body, `1 received, 1 refused`) {
		t.Errorf("a delivery signed with the old secret is not counted refused:\n%s", p.Body)
	}
	if strings.Contains(env.Logs.String(), secret) {
		t.Error("the webhook secret reached the log")
	}
}

// inputValue is the value of the input with the id.
func inputValue(body, id string) string {
	_, rest, ok := strings.Cut(body, `id="`+id+`"`)
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, `value="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
