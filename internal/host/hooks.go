package host

import (
	"context"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Hooks returns c's relay.HookRegistrar, if its host kind registers
// webhooks, seeing through the registry's wrapping (like PullRequests).
func Hooks(c relay.HostClient) (relay.HookRegistrar, bool) {
	s, wrapped := c.(safeLinks)
	if !wrapped {
		h, ok := c.(relay.HookRegistrar)
		return h, ok
	}
	c = s.HostClient
	t, isTraced := c.(traced)
	if isTraced {
		c = t.next
	}
	h, ok := c.(relay.HookRegistrar)
	if !ok {
		return nil, false
	}
	if isTraced {
		h = tracedHooks{next: h, kind: t.kind}
	}
	return h, true
}

// Hooks implements relay.Hosts.
func (r *Registry) Hooks(c relay.HostClient) (relay.HookRegistrar, bool) { return Hooks(c) }

// tracedHooks is the hook capability of a traced client.
type tracedHooks struct {
	next relay.HookRegistrar
	kind string
}

func (c tracedHooks) FindHook(ctx context.Context, repo relay.Repository, url string) (relay.HostHook, error) {
	ctx, span := traced{kind: c.kind}.start(ctx, OpFindHook)
	h, err := c.next.FindHook(ctx, repo, url)
	end(span, err)
	return h, err
}

func (c tracedHooks) EnsureHook(ctx context.Context, repo relay.Repository, h relay.Hook) (relay.HookChange, error) {
	ctx, span := traced{kind: c.kind}.start(ctx, OpEnsureHook)
	ch, err := c.next.EnsureHook(ctx, repo, h)
	end(span, err)
	return ch, err
}

// SameEvents reports whether a hook delivers exactly the events want
// (in any order, each once), as adapters compare a host's hook with the
// one gitrelay asks for.
func SameEvents(have, want []string) bool {
	a, b := slices.Clone(have), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// SameHookURL reports whether a host's hook delivers to url. Hosts keep
// the URL as it was given; only the scheme and host are compared without
// regard to case.
func SameHookURL(have, url string) bool {
	if have == url {
		return true
	}
	hs, hr, ok1 := strings.Cut(have, "://")
	us, ur, ok2 := strings.Cut(url, "://")
	if !ok1 || !ok2 || !strings.EqualFold(hs, us) {
		return false
	}
	hh, hp, _ := strings.Cut(hr, "/")
	uh, up, _ := strings.Cut(ur, "/")
	return strings.EqualFold(hh, uh) && hp == up
}
