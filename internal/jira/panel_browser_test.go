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
// branch, and records every remote call in window.__calls.
const fakeBridge = `window.__calls = [];
window.__bridge = { callBridge: function (name, payload) {
  if (name === 'getContext') { return Promise.resolve({ moduleKey: 'gitrelay-panel', extension: { issue: { key: 'ABC-1' } } }); }
  if (name !== 'invoke') { return Promise.resolve({}); }
  window.__calls.push(payload.method + ' ' + payload.path + ' ' + JSON.stringify(payload.body || null));
  if (payload.method === 'GET' && payload.path === '/forge/issues/ABC-1/development') {
    return Promise.resolve({ success: true, payload: { status: 200, body: JSON.stringify({
      issue_key: 'ABC-1', pull_requests: [], integrations: [{ id: 'int1', name: 'GHE', require_user_pat: false, user_token_status: 'valid' }],
      branches: [{ name: 'ABC-1-fix', url: 'https://ghe.example/acme/widgets/tree/ABC-1-fix', repository: 'acme/widgets',
        repository_id: '42', integration_id: 'int1', acted_as: { via: 'user_token', login: 'bob-gh' } }] }) } });
  }
  return Promise.resolve({ success: true, payload: { status: 204, body: '' } });
} };`

// The panel asks before deleting a branch with an inline confirmation
// (Forge's cross-origin iframe cannot show window.confirm), deletes only
// after it, and Cancel deletes nothing.
func TestPanelConfirmsDeleteInline(t *testing.T) {
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
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTime()

	// Each step runs on its own, with the page's text on failure.
	do := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, a); err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
		}
	}
	// A DOM click, as the web tests do: the page's own handlers run.
	click := func(sel string) chromedp.Action[chromedp.Void] {
		ev := chromedp.Evaluate[bool](`(document.querySelector(` + "`" + sel + "`" + `).click(), true)`)
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			var v chromedp.Void
			_, err := ev(ctx, tg)
			return v, err
		}
	}
	deletes := func() []string {
		t.Helper()
		calls, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__calls.filter(c => c.startsWith('DELETE'))`))
		if err != nil {
			t.Fatal(err)
		}
		return calls
	}
	do("open the panel", chromedp.Steps(chromedp.Navigate(srv.URL+"/index.html"), chromedp.WaitVisible(chromedp.CSS("#panel li button"))))
	// Cancel: the question goes away and nothing is deleted.
	do("ask", chromedp.Steps(click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	do("cancel", chromedp.Steps(click("#panel .confirm button:not(.danger)"), chromedp.WaitNotPresent(chromedp.CSS("#panel .confirm"))))
	if d := deletes(); len(d) != 0 {
		t.Fatalf("Cancel deleted: %q", d)
	}
	// Confirm: the branch is deleted.
	do("ask again", chromedp.Steps(click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	question, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#panel .confirm")))
	if err != nil {
		t.Fatal(err)
	}
	do("confirm", click("#panel .confirm button.danger"))
	var got []string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got = deletes(); len(got) > 0 {
			break
		}
	}
	if !strings.Contains(question, "Delete branch ABC-1-fix in acme/widgets?") {
		t.Errorf("confirmation text %q", question)
	}
	want := `DELETE /forge/issues/ABC-1/branches {"integration_id":"int1","repository_id":"42","name":"ABC-1-fix"}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("delete calls %q, want exactly %q", got, want)
	}
}
