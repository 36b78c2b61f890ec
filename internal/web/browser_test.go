package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Browser tests drive Debian's Chromium headless through the pages, as a
// user would. They skip when Chromium is missing, unless
// GITRELAY_TEST_REQUIRE_BROWSER=1 (scripts/test sets it) makes that a
// failure. GITRELAY_SCREENSHOTS=DIR keeps the screenshots of key screens
// there (docs/screenshots holds the ones the documentation uses).

const (
	chromiumPath = "/usr/bin/chromium"
	// Passwords of the harness users in these tests.
	adminPassword = "admin-password-CANARY-0001"
	bobPassword   = "bob-password-CANARY-0002"
	carolPassword = "carol-password-CANARY-0003"
	weakToken     = "ghp_CANARYweakTOKEN000000000000000000004"
)

type browser struct {
	t   *testing.T
	env *apptest.Env
	ctx context.Context
	// shots is where screenshots go.
	shots string
	// pages is every page's HTML seen, to prove no secret was shown.
	pages strings.Builder
}

func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatalf("GITRELAY_TEST_REQUIRE_BROWSER=1 but %s is missing: run scripts/ensure-chromium", chromiumPath)
		}
		t.Skipf("%s is missing (scripts/ensure-chromium installs it)", chromiumPath)
	}
}

// newBrowser boots gitrelay on SQLite with the harness users, gives them
// passwords, and starts a fresh headless Chromium.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	requireChromium(t)
	return newBrowserWith(t, newEnv(t))
}

// newBrowserWith starts Chromium against env.
func newBrowserWith(t *testing.T, env *apptest.Env) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	shots := os.Getenv("GITRELAY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, env: env, ctx: bctx, shots: shots}
}

// run runs browser actions with a time limit, failing the test with the
// page's text when they fail.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// Each step runs on its own so that a step after a navigation queries
	// the new document.
	for i, step := range steps {
		if err := chromedp.Do(ctx, step); err != nil {
			b.fail(fmt.Sprintf("%s (step %d)", what, i+1), err)
		}
	}
	b.capture()
}

// get runs one browser action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	tctx, tcancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer tcancel()
	text, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
	b.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
}

// capture keeps the current page's HTML for the secrets check.
func (b *browser) capture() {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		b.pages.WriteString(html)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.env.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.open("/login")
	b.run("sign in as "+user,
		chromedp.SetValue(chromedp.CSS("#username"), user),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("header nav")),
	)
}

func (b *browser) signOut() {
	b.t.Helper()
	b.run("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#username")))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	// The whole page where Chromium can measure it; the viewport otherwise
	// (it cannot while a modal dialog is open).
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		png = get(b, "screenshot "+name, chromedp.CaptureScreenshot())
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return get(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel))) > 0
}

