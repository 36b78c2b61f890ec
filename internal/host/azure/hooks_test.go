package azure_test

import (
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// hookSecret is a canary like wireToken: it goes into request bodies to
// the host and nowhere else.
const (
	hookURL    = "https://gitrelay.example.com/hooks/01JHOOK"
	hookSecret = "whsec-CANARYazureHOOK0123456789"
	fiberID    = "b7d2e6a1-3c4f-4e5d-8a9b-0c1d2e3f4a5b"
	pushSubID  = "e1c7b4a9-2d5f-4b8e-a3c6-9f0d1e2b3c4d"
)

// wantHook is proved as the receiver checks it: basic authentication as
// gitrelay, with the secret as the password.
var wantHook = relay.Hook{URL: hookURL, Events: []string{"git.push", "git.pullrequest.created"},
	Secret: relay.PasswordCredential("gitrelay", hookSecret)}

var (
	getBilling = exchange{Method: "GET", Path: "/fabrikam/_apis/git/repositories/" + billingID, Query: v("7.1"), File: "repository.json"}
	listSubs   = exchange{Method: "GET", Path: "/fabrikam/_apis/hooks/subscriptions",
		Query: with(v("7.1"), "publisherId", "tfs", "consumerId", "webHooks", "consumerActionId", "httpRequest")}
)

// subscriptionBody is the subscription gitrelay sends for event; id and
// status are set when it replaces an existing one.
func subscriptionBody(event, id string) string {
	extra := ""
	if id != "" {
		extra = `"id":"` + id + `","status":"enabled",`
	}
	return `{` + extra + `"publisherId":"tfs","eventType":"` + event + `","resourceVersion":"1.0","consumerId":"webHooks","consumerActionId":"httpRequest",` +
		`"publisherInputs":{"projectId":"` + fiberID + `","repository":"` + billingID + `"},` +
		`"consumerInputs":{"url":"` + hookURL + `","basicAuthUsername":"gitrelay","basicAuthPassword":"` + hookSecret + `"}}`
}

func noHookSecret(t *testing.T, v any) {
	t.Helper()
	hosttest.NoSecretPrinted(t, v, hookSecret, wireToken)
}

// Each event type is a subscription of its own, filtered to the
// repository and its project.
func TestEnsureHookSubscribesEachEventForTheRepository(t *testing.T) {
	rp := newReplay(t, patAuth,
		getBilling,
		withFile(listSubs, "empty_list.json"),
		exchange{Method: "POST", Path: "/fabrikam/_apis/hooks/subscriptions", Query: v("7.1"), File: "subscription.json", Body: subscriptionBody("git.push", "")},
		exchange{Method: "POST", Path: "/fabrikam/_apis/hooks/subscriptions", Query: v("7.1"), File: "subscription.json", Body: subscriptionBody("git.pullrequest.created", "")},
	)
	change, err := hosttest.HookRegistrar(t, rp.client(azure.Services(), services, patCred)).EnsureHook(t.Context(), billing, wantHook)
	if err != nil || change != relay.HookCreated {
		t.Fatalf("EnsureHook = %q, %v; want created", change, err)
	}
}

// gitrelay's subscription for the repository is replaced (enabled again,
// with the password), another repository's and another URL's are left
// alone, and the missing event is subscribed.
func TestEnsureHookReplacesTheRepositorysSubscriptions(t *testing.T) {
	rp := newReplay(t, patAuth,
		getBilling,
		withFile(listSubs, "subscriptions.json"),
		exchange{Method: "PUT", Path: "/fabrikam/_apis/hooks/subscriptions/" + pushSubID, Query: v("7.1"), File: "subscription.json", Body: subscriptionBody("git.push", pushSubID)},
		exchange{Method: "POST", Path: "/fabrikam/_apis/hooks/subscriptions", Query: v("7.1"), File: "subscription.json", Body: subscriptionBody("git.pullrequest.created", "")},
	)
	change, err := hosttest.HookRegistrar(t, rp.client(azure.Services(), services, patCred)).EnsureHook(t.Context(), billing, wantHook)
	if err != nil || change != relay.HookUpdated {
		t.Fatalf("EnsureHook = %q, %v; want updated", change, err)
	}
}

// Azure DevOps shows no password: enabled subscriptions are left alone
// only when gitrelay knows it set the password.
func TestEnsureHookLeavesRightSubscriptionsAloneOnlyWhenThePasswordIsKnown(t *testing.T) {
	right := `{"count":2,"value":[` +
		`{"id":"` + pushSubID + `","status":"enabled","publisherId":"tfs","eventType":"git.push","consumerId":"webHooks","consumerActionId":"httpRequest",` +
		`"publisherInputs":{"projectId":"` + fiberID + `","repository":"` + billingID + `"},"consumerInputs":{"url":"` + hookURL + `","basicAuthUsername":"gitrelay","basicAuthPassword":"********"}},` +
		`{"id":"7b2e9c4d-6a1f-4d3b-9e8c-0a5f2d7b1e6c","status":"enabled","publisherId":"tfs","eventType":"git.pullrequest.created","consumerId":"webHooks","consumerActionId":"httpRequest",` +
		`"publisherInputs":{"projectId":"` + fiberID + `","repository":"` + billingID + `"},"consumerInputs":{"url":"` + hookURL + `","basicAuthUsername":"gitrelay","basicAuthPassword":"********"}}]}`
	rp := newReplay(t, patAuth,
		getBilling, withReply(listSubs, right),
		getBilling, withReply(listSubs, right),
		exchange{Method: "PUT", Path: "/fabrikam/_apis/hooks/subscriptions/" + pushSubID, Query: v("7.1"), File: "subscription.json", Body: subscriptionBody("git.push", pushSubID)},
		exchange{Method: "PUT", Path: "/fabrikam/_apis/hooks/subscriptions/7b2e9c4d-6a1f-4d3b-9e8c-0a5f2d7b1e6c", Query: v("7.1"), File: "subscription.json",
			Body: subscriptionBody("git.pullrequest.created", "7b2e9c4d-6a1f-4d3b-9e8c-0a5f2d7b1e6c")},
	)
	h := hosttest.HookRegistrar(t, rp.client(azure.Services(), services, patCred))
	known := wantHook
	known.SecretSet = true
	if change, err := h.EnsureHook(t.Context(), billing, known); err != nil || change != relay.HookUnchanged {
		t.Errorf("EnsureHook(password set) = %q, %v; want unchanged", change, err)
	}
	if change, err := h.EnsureHook(t.Context(), billing, wantHook); err != nil || change != relay.HookUpdated {
		t.Errorf("EnsureHook(password not known) = %q, %v; want updated", change, err)
	}
}

func TestFindHookGathersTheRepositorysSubscriptions(t *testing.T) {
	rp := newReplay(t, patAuth,
		getBilling, withFile(listSubs, "subscriptions.json"),
		getBilling, withFile(listSubs, "subscriptions.json"),
	)
	h := hosttest.HookRegistrar(t, rp.client(azure.Services(), services, patCred))
	got, err := h.FindHook(t.Context(), billing, hookURL)
	if err != nil || got.ID != pushSubID || got.Active || !host.SameEvents(got.Events, []string{"git.push"}) {
		t.Errorf("FindHook = %+v, %v; want the disabled push subscription", got, err)
	}
	_, err = h.FindHook(t.Context(), billing, "https://gitrelay.example.com/hooks/other")
	wantCode(t, err, relay.ENotFound, "FindHook(another URL)")
}

func TestHookRefusals(t *testing.T) {
	create := exchange{Method: "POST", Path: "/fabrikam/_apis/hooks/subscriptions", Query: v("7.1"), Body: subscriptionBody("git.push", "")}
	for _, tc := range []struct {
		name   string
		script []exchange
		code   string
		scope  string
		says   string
	}{
		{"403: the account may not edit subscriptions", []exchange{getBilling, withFile(listSubs, "empty_list.json"), answer(create, 403, "err_hooks_access_denied.json")},
			relay.EScopeMissing, "", "Edit subscriptions"},
		{"401 to a live token: no Service Hooks scope", []exchange{getBilling, answer(listSubs, 401, "err_unauthorized.json"),
			{Method: "GET", Path: "/fabrikam/_apis/connectionData", File: "connection_data.json"}},
			relay.EScopeMissing, "vso.hooks_write", "Service Hooks (Read & write)"},
		{"400: Azure DevOps refuses the subscription", []exchange{getBilling, withFile(listSubs, "empty_list.json"), answer(create, 400, "err_hooks_bad_input.json")},
			relay.EInvalid, "", "could not be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newReplay(t, patAuth, tc.script...)
			_, err := hosttest.HookRegistrar(t, rp.client(azure.Services(), services, patCred)).EnsureHook(t.Context(), billing, wantHook)
			e := wantCode(t, err, tc.code, "EnsureHook")
			if e.Scope != tc.scope || !strings.Contains(e.Message, tc.says) {
				t.Errorf("error %+v, want scope %q and a message mentioning %q", e, tc.scope, tc.says)
			}
			noHookSecret(t, err)
		})
	}
}

// TFS 2013 has no service hooks: gitrelay says so without asking it.
func TestTFS2013HasNoServiceHooks(t *testing.T) {
	rp := newReplay(t, basic(`FABRIKAM\bot`, wirePassword))
	c := rp.client(azure.Server(), relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2013"}},
		relay.PasswordCredential(`FABRIKAM\bot`, wirePassword))
	_, err := hosttest.HookRegistrar(t, c).EnsureHook(t.Context(), billing, wantHook)
	e := wantCode(t, err, relay.EInvalid, "EnsureHook on TFS 2013")
	if !strings.Contains(e.Message, "no service hooks") {
		t.Errorf("message %q, want it to say TFS 2013 has no service hooks", e.Message)
	}
}

func withFile(ex exchange, file string) exchange {
	ex.File = file
	return ex
}

func withReply(ex exchange, body string) exchange {
	ex.Reply = body
	return ex
}

func answer(ex exchange, status int, file string) exchange {
	ex.Status, ex.File = status, file
	return ex
}
