package jira_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// panelDir is the Custom UI as `forge deploy` uploads it: esbuild's bundle
// of forge/src/panel with @forge/bridge (scripts/ensure-forge builds it).
var panelDir = filepath.Join(forgeDir, "build", "panel")

// forgeHost plays Jira's side of the Custom UI bridge. @forge/bridge calls
// globalThis.__bridge.callBridge(name, payload), which Forge injects into
// the app's iframe; this one answers getContext with the test's context,
// records navigations in window.__navigations, and sends every remote
// invocation (invokeType ui-remote-fetch) to the test server, which calls
// gitrelay's Forge endpoints as Forge would. Anything else is refused, so a
// bridge call the panel starts making cannot go unnoticed.
const forgeHost = `(function () {
  var context = %s;
  window.__navigations = [];
  window.__bridge = { callBridge: function (name, payload) {
    switch (name) {
    case 'getContext':
      return Promise.resolve(JSON.parse(JSON.stringify(context)));
    case 'navigate':
      window.__navigations.push(payload);
      return Promise.resolve();
    case 'invoke':
      if (payload.invokeType !== 'ui-remote-fetch') {
        return Promise.reject(new Error('the emulated Forge host only proxies remote invocations, not ' + payload.invokeType));
      }
      return fetch('/forge-host/invoke', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) })
        .then(function (r) { return r.json(); });
    default:
      return Promise.reject(new Error('the emulated Forge host does not answer ' + name));
    }
  } };
})();`

// issuePanel is the context Jira gives the jira:issuePanel module.
func issuePanel(key string) map[string]any {
	return map[string]any{"moduleKey": "gitrelay-panel", "cloudId": cloudA, "siteUrl": siteA, "accountId": "acc-bob",
		"extension": map[string]any{"type": "jira:issuePanel", "issue": map[string]any{"key": key, "type": "Bug"}}}
}

// panelPage is the built Forge panel in headless Chromium, its bridge
// calls answered by the emulated Forge host.
type panelPage struct {
	t   *testing.T
	ctx context.Context

	mu sync.Mutex
	// calls are the remote calls that reached gitrelay: method, path and
	// body.
	calls []string
}

// requirePanel stops the test when the built panel or Chromium is missing:
// a failure where the run requires them, a skip elsewhere.
func requirePanel(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(panelDir, "main.js")); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_FORGE") == "1" {
			t.Fatalf("the Forge panel is not built (%v): run scripts/ensure-forge", err)
		}
		t.Skip("the Forge panel is not built: run scripts/ensure-forge")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("GITRELAY_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal("Chromium is required: run scripts/ensure-chromium")
		}
		t.Skip("Chromium is not installed")
	}
	return chromium
}