// unlabelledControls lists form controls of the current page that no label
// names, by id or name.
func (b *browser) unlabelledControls() []string {
	b.t.Helper()
	return get(b, "check labels", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input, select, textarea"))
		.filter(el => el.type !== "hidden" && !el.hidden)
		.filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
		.map(el => el.id || el.name)`))
}

// typeInto focuses a field and types text, as a user does. (chromedp's
// SendKeys reads the node's attributes while the page's script changes
// them, which the race detector reports inside chromedp.)
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(text))
}

// pressButton activates a button as a click does, without waiting for
// the mouse events' answer, which a navigation away may never send.
func pressButton(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))(ctx, t)
		return err
	})
}

// chooseRepository types in the dialog's repository search and picks the
// first match with the keyboard.
func (b *browser) chooseRepository(dialog, input, query string) {
	b.t.Helper()
	b.run("choose repository "+query,
		typeInto(input, query),
		chromedp.WaitVisible(chromedp.CSS(dialog+" [role=option]")),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotVisible(chromedp.CSS(dialog+" [role=listbox]")),
	)
}

func (b *browser) createBranchDialog(summaryCheck bool) {
	b.t.Helper()
	b.run("open Create branch", chromedp.Click(chromedp.CSS("button[data-open=create-branch]")),
		chromedp.WaitVisible(chromedp.CSS("#create-branch")))
	b.chooseRepository("#create-branch", "#cb-repo", "widg")
}

func TestBrowserRequireUserPATJourney(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(false, nil)

	// The administrator ticks Require User PAT and clicks Update.
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations")
	b.screenshot("integrations")
	b.run("open the Actions menu and edit",
		chromedp.Click(chromedp.CSS("#integration-"+id+" details.menu summary")),
		chromedp.Click(chromedp.CSS("#integration-"+id+" .menu-items a")),
		chromedp.WaitVisible(chromedp.CSS("#require_user_pat")),
	)
	b.run("tick Require User PAT and Update",
		chromedp.Click(chromedp.CSS("#require_user_pat")),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	b.screenshot("integration-settings")
	if got := b.env.Do("GET", "/api/v1/integrations/"+id, b.env.Admin, nil).JSON()["require_user_pat"]; got != true {
		t.Fatalf("after Update, require_user_pat = %v, want true", got)
	}
	b.signOut()

	// Bob opens the issue and tries to create a branch: setup required.
	b.signIn("bob", bobPassword)
	b.open("/issues/ABC-1?summary=Fix+login+timeout&type=Bug")
	if got := b.text("#cb-name-status"); !strings.Contains(got, "Valid") && got != "" {
		t.Errorf("pre-filled branch name is flagged: %q", got)
	}
	b.createBranchDialog(true)
	b.screenshot("create-branch-dialog")
	b.run("click Create", pressButton("#create-branch button.primary"),
		chromedp.WaitVisible(chromedp.CSS("#action-error")))
	b.screenshot("setup-required")
	msg := b.text("#action-error")
	if !strings.Contains(msg, "Setup required") || !strings.Contains(msg, "GHE") {
		t.Errorf("setup required message = %q, want it to say setup required and name the integration GHE", msg)
	}
	if n := len(b.env.Sim.Branches(apptest.Repo)); n != 1 {
		t.Fatalf("the host has %d branches after a refused creation, want only the default one", n)
	}

	// The link leads to User settings at that integration.
	b.run("follow the setup link", chromedp.Click(chromedp.CSS("#setup-link")),
		chromedp.WaitVisible(chromedp.CSS("#integration-"+id+".selected")))
	loc := get(b, "read location", chromedp.Location())
	if !strings.Contains(loc, "/settings/tokens?") || !strings.Contains(loc, "return_to=%2Fissues%2FABC-1%3Fsummary%3DFix%2Blogin%2Btimeout") || !strings.HasSuffix(loc, "#integration-"+id) {
		t.Errorf("setup link led to %s, want User settings at the integration with a way back to ABC-1", loc)
	}
	b.screenshot("tokens-setup")
	b.run("enter the PAT and save",
		typeInto("#token-"+id, apptest.BobToken),
		chromedp.Click(chromedp.CSS("#integration-"+id+" form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#return-link")),
	)
	if got := b.text("#integration-" + id + " [data-status]"); !strings.Contains(got, "Valid as "+apptest.BobLogin) {
		t.Errorf("token status after saving = %q, want valid as %s", got, apptest.BobLogin)
	}
	b.screenshot("tokens-saved")

	// Back to the issue; this time the branch is created with bob's token.
	b.run("return to the issue", chromedp.Click(chromedp.CSS("#return-link")),
		chromedp.WaitVisible(chromedp.CSS("#development")))
	b.createBranchDialog(false)
	name := get(b, "read the branch name", chromedp.Value(chromedp.CSS("#cb-name")))
	b.run("create the branch", pressButton("#create-branch button.primary"),
		chromedp.WaitVisible(chromedp.CSS("#branches li a")))
	b.screenshot("issue-with-branch")
	href := get(b, "read the branch link", chromedp.AttributeValue(chromedp.CSS("#branches li a"), "href")).Value
	if want := b.env.Fixture.BranchURLContains(name); !strings.HasPrefix(href, b.env.HostURL) || !strings.Contains(href, want) {
		t.Errorf("branch link = %q, want a link on the host containing %q", href, want)
	}
	var created *hostsim.Write
	for _, w := range b.env.Sim.Writes() {
		if w.Op == hostsim.OpCreateBranch && w.Ref == name {
			created = &w
		}
	}
	if created == nil {
		t.Fatalf("the simulator saw no creation of %s: %+v", name, b.env.Sim.Writes())
	}
	if created.Login != apptest.BobLogin || created.Token != hostsim.Fingerprint(apptest.BobToken) {
		t.Errorf("branch created as %s with token %s, want bob's own token (%s)", created.Login, created.Token, hostsim.Fingerprint(apptest.BobToken))
	}

	// The administrator sees who acted, and as which git account.
	b.signOut()
	b.signIn("admin", adminPassword)
	b.open("/admin/audit")
	b.screenshot("audit")
	if got := b.text("#audit tbody tr:first-child"); !strings.Contains(got, "branch.create") || !strings.Contains(got, "own token as "+apptest.BobLogin) {
		t.Errorf("newest audit row = %q, want bob's branch creation with his own token", got)
	}
	b.noSecrets(apptest.BobToken, apptest.BotToken, adminPassword, bobPassword)
}

func TestBrowserRefusedTokenShowsReason(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(true, nil)
	code := b.env.Fixture.WeakToken(b.env.Sim, weakToken, apptest.BobLogin)
	b.signIn("bob", bobPassword)
	b.open("/settings/tokens?integration=" + id)
	b.run("save a token without the needed scope",
		typeInto("#token-"+id, weakToken),
		chromedp.Click(chromedp.CSS("#integration-"+id+" form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#integration-"+id+" [data-token-error]")),
	)
	b.screenshot("token-refused")
	got := b.text("#integration-" + id + " [data-token-error]")
	if code == relay.ETokenInsufficientScope && !strings.Contains(got, "lacks the") {
		t.Errorf("refusal = %q, want it to name the missing scope", got)
	}
	if got := b.text("#integration-" + id + " [data-status]"); !strings.Contains(got, "Not set") {
		t.Errorf("after a refused token the status is %q, want still not set", got)
	}
	b.noSecrets(weakToken, apptest.BotToken, bobPassword)
}

func TestBrowserNoPanelWithoutViewDevelopmentTools(t *testing.T) {
	b := newBrowser(t)
	b.env.Integration(false, nil)
	b.signIn("carol", carolPassword)
	b.open("/issues/ABC-1")
	if b.exists("#development") || b.exists("#create-branch") {
		t.Error("carol, without View Development Tools on ABC, sees the development panel")
	}
	if got := b.text("#no-panel"); !strings.Contains(got, "View Development Tools") {
		t.Errorf("message = %q, want it to name the missing permission", got)
	}
}

func TestBrowserCreateBranchWithKeyboardOnly(t *testing.T) {
	b := newBrowser(t)
	b.env.Integration(false, nil)
	b.signIn("bob", bobPassword)
	b.open("/issues/ABC-7?summary=Keyboard+only&type=Story")

	// Escape closes the open repository list first, then the dialog,
	// without creating anything.
	b.run("open with Enter, close with Escape",
		chromedp.Focus(chromedp.CSS("button[data-open=create-branch]")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#create-branch [role=option]")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS("#create-branch [role=listbox]")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS("#create-branch")),
	)
	b.run("open with Enter again",
		chromedp.Focus(chromedp.CSS("button[data-open=create-branch]")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#create-branch")),
	)
	focused := get(b, "read focus", chromedp.Evaluate[string](`document.activeElement.id`))
	if focused != "cb-repo" {
		t.Fatalf("opening the dialog focused %q, want the repository search", focused)
	}
	b.run("search, pick with arrows and Enter",
		chromedp.KeyEvent("widg"),
		chromedp.WaitVisible(chromedp.CSS("#create-branch [role=option]")),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.KeyEvent(kb.Enter),
	)
	// As a user reads the choice before moving on.
	get(b, "wait for the choice", chromedp.Poll[bool](`document.querySelector("#create-branch [name=repository_id]").value !== ""`,
		chromedp.WithPollingTimeout(5*time.Second)))
	b.run("tab to the branch name",
		chromedp.KeyEvent(kb.Tab), // make default
		chromedp.KeyEvent(kb.Tab), // base branch
		chromedp.KeyEvent(kb.Tab), // branch name
	)
	focused = get(b, "read focus", chromedp.Evaluate[string](`document.activeElement.id || document.activeElement.outerHTML.slice(0, 200)`))
	if focused != "cb-name" {
		t.Fatalf("after three Tabs the focus is on %q, want the branch name", focused)
	}
	b.run("submit with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#branches li a")))
	if got := b.text("#branches li a"); !strings.HasPrefix(got, "ABC-7") {
		t.Errorf("listed branch = %q, want the templated name starting with ABC-7", got)
	}
}

// Leaving the repository search and coming back at once (closing the
// dialog and opening it again quickly) keeps the list the return opens: the
// close the leaving scheduled is called off.
func TestBrowserRepositoryListSurvivesAQuickReturn(t *testing.T) {
	b := newBrowser(t)
	b.env.Integration(false, nil)
	b.signIn("bob", bobPassword)
	b.open("/issues/ABC-7?summary=Quick+return&type=Story")
	b.run("open the dialog",
		chromedp.Focus(chromedp.CSS("button[data-open=create-branch]")),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#create-branch [role=option]")),
	)
	get(b, "leave and come back", chromedp.Evaluate[bool](`(() => { const i = document.getElementById("cb-repo"); i.blur(); i.focus();
			window.returnedAt = performance.now(); return true; })()`))
	b.run("the list again", chromedp.WaitVisible(chromedp.CSS("#create-branch [role=option]")))
	// Read once the page's own clock is well past the close a blur
	// schedules (150 ms).
	got := get(b, "the list after the return", chromedp.Poll[string](`performance.now() - window.returnedAt < 400 ? "" :
		(document.querySelector("#create-branch [role=listbox]").hidden ? "hidden" : "shown")`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if got != "shown" {
		t.Errorf("the repository list is %s after leaving the search and coming back at once, want it shown", got)
	}
}

func TestBrowserEveryFormHasLabels(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(false, nil)
	b.open("/login")
	if bad := b.unlabelledControls(); len(bad) > 0 {
		t.Errorf("/login: controls without a label: %v", bad)
	}
	b.signIn("admin", adminPassword)
	for _, path := range []string{"/", "/issues/ABC-1", "/settings/tokens", "/settings/password", "/admin/integrations",
		"/admin/integrations/new", "/admin/integrations/" + id, "/admin/settings", "/admin/audit", "/admin/directory"} {
		b.open(path)
		if path == "/admin/integrations/new" {
			b.screenshot("add-integration")
		}
		if path == "/admin/settings" {
			b.screenshot("general-settings")
		}
		// Dialogs are part of the page even when closed.
		if bad := b.unlabelledControls(); len(bad) > 0 {
			t.Errorf("%s: controls without a label: %v", path, bad)
		}
	}
}

func TestBrowserGeneralSettingsPreviewIsLive(t *testing.T) {
	b := newBrowser(t)
	b.signIn("admin", adminPassword)
	b.open("/admin/settings")
	b.run("type a template",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.getElementById("branch_template").value = "", true)`)(ctx, t)
			return err
		}),
		typeInto("#branch_template", "${issuetype:Bug,bugfix,default,feature}/${issuekey}"),
	)
	get(b, "wait for the preview", chromedp.Poll[bool](`document.getElementById("name-preview").textContent === "bugfix/ABC-123"`,
		chromedp.WithPollingTimeout(5*time.Second)))
}

