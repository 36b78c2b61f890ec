package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The issue page lists what the index found; the integration's page shows
// the index's progress and re-indexes on request.
func TestIndexOnTheIssueAndIntegrationPages(t *testing.T) {
	db := storetest.SQLite(t)
	env := apptest.New(t, db, apptest.Options{HostTimeout: 5 * time.Second, Index: true})
	ctx := context.Background()
	for user, pw := range map[string]string{"admin": adminPassword, "bob": bobPassword} {
		u, err := db.UserByUsername(ctx, relay.LocalTenant, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.Directory.SetPassword(ctx, relay.LocalTenant, u.ID, pw); err != nil {
			t.Fatal(err)
		}
	}
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
