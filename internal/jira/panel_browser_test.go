package jira_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fakeBridge stands in for what Forge injects into the panel's iframe: it
// answers getContext with an issue, answers the development panel with one
// branch, the repository picker with one repository, Create branch as
// gitrelay answers a repeated request (201, already_existed), and records
// every remote call in window.__calls.
const fakeBridge = `window.__calls = [];
window.__bridge = { callBridge: function (name, payload) {
  if (name === 'getContext') { return Promise.resolve({ moduleKey: 'gitrelay-panel', extension: { issue: { key: 'ABC-1' } } }); }
  if (name !== 'invoke') { return Promise.resolve({}); }
  window.__calls.push(payload.method + ' ' + payload.path + ' ' + JSON.stringify(payload.body || null));
  if (payload.method === 'GET' && payload.path === '/forge/issues/ABC-1/development') {
    return Promise.resolve({ success: true, payload: { status: 200, body: JSON.stringify({
      issue_key: 'ABC-1', pull_requests: [], integrations: [{ id: 'int1', name: 'GHE', require_user_pat: false, user_token_status: 'valid' }],
      branches: [{ name: 'ABC-1-fix', url: 'https://ghe.example/acme/widgets/tree/ABC-1-fix', repository: 'acme/widgets',
        repository_id: '42', integration_id: 'int1', acted_as: { via: 'user_token', login: 'bob-gh' }, created_by: 'acc-bob' }] }) } });
  }
  if (payload.method === 'GET' && payload.path.indexOf('/forge/integrations/int1/repositories') === 0) {
    return Promise.resolve({ success: true, payload: { status: 200, body: JSON.stringify([{ id: '42', name: 'widgets', full_name: 'acme/widgets' }]) } });
  }
  if (payload.method === 'POST' && payload.path === '/forge/issues/ABC-1/branches') {
    return Promise.resolve({ success: true, payload: { status: 201, body: JSON.stringify({ name: 'ABC-1-fix',
      url: 'https://ghe.example/acme/widgets/tree/ABC-1-fix', repository_id: '42', repository: 'acme/widgets',
      acted_as: { via: 'user_token', login: 'bob-gh' }, created_by: 'acc-bob', already_existed: true }) } });
  }
  return Promise.resolve({ success: true, payload: { status: 204, body: '' } });
} };`

// panelPage is the Forge panel in headless Chromium, behind the fake bridge.
type panelPage struct {
	t   *testing.T
	ctx context.Context
}

func openPanel(t *testing.T) *panelPage {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal("Chromium is required: run scripts/ensure-chromium")
		}
		t.Skip("Chromium is not installed")
	}
	dir := filepath.Join("..", "..", "forge", "static", "panel")
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(string(index), `<script src="bridge.js">`, `<script src="fake-bridge.js"></script><script src="bridge.js">`, 1)
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		case "/fake-bridge.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(fakeBridge))
		default:
			files.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTime)
	p := &panelPage{t: t, ctx: ctx}
	p.do("open the panel", chromedp.Steps(chromedp.Navigate(srv.URL+"/index.html"), chromedp.WaitVisible(chromedp.CSS("#panel li button"))))
	return p
}

// do runs one step, with the page's text on failure.
func (p *panelPage) do(what string, a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, a); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("body")))
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
}

// run evaluates a script in the page, for its side effects.
func (p *panelPage) run(script string) chromedp.Action[chromedp.Void] {
	ev := chromedp.Evaluate[bool](`(` + script + `, true)`)
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var v chromedp.Void
		_, err := ev(ctx, tg)
		return v, err
	}
}

// waitFor waits, in the page, until the predicate holds: the page tells
// when, no sleeping.
func waitFor(predicate string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](predicate)
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var v chromedp.Void
		_, err := poll(ctx, tg)
		return v, err
	}
}

// click is a DOM click, as the web tests do: the page's own handlers run.
func (p *panelPage) click(sel string) chromedp.Action[chromedp.Void] {
	return p.run(`document.querySelector(` + "`" + sel + "`" + `).click()`)
}

// calls lists the remote calls whose method and path start with prefix.
func (p *panelPage) calls(prefix string) []string {
	p.t.Helper()
	calls, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](`window.__calls.filter(c => c.startsWith(`+"`"+prefix+"`"+`))`))
	if err != nil {
		p.t.Fatal(err)
	}
	return calls
}

func (p *panelPage) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// The panel asks before deleting a branch with an inline confirmation
// (Forge's cross-origin iframe cannot show window.confirm), deletes only
// after it, and Cancel deletes nothing.
func TestPanelConfirmsDeleteInline(t *testing.T) {
	p := openPanel(t)
	// Cancel: the question goes away and nothing is deleted.
	p.do("ask", chromedp.Steps(p.click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	p.do("cancel", chromedp.Steps(p.click("#panel .confirm button:not(.danger)"), chromedp.WaitNotPresent(chromedp.CSS("#panel .confirm"))))
	if d := p.calls("DELETE"); len(d) != 0 {
		t.Fatalf("Cancel deleted: %q", d)
	}
	// Confirm: the branch is deleted.
	p.do("ask again", chromedp.Steps(p.click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	question := p.text("#panel .confirm")
	p.do("confirm", chromedp.Steps(p.click("#panel .confirm button.danger"),
		waitFor(`window.__calls.some(c => c.startsWith('DELETE'))`)))
	got := p.calls("DELETE")
	if !strings.Contains(question, "Delete branch ABC-1-fix in acme/widgets?") {
		t.Errorf("confirmation text %q", question)
	}
	want := `DELETE /forge/issues/ABC-1/branches {"integration_id":"int1","repository_id":"42","name":"ABC-1-fix"}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("delete calls %q, want exactly %q", got, want)
	}
}

// A repeated Create branch is the same success (201) with already_existed:
// the panel says the branch was already there rather than that it was
// created.
func TestPanelSaysABranchAlreadyExisted(t *testing.T) {
	p := openPanel(t)
	p.do("open Create branch", chromedp.Steps(p.click(`#panel .actions button`), chromedp.WaitVisible(chromedp.CSS(`#panel form#create-branch select[name="repository_id"] option`))))
	p.do("create", chromedp.Steps(
		p.run(`document.querySelector('#panel form#create-branch input[name="name"]').value = 'ABC-1-fix'`),
		p.click(`#panel form#create-branch button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS("#panel .notice"))))
	if got := p.text("#panel .notice"); !strings.Contains(got, "Branch ABC-1-fix already existed at that base") {
		t.Errorf("notice %q, want it to say the branch already existed", got)
	}
	want := `POST /forge/issues/ABC-1/branches {"integration_id":"int1","repository_id":"42","base":"","name":"ABC-1-fix"}`
	if got := p.calls("POST"); len(got) != 1 || got[0] != want {
		t.Fatalf("create calls %q, want exactly %q", got, want)
	}
}
