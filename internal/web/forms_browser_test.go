package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
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