// noSecrets fails when any page the browser showed contains a secret.
func (b *browser) noSecrets(secrets ...string) {
	b.t.Helper()
	pages := b.pages.String()
	for _, s := range secrets {
		if strings.Contains(pages, s) {
			b.t.Errorf("a page showed the secret %.12s…", s)
		}
		if strings.Contains(b.env.Logs.String(), s) {
			b.t.Errorf("the log holds the secret %.12s…", s)
		}
	}
}

func TestBrowserSameNameRepositoriesShowTheirOwner(t *testing.T) {
	b := newBrowser(t)
	id := b.env.Integration(false, nil)
	b.env.Sim.AddRepo(hostsim.Repo{Owner: "tools", Name: "widgets", Writers: []string{apptest.BotLogin, apptest.BobLogin}})
	// Creating the integration cached its repositories; read them again
	// (the host is read at most once per interval).
	b.env.Advance(action.MinRepositoryReadInterval)
	b.env.Do("GET", "/api/v1/integrations/"+id+"/repositories?refresh=true", b.env.Admin, nil)
	b.signIn("bob", bobPassword)
	b.open("/issues/ABC-1")
	b.run("search widgets",
		chromedp.Click(chromedp.CSS("button[data-open=create-branch]")),
		typeInto("#cb-repo", "widgets"),
	)
	got := get(b, "read the options", chromedp.Poll[[]string](`(() => {
		const o = Array.from(document.querySelectorAll("#cb-repo-list [role=option]")).map(li => li.textContent);
		return o.length === 2 ? o : null;
	})()`, chromedp.WithPollingTimeout(5*time.Second)))
	want := []string{"acme/widgets", "tools/widgets"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("options = %q, want %q", got, want)
	}
}

func TestBrowserTickingRequireUserPATWarnsForTFSWithoutPATs(t *testing.T) {
	requireChromium(t)
	b := newBrowserWith(t, newEnv(t, apptest.TFSWithPassword("2013")))
	id := b.env.Integration(false, nil)
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations/" + id)
	if b.exists("#no-pat-warning:not([hidden])") {
		t.Fatal("the warning shows before the box is ticked")
	}
	b.run("tick Require User PAT", chromedp.Click(chromedp.CSS("#require_user_pat")),
		chromedp.WaitVisible(chromedp.CSS("#no-pat-warning")))
	b.run("click Update", chromedp.Click(chromedp.CSS("form button.primary")), chromedp.WaitVisible(chromedp.CSS("[data-warning]")))
}
