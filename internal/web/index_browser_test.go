package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// While an integration's repositories are still being read, its page
// follows the index's progress without being reloaded.
func TestBrowserIndexProgressUpdatesLive(t *testing.T) {
	requireChromium(t)
	env := newIndexEnv(t)
	ctx := context.Background()
	id := env.Integration(false, nil)
	if _, err := env.Git.Commit(apptest.Repo, "feature/ABC-1-live", hostsim.Change{Message: "ABC-1 Shown while it is read"}); err != nil {
		t.Fatal(err)
	}
	// The repository is known and queued, not read yet.
	if err := env.App.Indexer.Discover(ctx); err != nil {
		t.Fatal(err)
	}

	b := newBrowserWith(t, env)
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations/" + id)
	if got := b.text("#index-indexed"); got != "0 of 1" {
		t.Fatalf("before the read the page shows %q indexed, want 0 of 1", got)
	}
	b.run("wait for the page to follow the index", chromedp.WaitVisible(chromedp.CSS(`#index[aria-busy="true"]`)))

	if _, err := env.App.Indexer.PollDue(ctx); err != nil {
		t.Fatal(err)
	}
	b.run("wait for the read to show", chromedp.WaitVisible(chromedp.CSS(`#index[aria-busy="false"]`)))
	if got := b.text("#index-indexed"); got != "1 of 1" {
		t.Errorf("after the read the page shows %q indexed, want 1 of 1", got)
	}
	if got := b.text("#index-queued"); got != "0" {
		t.Errorf("after the read the page shows %q queued, want 0", got)
	}
}
