package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
)

// choose sets a select's value as a user does, with the change event the
// page's script listens for.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	get(b, "choose "+value+" in "+sel, chromedp.Evaluate[bool](fmt.Sprintf(
		`(function(){var s=document.querySelector(%q); s.value=%q; s.dispatchEvent(new Event("change",{bubbles:true})); return true})()`, sel, value)))
}

func (b *browser) visible(sel string) bool {
	b.t.Helper()
	return get(b, "is "+sel+" visible", chromedp.Evaluate[bool](fmt.Sprintf(
		`(function(){var e=document.querySelector(%q); return !!e && e.offsetParent !== null})()`, sel)))
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	return get(b, "value of "+sel, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, sel)))
}

func TestBrowserAddIntegrationTFSWarnsAndComesBackAsSent(t *testing.T) {
	b := newBrowser(t)
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations/new")
	b.choose("#kind", "tfs")
	b.choose("#opt-tfs-server_version", "2015")
	if !b.visible("#cred-tfs-username") || !b.visible("#cred-tfs-password") || b.visible("#cred-tfs-token") {
		t.Fatal("TFS 2015 does not ask for a username and password instead of a token")
	}
	warning := `[data-no-pat-warning="tfs"]`
	if b.visible(warning) {
		t.Fatal("the no-PAT warning shows before Require User PAT is ticked")
	}
	b.run("tick Require User PAT", chromedp.Click(chromedp.CSS("#require_user_pat")))
	if !b.visible(warning) {
		t.Fatal("ticking Require User PAT for TFS 2015 does not warn before saving")
	}
	b.choose("#opt-tfs-server_version", "2022")
	if b.visible(warning) || !b.visible("#cred-tfs-token") {
		t.Fatal("TFS 2022 still warns, or does not ask for a token")
	}
	b.choose("#opt-tfs-server_version", "2015")
	b.run("fill and save",
		chromedp.SetValue(chromedp.CSS("#name"), "Old TFS"),
		chromedp.SetValue(chromedp.CSS("#base_url"), "http://127.0.0.1:1"),
		chromedp.SetValue(chromedp.CSS("#opt-tfs-suffix"), "/custom"),
		chromedp.SetValue(chromedp.CSS("#opt-tfs-collection"), "Coll2"),
		chromedp.SetValue(chromedp.CSS("#cred-tfs-username"), "builder"),
		chromedp.SetValue(chromedp.CSS("#cred-tfs-password"), "pw-CANARY-browser-0001"),
		chromedp.Click(chromedp.CSS("form[data-kind-form] button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".alert[role=alert]")),
	)
	for sel, want := range map[string]string{"#kind": "tfs", "#opt-tfs-server_version": "2015", "#opt-tfs-suffix": "/custom",
		"#opt-tfs-collection": "Coll2", "#cred-tfs-username": "builder", "#cred-tfs-password": "", "#name": "Old TFS"} {
		if got := b.value(sel); got != want {
			t.Errorf("after the refusal %s = %q, want %q", sel, got, want)
		}
	}
	if !b.visible(warning) || !b.visible("[data-resend]") {
		t.Error("after the refusal the warning or the note to type the password again is missing")
	}
}

// A refused pull request leaves the browser on the issue's own address
// with the error and everything typed kept in the dialog; a reload shows
// the issue as it is, without asking to send the form again.
func TestBrowserRefusedActionKeepsInputAndAnAddressThatReloads(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(true, nil)
	b.signIn("bob", bobPassword)
	b.open("/issues/ABC-1?summary=Fix+login")
	b.run("open Create pull request", chromedp.Click(chromedp.CSS("button[data-open=create-pr]")),
		chromedp.WaitVisible(chromedp.CSS("#create-pr")))
	if !b.visible(`#create-pr [data-setup-needed="` + id + `"]`) {
		t.Error("the dialog does not say setup is required before it is filled in")
	}
	b.chooseRepository("#create-pr", "#pr-repo", "widg")
	b.run("fill the dialog and create",
		chromedp.SetValue(chromedp.CSS("#pr-source"), "ABC-1-feature"),
		chromedp.SetValue(chromedp.CSS("#pr-description"), "Typed with care"),
		chromedp.Click(chromedp.CSS("#pr-draft")),
		pressButton("#create-pr button.primary"),
		chromedp.WaitVisible(chromedp.CSS("#action-error")),
	)
	loc := get(b, "read location", chromedp.Location())
	if !strings.Contains(loc, "/issues/ABC-1?summary=Fix+login") || strings.Contains(loc, "pull-requests") {
		t.Errorf("after the refusal the address is %s, want the issue's own", loc)
	}
	if !strings.Contains(b.text("#action-error"), "Setup required") {
		t.Errorf("the error = %q, want setup required", b.text("#action-error"))
	}
	b.run("reopen the dialog", chromedp.Click(chromedp.CSS("button[data-open=create-pr]")),
		chromedp.WaitVisible(chromedp.CSS("#create-pr")))
	for sel, want := range map[string]string{"#pr-repo": apptest.Repo, "#pr-source": "ABC-1-feature", "#pr-description": "Typed with care"} {
		if got := b.value(sel); got != want {
			t.Errorf("reopened dialog %s = %q, want %q", sel, got, want)
		}
	}
	if !get(b, "draft ticked", chromedp.Evaluate[bool](`document.querySelector("#pr-draft").checked`)) {
		t.Error("Draft is no longer ticked")
	}
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#development")))
	if b.exists("#action-error") {
		t.Error("the error shows again after a reload")
	}
	if get(b, "read location", chromedp.Location()) != loc {
		t.Error("the reload changed the address")
	}
}

// overflow is how many pixels the current page is wider than the window
// (0 when nothing scrolls sideways).
func (b *browser) overflow() int {
	b.t.Helper()
	return get(b, "measure width", chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
}

// Every page fits a 390 px phone and a 1280 px screen without scrolling
// sideways, even with long values (a refused 307-character branch name in
// the audit log, a long branch on the issue).
func TestBrowserEveryPageFitsWithoutScrollingSideways(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(false, nil)
	long := "ABC-1-" + strings.Repeat("x", 301)
	b.env.CreateBranch(b.env.Bob, id, long)
	if r := b.env.CreateBranch(b.env.Bob, id, "ABC-1-a-rather-long-branch-name-that-goes-on-and-on-and-on-without-a-break"); r.Status != 201 {
		t.Fatalf("creating a branch: %d %s", r.Status, r.Body)
	}
	pages := []string{"/", "/issues/ABC-1", "/settings/tokens", "/settings/api-tokens", "/settings/password", "/admin/integrations",
		"/admin/integrations/new", "/admin/integrations/" + id, "/admin/integrations/" + id + "/delete", "/admin/settings",
		"/admin/audit", "/admin/directory", "/issues/ABC-1/branches/delete?integration_id=" + id + "&repository_id=" + b.env.RepoID + "&name=" + long}
	for _, width := range []int64{390, 1280} {
		b.run(fmt.Sprint("resize to ", width), chromedp.EmulateViewport(width, 844))
		b.open("/login")
		if n := b.overflow(); n > 0 {
			t.Errorf("/login at %d px scrolls sideways by %d px", width, n)
		}
		b.signIn("admin", adminPassword)
		for _, path := range pages {
			b.open(path)
			if n := b.overflow(); n > 0 {
				t.Errorf("%s at %d px scrolls sideways by %d px", strings.SplitN(path, "?", 2)[0], width, n)
			}
		}
		if width == 390 {
			b.open("/admin/integrations")
			if !b.visible(".who button") {
				t.Error("Sign out is off-screen at 390 px")
			}
		}
		b.signOut()
	}
}
