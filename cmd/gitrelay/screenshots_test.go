package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestScreenshots walks the demo (`gitrelay serve --demo`, as a process) in
// headless Chromium through the Require User PAT journey as the reference
// product shows it, and saves a screenshot of each step into
// GITRELAY_SCREENSHOTS. It runs only when that is set: scripts/screenshots
// sets it to docs/screenshots, so the documentation's pictures are made by
// a command, never by hand.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("GITRELAY_SCREENSHOTS")
	if dir == "" {
		t.Skip("GITRELAY_SCREENSHOTS is not set (scripts/screenshots sets it)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := serve(t, baseEnv(), "--demo")
	out := p.stdout.String()
	password := func(user string) string {
		m := regexp.MustCompile(user + `\s.*password: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("the demo did not print %s's password:\n%s", user, out)
		}
		return m[1]
	}
	alice, bob := password("alice"), password("bob")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Start the browser on the long-lived context: one started by a
	// step's timeout context would end with the step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		for i, a := range actions {
			if err := chromedp.Do(sctx, a); err != nil {
				text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
				t.Fatalf("%s (step %d): %v\npage:\n%s", what, i+1, err, text)
			}
		}
	}
	shot := func(name string) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
		defer scancel()
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			png, err = chromedp.Run(sctx, chromedp.CaptureScreenshot())
		}
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func(path string) {
		t.Helper()
		step("open "+path, chromedp.Navigate(p.url+path), chromedp.WaitReady(chromedp.CSS("body")))
	}
	click := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))(ctx, tg)
			return err
		})
	}
	signIn := func(user, pw string) {
		t.Helper()
		open("/login")
		step("sign in as "+user, chromedp.SetValue(chromedp.CSS("#username"), user), chromedp.SetValue(chromedp.CSS("#password"), pw),
			click("form button[type=submit]"), chromedp.WaitVisible(chromedp.CSS("header nav")))
	}
	signOut := func() {
		t.Helper()
		step("sign out", click(".who button"), chromedp.WaitVisible(chromedp.CSS("#username")))
	}

	// 1. The administrator: Manage Git repositories → Actions → Edit
	// integration settings → Require User PAT → Update.
	signIn("alice", alice)
	shot("demo-home")
	open("/admin/integrations")
	shot("integrations")
	step("Actions → Edit integration settings",
		click("table.grid tbody tr:first-child details.menu summary"),
		chromedp.WaitVisible(chromedp.CSS("table.grid tbody tr:first-child .menu-items")))
	shot("integration-actions")
	step("edit", click("table.grid tbody tr:first-child .menu-items a"), chromedp.WaitVisible(chromedp.CSS("#require_user_pat")))
	step("tick Require User PAT and Update", click("#require_user_pat"), click("form button.primary"),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	shot("integration-settings")
	open("/admin/integrations/new")
	shot("add-integration")
	open("/admin/settings")
	shot("general-settings")
	signOut()

	// 2. The user: setup required → User settings → New token → save →
	// back to the issue → the branch is created with their own token.
	signIn("bob", bob)
	open("/issues/DEMO-1?summary=Fix+login+timeout&type=Bug")
	step("open Create branch", click("button[data-open=create-branch]"), chromedp.WaitVisible(chromedp.CSS("#create-branch")))
	chooseRepo := func() {
		t.Helper()
		step("choose a repository", chromedp.Focus(chromedp.CSS("#cb-repo")), chromedp.KeyEvent("widg"),
			chromedp.WaitVisible(chromedp.CSS("#create-branch [role=option]")), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter),
			chromedp.WaitNotVisible(chromedp.CSS("#create-branch [role=listbox]")))
	}
	chooseRepo()
	shot("create-branch-dialog")
	step("Create", click("#create-branch button.primary"), chromedp.WaitVisible(chromedp.CSS("#action-error")))
	shot("setup-required")
	step("set up the token", click("#setup-link"), chromedp.WaitVisible(chromedp.CSS(".card.selected")))
	shot("tokens-setup")
	weak := regexp.MustCompile(`read-only \(to see a refused token\): (\S+)`).FindStringSubmatch(out)
	token := regexp.MustCompile(`GitHub Enterprise  (ghp_\S+)`).FindStringSubmatch(out)
	if weak == nil || token == nil {
		t.Fatalf("the demo did not print bob's tokens:\n%s", out)
	}
	step("save a read-only token", chromedp.Focus(chromedp.CSS(".card.selected input[name=token]")), chromedp.KeyEvent(weak[1]),
		click(".card.selected form button.primary"), chromedp.WaitVisible(chromedp.CSS("[data-token-error]")))
	shot("token-refused")
	step("save bob's token", chromedp.Focus(chromedp.CSS(".card.selected input[name=token]")), chromedp.KeyEvent(token[1]),
		click(".card.selected form button.primary"), chromedp.WaitVisible(chromedp.CSS("#return-link")))
	shot("tokens-saved")
	step("back to the issue", click("#return-link"), chromedp.WaitVisible(chromedp.CSS("#development")))
	step("open Create branch again", click("button[data-open=create-branch]"), chromedp.WaitVisible(chromedp.CSS("#create-branch")))
	chooseRepo()
	step("create the branch", click("#create-branch button.primary"), chromedp.WaitVisible(chromedp.CSS("#branches li a")))
	shot("issue-with-branch")
	signOut()

	// 3. The administrator reads who acted.
	signIn("alice", alice)
	open("/admin/audit")
	shot("audit")
	if strings.Contains(out, "panic") {
		t.Fatal("the demo panicked")
	}
}
