package github_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// hookSecret is a canary like wireToken: it goes into request bodies to
// the host and nowhere else.
const (
	hookURL    = "https://gitrelay.example.com/hooks/01JHOOK"
	hookSecret = "whsec-CANARYgithubHOOK0123456789"
)

var wantHook = relay.Hook{URL: hookURL, Events: []string{"push", "pull_request"}, Secret: relay.TokenCredential(hookSecret)}

// hookBody is what gitrelay sends to create (with name) or set a hook.
func hookBody(name string) string {
	n := ""
	if name != "" {
		n = `"name":"` + name + `",`
	}
	return `{` + n + `"config":{"url":"` + hookURL + `","content_type":"json","secret":"` + hookSecret + `","insecure_ssl":"0"},"events":["push","pull_request"],"active":true}`
}

func TestEnsureHookCreatesTheHookWhenNoneDeliversToGitrelay(t *testing.T) {
	rp := newReplay(t, "/api/v3",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", Reply: `[]`},
		exchange{Method: "POST", Path: "/repos/octocat/Hello-World/hooks", Status: http.StatusCreated, File: "hook.json", Body: hookBody("web")},
	)
	change, err := hosttest.HookRegistrar(t, enterpriseClient(t, rp)).EnsureHook(t.Context(), helloWorld, wantHook)
	if err != nil || change != relay.HookCreated {
		t.Fatalf("EnsureHook = %q, %v; want created", change, err)
	}
}

// The hook delivering to gitrelay is set again (secret, events, JSON,
// active), found on the second page of the repository's hooks.
func TestEnsureHookSetsTheHookDeliveringToGitrelayAgain(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", Reply: `[]`,
			Header: map[string]string{"Link": `<{server}/repos/octocat/Hello-World/hooks?per_page=100&page=2>; rel="next"`}},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=2&per_page=100", File: "hooks_list.json"},
		exchange{Method: "PATCH", Path: "/repos/octocat/Hello-World/hooks/12345679", File: "hook.json", Body: hookBody("")},
	)
	change, err := hosttest.HookRegistrar(t, cloudClient(t, rp)).EnsureHook(t.Context(), helloWorld, wantHook)
	if err != nil || change != relay.HookUpdated {
		t.Fatalf("EnsureHook = %q, %v; want updated", change, err)
	}
}

// GitHub never shows a hook's secret: a hook otherwise right is left alone
// only when gitrelay knows it set the secret, and set again otherwise.
func TestEnsureHookLeavesARightHookAloneOnlyWhenItsSecretIsKnown(t *testing.T) {
	right := `[{"id":12345680,"name":"web","active":true,"events":["pull_request","push"],"config":{"content_type":"json","insecure_ssl":"0","url":"` + hookURL + `","secret":"********"}}]`
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", Reply: right},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", Reply: right},
		exchange{Method: "PATCH", Path: "/repos/octocat/Hello-World/hooks/12345680", File: "hook.json", Body: hookBody("")},
	)
	h := hosttest.HookRegistrar(t, cloudClient(t, rp))
	known := wantHook
	known.SecretSet = true
	if change, err := h.EnsureHook(t.Context(), helloWorld, known); err != nil || change != relay.HookUnchanged {
		t.Errorf("EnsureHook(secret set) = %q, %v; want unchanged", change, err)
	}
	if change, err := h.EnsureHook(t.Context(), helloWorld, wantHook); err != nil || change != relay.HookUpdated {
		t.Errorf("EnsureHook(secret not known) = %q, %v; want updated", change, err)
	}
}

func TestFindHook(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
		exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
	)
	h := hosttest.HookRegistrar(t, cloudClient(t, rp))
	got, err := h.FindHook(t.Context(), helloWorld, "https://GITRELAY.example.com/hooks/01JHOOK")
	want := relay.HostHook{ID: "12345679", URL: hookURL, Events: []string{"push"}, Active: false}
	if err != nil || got.ID != want.ID || got.URL != want.URL || got.Active || len(got.Events) != 1 {
		t.Errorf("FindHook = %+v, %v; want %+v", got, err, want)
	}
	_, err = h.FindHook(t.Context(), helloWorld, "https://gitrelay.example.com/hooks/other")
	wantCode(t, err, relay.ENotFound)
}

