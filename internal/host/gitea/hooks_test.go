package gitea_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// hookSecret is a canary like wireToken: it goes into request bodies to
// the host and nowhere else.
const (
	hookURL    = "https://gitrelay.example.com/hooks/01JHOOK"
	hookSecret = "whsec-CANARYgiteaHOOK0123456789"
)

var wantHook = relay.Hook{URL: hookURL, Events: []string{"push", "pull_request"}, Secret: relay.TokenCredential(hookSecret)}

// hookBody is what gitrelay sends to create (with the type) or edit the
// webhook.
func hookBody(typ string) string {
	t := ""
	if typ != "" {
		t = `"type":"` + typ + `",`
	}
	return `{` + t + `"config":{"url":"` + hookURL + `","content_type":"json","secret":"` + hookSecret + `"},` +
		`"events":["push","pull_request"],"branch_filter":"*","active":true}`
}

func noHookSecret(t *testing.T, v any) {
	t.Helper()
	hosttest.NoSecretPrinted(t, v, hookSecret, wireToken)
}

func TestEnsureHookCreatesAGiteaHook(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", Reply: `[]`},
		exchange{Method: "POST", Path: "/repos/platform/billing-api/hooks", Status: http.StatusCreated, File: "hook.json", Body: hookBody("gitea")},
	)
	change, err := hosttest.HookRegistrar(t, client(t, rp)).EnsureHook(t.Context(), billingAPI, wantHook)
	if err != nil || change != relay.HookCreated {
		t.Fatalf("EnsureHook = %q, %v; want created", change, err)
	}
}

func TestEnsureHookEditsTheHookDeliveringToGitrelay(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", File: "hooks_list.json"},
		exchange{Method: "PATCH", Path: "/repos/platform/billing-api/hooks/9", File: "hook.json", Body: hookBody("")},
	)
	change, err := hosttest.HookRegistrar(t, client(t, rp)).EnsureHook(t.Context(), billingAPI, wantHook)
	if err != nil || change != relay.HookUpdated {
		t.Fatalf("EnsureHook = %q, %v; want updated", change, err)
	}
}

// Gitea shows no hook's secret: a right hook is left alone only when
// gitrelay knows it set the secret.
func TestEnsureHookLeavesARightHookAloneOnlyWhenItsSecretIsKnown(t *testing.T) {
	right := `[{"id":9,"type":"gitea","config":{"content_type":"json","url":"` + hookURL + `"},"events":["pull_request","push"],"active":true}]`
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", Reply: right},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", Reply: right},
		exchange{Method: "PATCH", Path: "/repos/platform/billing-api/hooks/9", File: "hook.json", Body: hookBody("")},
	)
	h := hosttest.HookRegistrar(t, client(t, rp))
	known := wantHook
	known.SecretSet = true
	if change, err := h.EnsureHook(t.Context(), billingAPI, known); err != nil || change != relay.HookUnchanged {
		t.Errorf("EnsureHook(secret set) = %q, %v; want unchanged", change, err)
	}
	if change, err := h.EnsureHook(t.Context(), billingAPI, wantHook); err != nil || change != relay.HookUpdated {
		t.Errorf("EnsureHook(secret not known) = %q, %v; want updated", change, err)
	}
}

func TestFindHook(t *testing.T) {
	rp := newReplay(t,
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", File: "hooks_list.json"},
		exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1", File: "hooks_list.json"},
	)
	h := hosttest.HookRegistrar(t, client(t, rp))
	got, err := h.FindHook(t.Context(), billingAPI, hookURL)
	if err != nil || got.ID != "9" || got.Active || got.URL != hookURL {
		t.Errorf("FindHook = %+v, %v; want hook 9, inactive", got, err)
	}
	_, err = h.FindHook(t.Context(), billingAPI, "https://gitrelay.example.com/hooks/other")
	wantCode(t, err, relay.ENotFound)
}

func TestHookRefusals(t *testing.T) {
	list := exchange{Method: "GET", Path: "/repos/platform/billing-api/hooks", Query: "limit=50&page=1"}
	create := exchange{Method: "POST", Path: "/repos/platform/billing-api/hooks", Body: hookBody("gitea")}
	for _, tc := range []struct {
		name   string
		script []exchange
		code   string
		says   string
	}{
		{"403: a writer who is no admin", []exchange{answerWith(list, 403, "err_not_repo_admin.json")},
			relay.EScopeMissing, "admin rights"},
		{"403: a token without write:repository", []exchange{reply(list, `[]`), answerWith(create, 403, "err_hook_scope.json")},
			relay.EScopeMissing, "write:repository"},
		{"422: Gitea refuses the URL", []exchange{reply(list, `[]`), answerWith(create, 422, "err_invalid_url.json")},
			relay.EInvalid, "Invalid url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, tc.script...)
			_, err := hosttest.HookRegistrar(t, client(t, rp)).EnsureHook(t.Context(), billingAPI, wantHook)
			e := wantCode(t, err, tc.code)
			if !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q does not mention %q", e.Message, tc.says)
			}
			noHookSecret(t, err)
		})
	}
}

func answerWith(ex exchange, status int, file string) exchange {
	ex.Status, ex.File = status, file
	return ex
}

func reply(ex exchange, body string) exchange {
	ex.Reply = body
	return ex
}