// openPanel serves the built panel with the emulated Forge host in front
// of its bundle and opens it in Chromium. With e nil there is no host: the
// page as it looks outside Jira. Otherwise remote calls reach e's gitrelay
// as inv, and the panel starts with the given module context.
func openPanel(t *testing.T, e *env, inv invocation, moduleContext map[string]any) *panelPage {
	t.Helper()
	chromium := requirePanel(t)
	index, err := os.ReadFile(filepath.Join(panelDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	p := &panelPage{t: t}
	page := string(index)
	var host []byte
	if e != nil {
		// Forge injects its bridge before the app's own scripts run.
		if !strings.Contains(page, `<script src="main.js">`) {
			t.Fatalf("the built index.html does not load main.js:\n%s", page)
		}
		page = strings.Replace(page, `<script src="main.js">`, `<script src="/forge-host/bridge.js"></script><script src="main.js">`, 1)
		c, err := json.Marshal(moduleContext)
		if err != nil {
			t.Fatal(err)
		}
		host = fmt.Appendf(nil, forgeHost, c)
	}
	files := http.FileServer(http.Dir(panelDir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		case "/forge-host/bridge.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(host)
		case "/forge-host/invoke":
			p.invoke(w, r, e, inv)
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
	p.ctx = ctx
	p.do("open the panel", chromedp.Navigate(srv.URL+"/index.html"))
	return p
}

// invoke is Forge's proxy for invokeRemote: it sends the panel's request
// to gitrelay with the invocation token and the app's tokens, and hands the
// answer back the way @forge/bridge expects it ({success, payload}, the
// payload's headers as lists and a JSON body parsed).
func (p *panelPage) invoke(w http.ResponseWriter, r *http.Request, e *env, inv invocation) {
	var in struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(in.Path, "/") {
		p.t.Errorf("the panel invoked the remote with %+v (%v)", in, err)
		http.Error(w, "bad invocation", http.StatusBadRequest)
		return
	}
	var body []byte
	if len(in.Body) > 0 && !bytes.Equal(in.Body, []byte("null")) {
		body = in.Body
	}
	p.mu.Lock()
	p.calls = append(p.calls, in.Method+" "+in.Path+" "+orNull(body))
	p.mu.Unlock()
	header := http.Header{}
	for k, v := range in.Headers {
		header.Set(k, v)
	}
	res, err := e.send(in.Method, in.Path, inv, header, body)
	if err != nil {
		p.t.Errorf("calling the remote: %v", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	payload := map[string]any{"status": res.Status, "headers": res.Header}
	var parsed any
	if len(res.Body) > 0 {
		if json.Unmarshal(res.Body, &parsed) == nil {
			payload["body"] = parsed
		} else {
			payload["body"] = string(res.Body)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "payload": payload})
}

func orNull(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
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

// remoteCalls lists the remote calls that reached gitrelay whose method and
// path start with prefix.
func (p *panelPage) remoteCalls(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (p *panelPage) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// withBranch is gitrelay with site A installed, a GitHub Enterprise
// integration, and branch ABC-1-fix created for ABC-1 by bob through the
// remote; it returns the integration's and the repository's ids.
func withBranch(t *testing.T) (e *env, integrationID, repoID string) {
	t.Helper()
	e = newEnv(t, storetest.SQLite(t))
	e.install()
	integrationID = e.integration(false)
	repoID = e.repoID(e.bob(), integrationID)
	r := e.do("POST", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{
		"integration_id": integrationID, "repository_id": repoID, "name": "ABC-1-fix"})
	if r.Status != http.StatusCreated {
		t.Fatalf("creating ABC-1-fix: got %d %s, want 201", r.Status, r.Body)
	}
	return e, integrationID, repoID
}

// The panel asks before deleting a branch with an inline confirmation
// (Forge's cross-origin iframe cannot show window.confirm), deletes only
// after it, and Cancel deletes nothing.
func TestPanelConfirmsDeleteInline(t *testing.T) {
	e, id, repo := withBranch(t)
	p := openPanel(t, e, e.bob(), issuePanel("ABC-1"))
	p.do("list the branch", chromedp.WaitVisible(chromedp.CSS("#panel li button")))
	// Cancel: the question goes away and nothing is deleted.
	p.do("ask", chromedp.Steps(p.click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	p.do("cancel", chromedp.Steps(p.click("#panel .confirm button:not(.danger)"), chromedp.WaitNotPresent(chromedp.CSS("#panel .confirm"))))
	if d := p.remoteCalls("DELETE"); len(d) != 0 {
		t.Fatalf("Cancel deleted: %q", d)
	}
	// Confirm: the branch is deleted, and the panel, drawn again from
	// gitrelay's answer, no longer lists it.
	p.do("ask again", chromedp.Steps(p.click("#panel li button"), chromedp.WaitVisible(chromedp.CSS("#panel .confirm"))))
	question := p.text("#panel .confirm")
	p.do("confirm", chromedp.Steps(p.click("#panel .confirm button.danger"),
		waitFor(`document.getElementById('panel').innerText.includes('No branches yet.')`)))
	if !strings.Contains(question, "Delete branch ABC-1-fix in acme/widgets?") {
		t.Errorf("confirmation text %q", question)
	}
	want := fmt.Sprintf(`DELETE /forge/issues/ABC-1/branches {"integration_id":%q,"repository_id":%q,"name":"ABC-1-fix"}`, id, repo)
	if got := p.remoteCalls("DELETE"); len(got) != 1 || got[0] != want {
		t.Fatalf("delete calls %q, want exactly %q", got, want)
	}
}

// A repeated Create branch is the same success (201) with already_existed:
// the panel says the branch was already there rather than that it was
// created.
func TestPanelSaysABranchAlreadyExisted(t *testing.T) {
	e, id, repo := withBranch(t)
	p := openPanel(t, e, e.bob(), issuePanel("ABC-1"))
	p.do("open Create branch", chromedp.Steps(chromedp.WaitVisible(chromedp.CSS(`#panel .actions button`)), p.click(`#panel .actions button`),
		chromedp.WaitVisible(chromedp.CSS(`#panel form#create-branch select[name="repository_id"] option`))))
	p.do("create", chromedp.Steps(
		p.run(`document.querySelector('#panel form#create-branch input[name="name"]').value = 'ABC-1-fix'`),
		p.click(`#panel form#create-branch button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS("#panel .notice"))))
	if got := p.text("#panel .notice"); !strings.Contains(got, "Branch ABC-1-fix already existed at that base") {
		t.Errorf("notice %q, want it to say the branch already existed", got)
	}
	want := fmt.Sprintf(`POST /forge/issues/ABC-1/branches {"integration_id":%q,"repository_id":%q,"base":"","name":"ABC-1-fix"}`, id, repo)
	if got := p.remoteCalls("POST"); len(got) != 1 || got[0] != want {
		t.Fatalf("create calls %q, want exactly %q", got, want)
	}
}

// Links leave Jira's iframe through @forge/bridge's router: a new tab at
// the branch's URL on the host, not a navigation of the panel itself.
func TestPanelOpensLinksInANewTabThroughJira(t *testing.T) {
	e, _, _ := withBranch(t)
	p := openPanel(t, e, e.bob(), issuePanel("ABC-1"))
	p.do("follow the branch link", chromedp.Steps(chromedp.WaitVisible(chromedp.CSS("#panel li a")), p.click("#panel li a"),
		waitFor(`window.__navigations.length > 0`)))
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]map[string]string](`window.__navigations`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["type"] != "new-tab" || !strings.HasSuffix(got[0]["url"], "/acme/widgets/tree/ABC-1-fix") {
		t.Fatalf("navigations %v, want one new tab at the branch on the host", got)
	}
	if url := p.text("body"); !strings.Contains(url, "ABC-1-fix") {
		t.Fatalf("the panel navigated away: %q", url)
	}
}

// Outside Jira there is no bridge: the panel says where it works instead
// of waiting for ever.
func TestPanelOutsideJiraSaysItBelongsInJira(t *testing.T) {
	p := openPanel(t, nil, invocation{}, nil)
	p.do("say so", waitFor(`document.getElementById('panel').innerText.includes('only works inside Jira')`))
}

// The administration page is the same bundle: under the jira:adminPage
// module it lists the site's integrations, as gitrelay answers them to a
// Jira administrator.
func TestAdminPageListsTheSitesIntegrations(t *testing.T) {
	e, _, _ := withBranch(t)
	p := openPanel(t, e, e.alice(), map[string]any{"moduleKey": "gitrelay-admin", "cloudId": cloudA, "siteUrl": siteA,
		"accountId": "acc-alice", "extension": map[string]any{"type": "jira:adminPage"}})
	p.do("list the integrations", chromedp.WaitVisible(chromedp.CSS("#panel li strong")))
	if got := p.text("#panel li strong"); got != "GHE" {
		t.Errorf("integration listed as %q, want GHE", got)
	}
	if got := p.remoteCalls("GET /forge/integrations "); len(got) != 1 {
		t.Errorf("integration list calls %q, want one", got)
	}
}
