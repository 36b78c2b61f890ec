package gitlab_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// hookSecret is a canary like wireToken: it goes into request bodies to
// the host and nowhere else.
const (
	hookURL    = "https://gitrelay.example.com/hooks/01JHOOK"
	hookSecret = "whsec-CANARYgitlabHOOK0123456789"
)

var wantHook = relay.Hook{URL: hookURL, Events: []string{"push_events", "merge_requests_events"}, Secret: relay.TokenCredential(hookSecret)}

// hookBody is what gitrelay sends to add or edit the project hook.
const hookBody = `{"url":"` + hookURL + `","push_events":true,"merge_requests_events":true,"tag_push_events":false,` +
	`"enable_ssl_verification":true,"token":"` + hookSecret + `"}`

func noHookSecret(t *testing.T, v any) {
	t.Helper()
	hosttest.NoSecretPrinted(t, v, hookSecret, wireToken)
}

func TestEnsureHookAddsTheProjectHook(t *testing.T) {
	rp := newReplay(t, "/gitlab",
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", Reply: `[]`},
		exchange{Method: "POST", Path: "/projects/3/hooks", Status: http.StatusCreated, File: "hook.json", Body: hookBody},
	)
	change, err := hosttest.HookRegistrar(t, selfManagedClient(t, rp)).EnsureHook(t.Context(), widgets, wantHook)
	if err != nil || change != relay.HookCreated {
		t.Fatalf("EnsureHook = %q, %v; want created", change, err)
	}
}

// The hook delivering to gitrelay is edited in place (its events, its
// token), whatever GitLab thinks of its deliveries.
func TestEnsureHookEditsTheHookDeliveringToGitrelay(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
		exchange{Method: "PUT", Path: "/projects/3/hooks/7", File: "hook.json", Body: hookBody},
		// GitLab had disabled it: a test delivery turns it back on.
		exchange{Method: "POST", Path: "/projects/3/hooks/7/test/push_events", Status: http.StatusCreated, Reply: `{"message":"201 Created"}`},
	)
	change, err := hosttest.HookRegistrar(t, cloudClient(t, rp)).EnsureHook(t.Context(), widgets, wantHook)
	if err != nil || change != relay.HookUpdated {
		t.Fatalf("EnsureHook = %q, %v; want updated", change, err)
	}
}

// A disabled hook whose test delivery fails stays off: gitrelay says so
// rather than report it registered.
func TestEnsureHookSaysWhenGitLabKeepsTheHookOff(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
		exchange{Method: "PUT", Path: "/projects/3/hooks/7", File: "hook.json", Body: hookBody},
		exchange{Method: "POST", Path: "/projects/3/hooks/7/test/push_events", Status: http.StatusUnprocessableEntity, Reply: `{"message":"Hook execution failed: 502"}`},
	)
	_, err := hosttest.HookRegistrar(t, cloudClient(t, rp)).EnsureHook(t.Context(), widgets, wantHook)
	if relay.ErrorCode(err) != relay.EHostError || !strings.Contains(relay.ErrorMessage(err), "keeps it off") {
		t.Errorf("EnsureHook = %v, want host_error saying GitLab keeps the hook off", err)
	}
	noHookSecret(t, err)
}

// GitLab shows no hook's token: a right hook is left alone only when
// gitrelay knows it set the token.
func TestEnsureHookLeavesARightHookAloneOnlyWhenItsTokenIsKnown(t *testing.T) {
	right := "[" + mustRead(t, "testdata/hook.json") + "]"
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", Reply: right},
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", Reply: right},
		exchange{Method: "PUT", Path: "/projects/3/hooks/7", File: "hook.json", Body: hookBody},
	)
	h := hosttest.HookRegistrar(t, cloudClient(t, rp))
	known := wantHook
	known.SecretSet = true
	if change, err := h.EnsureHook(t.Context(), widgets, known); err != nil || change != relay.HookUnchanged {
		t.Errorf("EnsureHook(token set) = %q, %v; want unchanged", change, err)
	}
	if change, err := h.EnsureHook(t.Context(), widgets, wantHook); err != nil || change != relay.HookUpdated {
		t.Errorf("EnsureHook(token not known) = %q, %v; want updated", change, err)
	}
}

func TestFindHookReadsEventsAndWhetherGitLabDelivers(t *testing.T) {
	rp := newReplay(t, "",
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
		exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100", File: "hooks_list.json"},
	)
	h := hosttest.HookRegistrar(t, cloudClient(t, rp))
	got, err := h.FindHook(t.Context(), widgets, hookURL)
	if err != nil || got.ID != "7" || got.Active || !host.SameEvents(got.Events, []string{"push_events"}) {
		t.Errorf("FindHook = %+v, %v; want hook 7, disabled, push events only", got, err)
	}
	_, err = h.FindHook(t.Context(), widgets, "https://gitrelay.example.com/hooks/other")
	if relay.ErrorCode(err) != relay.ENotFound {
		t.Errorf("FindHook(no such hook) = %v, want not_found", err)
	}
}

func TestHookRefusals(t *testing.T) {
	list := exchange{Method: "GET", Path: "/projects/3/hooks", Query: "page=1&per_page=100"}
	add := exchange{Method: "POST", Path: "/projects/3/hooks", Body: hookBody}
	for _, tc := range []struct {
		name   string
		script []exchange
		code   string
		says   string
	}{
		{"403: a Developer may not manage hooks", []exchange{answer(list, 403, "err_forbidden.json")},
			relay.EScopeMissing, "Maintainer role"},
		{"403: a token without the api scope", []exchange{answer(list, 403, "err_insufficient_scope.json")},
			relay.EScopeMissing, "api scope"},
		{"404: the project is hidden", []exchange{answer(list, 404, "err_project_not_found.json")},
			relay.EScopeMissing, "Maintainer role"},
		{"422: GitLab refuses the URL", []exchange{reply(list, `[]`), answer(add, 422, "err_url_blocked.json")},
			relay.EInvalid, "Requests to localhost are not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, "", tc.script...)
			_, err := hosttest.HookRegistrar(t, cloudClient(t, rp)).EnsureHook(t.Context(), widgets, wantHook)
			if relay.ErrorCode(err) != tc.code || !strings.Contains(relay.ErrorMessage(err), tc.says) {
				t.Errorf("EnsureHook = %v, want %s mentioning %q", err, tc.code, tc.says)
			}
			noHookSecret(t, err)
		})
	}
}

func answer(ex exchange, status int, file string) exchange {
	ex.Status, ex.File = status, file
	return ex
}

func reply(ex exchange, body string) exchange {
	ex.Reply = body
	return ex
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
