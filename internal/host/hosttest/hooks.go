package hosttest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// runHooks checks a kind's relay.HookRegistrar against the simulator:
// alice registers a webhook on her own repository (created, found, left
// alone once its secret is known, set again with a new secret), the host
// then delivers a push to it; a repository she only pushes to, or a token
// without the host's scope for hooks, is refused with EScopeMissing and
// nothing changes. A kind without Env.Hooks must not register webhooks.
func runHooks(f *fixture) {
	t := f.t
	if f.env.Hooks == nil {
		if _, ok := host.Hooks(f.client(f.full(alice))); ok {
			t.Error("the client registers webhooks (relay.HookRegistrar), but Env.Hooks does not say how")
		}
		return
	}
	env := *f.env.Hooks
	if env.Secret == nil {
		env.Secret = relay.TokenCredential
	}
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	secret, rotated := f.canary("hookA"), f.canary("hookB")
	hook := relay.Hook{URL: receiver.URL + "/hooks/01JCONTRACT", Events: env.Events, Secret: env.Secret(secret)}

	c := f.client(f.token(alice, env.Token))
	hooks, ok := host.Hooks(c)
	if !ok {
		t.Fatal("Env.Hooks is set, but the client registers no webhooks")
	}
	repo := f.repo(c, dotfiles)
	if env.Refused != "" {
		writes := len(f.sim.Writes())
		_, err := hooks.EnsureHook(t.Context(), repo, hook)
		f.want(err, env.Refused, "EnsureHook on a host without webhooks")
		_, err = hooks.FindHook(t.Context(), repo, hook.URL)
		f.want(err, env.Refused, "FindHook on a host without webhooks")
		if len(f.sim.Writes()) != writes {
			t.Errorf("a host without webhooks was sent %d writes", len(f.sim.Writes())-writes)
		}
		return
	}
	_, err := hooks.FindHook(t.Context(), repo, hook.URL)
	f.want(err, relay.ENotFound, "FindHook before any webhook")

	change, err := hooks.EnsureHook(t.Context(), repo, hook)
	f.ok(err, "EnsureHook")
	if change != relay.HookCreated {
		t.Errorf("EnsureHook on a repository without the webhook = %q, want created", change)
	}
	f.hostHooksAre(dotfiles, hook.URL, secret, env.Events)
	found, err := hooks.FindHook(t.Context(), repo, hook.URL)
	f.ok(err, "FindHook")
	if !found.Active || found.ID == "" || !host.SameHookURL(found.URL, hook.URL) || !host.SameEvents(found.Events, env.Events) {
		t.Errorf("FindHook = %+v, want the active webhook delivering %q", found, env.Events)
	}

	writes := len(f.sim.Writes())
	known := hook
	known.SecretSet = true
	change, err = hooks.EnsureHook(t.Context(), repo, known)
	f.ok(err, "EnsureHook (secret set)")
	if change != relay.HookUnchanged || len(f.sim.Writes()) != writes {
		t.Errorf("EnsureHook of a right webhook whose secret is set = %q with %d writes, want unchanged and none", change, len(f.sim.Writes())-writes)
	}
	again := hook
	again.Secret = env.Secret(rotated)
	change, err = hooks.EnsureHook(t.Context(), repo, again)
	f.ok(err, "EnsureHook (a new secret)")
	if change != relay.HookUpdated {
		t.Errorf("EnsureHook with a new secret = %q, want updated", change)
	}
	f.hostHooksAre(dotfiles, hook.URL, rotated, env.Events)

	before := received.Load()
	f.sim.Commit(dotfiles, "main")
	if received.Load() != before+1 {
		t.Errorf("a push delivered %d times to the registered webhook, want once", received.Load()-before)
	}

	// alice pushes to widgets but does not administer it.
	widgetsRepo := f.repo(c, widgets)
	_, err = hooks.EnsureHook(t.Context(), widgetsRepo, hook)
	f.want(err, relay.EScopeMissing, "EnsureHook on a repository the account does not administer")
	if n := len(f.sim.Hooks(widgets)); n != 0 {
		t.Errorf("%d webhooks on widgets after a refusal, want none", n)
	}
	if env.Lacking != nil {
		lacking, _ := host.Hooks(f.client(f.token(alice, *env.Lacking)))
		_, err = lacking.EnsureHook(t.Context(), repo, relay.Hook{URL: receiver.URL + "/hooks/other", Events: env.Events, Secret: env.Secret(secret)})
		f.want(err, relay.EScopeMissing, "EnsureHook with a token without the scope for webhooks")
	}
}

// canary returns a fresh secret the suite looks for in every error and
// log, like a token.
func (f *fixture) canary(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	value := fmt.Sprintf("canary%sS%02dx9Q2", name, len(f.secrets))
	f.secrets = append(f.secrets, value)
	return value
}

// hostHooksAre checks the host delivers exactly events to url on the
// repository, proved with secret, and that nothing else delivers there.
func (f *fixture) hostHooksAre(repo, url, secret string, events []string) {
	f.t.Helper()
	var got []string
	for _, h := range f.sim.Hooks(repo) {
		if !host.SameHookURL(h.URL, url) {
			continue
		}
		if h.Secret != secret || h.Inactive {
			f.t.Errorf("the host's webhook %d of %s: secret set %v, inactive %v; want the secret, active", h.ID, repo, h.Secret == secret, h.Inactive)
		}
		if h.Format == hostsim.HookAzure && h.User != "gitrelay" {
			f.t.Errorf("the host's subscription %d of %s authenticates as %q, want gitrelay", h.ID, repo, h.User)
		}
		got = append(got, h.Events...)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(events))
	if !slices.Equal(got, want) {
		f.t.Errorf("the host delivers %q of %s to gitrelay, want %q", got, repo, want)
	}
}