func TestHookRefusals(t *testing.T) {
	list := exchange{Method: "GET", Path: "/repos/octocat/Hello-World/hooks", Query: "page=1&per_page=100"}
	create := exchange{Method: "POST", Path: "/repos/octocat/Hello-World/hooks", Body: hookBody("web")}
	for _, tc := range []struct {
		name   string
		script []exchange
		code   string
		scope  string
		says   string
	}{
		{"404: the account is no admin of the repository", []exchange{withAnswer(list, 404, "err_not_found.json", nil)},
			relay.EScopeMissing, "", "admin rights"},
		{"403: a fine-grained token without the Webhooks permission", []exchange{
			withAnswer(list, 403, "err_not_accessible.json", map[string]string{"X-Accepted-GitHub-Permissions": "webhooks=read"})},
			relay.EScopeMissing, "webhooks=read", "Webhooks permission"},
		{"422: GitHub refuses the hook", []exchange{withReply(list, `[]`), withAnswer(create, 422, "err_hook_validation.json", nil)},
			relay.EInvalid, "", "Hook already exists"},
		{"403 rate limit", []exchange{withAnswer(list, 403, "err_rate_limit.json", map[string]string{"X-RateLimit-Remaining": "0"})},
			relay.ERateLimited, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, "", tc.script...)
			_, err := hosttest.HookRegistrar(t, cloudClient(t, rp)).EnsureHook(t.Context(), helloWorld, wantHook)
			e := wantCode(t, err, tc.code)
			if e.Scope != tc.scope || !strings.Contains(e.Message, tc.says) {
				t.Errorf("error %+v, want scope %q and a message mentioning %q", e, tc.scope, tc.says)
			}
			noHookSecret(t, err)
		})
	}
}

func withAnswer(ex exchange, status int, file string, h map[string]string) exchange {
	ex.Status, ex.File, ex.Header = status, file, h
	return ex
}

func withReply(ex exchange, reply string) exchange {
	ex.Reply = reply
	return ex
}

func noHookSecret(t *testing.T, v any) {
	t.Helper()
	hosttest.NoSecretPrinted(t, v, hookSecret)
}

// A host that echoes the request's body into its refusal: the secret is
// not in the error, its cause or a log line.
func TestHookSecretNeverShowsInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		body := make([]byte, 4096)
		n, _ := r.Body.Read(body)
		_, _ = w.Write([]byte(`{"message":"Validation Failed","errors":[{"resource":"Hook","code":"custom","message":` + jsonQuote(string(body[:n])) + `}]}`))
	}))
	defer srv.Close()
	c, err := github.Cloud(github.WithAPIURL(srv.URL)).NewClient(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential(wireToken), hosttest.LocalClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = hosttest.HookRegistrar(t, c).EnsureHook(t.Context(), helloWorld, wantHook)
	wantCode(t, err, relay.EInvalid)
	noHookSecret(t, err)
	noHookSecret(t, wantHook)
}

// The webhook's secret goes to the integration's host only: a host that
// redirects the write elsewhere does not get it sent there, even through
// a client whose redirect policy follows anything.
func TestHookSecretIsNotSentToAnotherHost(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		mu.Lock()
		leaked = append(leaked, r.Method+" "+string(b[:n]))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[]`))
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	follows := hosttest.LocalClient(5 * time.Second)
	follows.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	for name, hc := range map[string]*http.Client{"the shared client": hosttest.LocalClient(5 * time.Second), "a client that follows anything": follows} {
		c, err := github.Cloud(github.WithAPIURL(api.URL)).NewClient(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential(wireToken), hc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hosttest.HookRegistrar(t, c).EnsureHook(t.Context(), helloWorld, wantHook)
		if relay.ErrorCode(err) != relay.EHostError {
			t.Errorf("%s: EnsureHook redirected elsewhere = %v, want host_error", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("another host received %q", leaked)
	}
}
