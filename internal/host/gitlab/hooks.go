package gitlab

import (
	"context"
	"slices"
	"strconv"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ relay.HookRegistrar = (*hostClient)(nil)

// hookEvents are the project hook's event switches gitrelay sets, by
// their API names (as webhook.Events names them): each is on when asked
// for and off otherwise.
var hookEvents = []string{"push_events", "tag_push_events", "merge_requests_events"}

// events are the switches of hookEvents that p has on.
func events(p *gl.ProjectHook) []string {
	on := map[string]bool{"push_events": p.PushEvents, "tag_push_events": p.TagPushEvents, "merge_requests_events": p.MergeRequestsEvents}
	var out []string
	for _, e := range hookEvents {
		if on[e] {
			out = append(out, e)
		}
	}
	return out
}

// active is false for a hook GitLab stopped delivering to after failures.
func active(p *gl.ProjectHook) bool {
	return p.AlertStatus != "disabled" && p.AlertStatus != "temporarily_disabled"
}

func (c *hostClient) FindHook(ctx context.Context, repo relay.Repository, url string) (relay.HostHook, error) {
	hook, found, err := c.findHook(ctx, repo, url)
	if err != nil {
		return relay.HostHook{}, err
	}
	if !found {
		return relay.HostHook{}, relay.Errorf(relay.ENotFound, "%s has no webhook delivering to %s.", repoName(repo), url)
	}
	return relay.HostHook{ID: strconv.FormatInt(hook.ID, 10), URL: hook.URL, Events: events(hook), Active: active(hook)}, nil
}

// EnsureHook sets the project hook delivering to h.URL again (PUT), or
// adds it (POST): the events asked for, the secret token GitLab sends as
// X-Gitlab-Token, and TLS verification on.
func (c *hostClient) EnsureHook(ctx context.Context, repo relay.Repository, h relay.Hook) (relay.HookChange, error) {
	id, err := pid(repo)
	if err != nil {
		return "", err
	}
	want := map[string]bool{}
	for _, e := range h.Events {
		if !slices.Contains(hookEvents, e) {
			return "", relay.Errorf(relay.EInvalid, "%s has no webhook event %q.", c.name, e)
		}
		want[e] = true
	}
	existing, found, err := c.findHook(ctx, repo, h.URL)
	if err != nil {
		return "", err
	}
	if found && h.SecretSet && active(existing) && existing.EnableSSLVerification && host.SameEvents(events(existing), h.Events) {
		return relay.HookUnchanged, nil
	}
	token := h.Secret.Token()
	start := time.Now()
	if !found {
		_, _, err = c.gl.Projects.AddProjectHook(id, &gl.AddProjectHookOptions{
			URL: gl.Ptr(h.URL), Token: gl.Ptr(token), EnableSSLVerification: gl.Ptr(true),
			PushEvents: gl.Ptr(want["push_events"]), TagPushEvents: gl.Ptr(want["tag_push_events"]),
			MergeRequestsEvents: gl.Ptr(want["merge_requests_events"]),
		}, gl.WithContext(ctx))
		if err != nil {
			return "", c.failHook(err, start, call{op: opCreateHook, repo: repoName(repo)}, token)
		}
		return relay.HookCreated, nil
	}
	_, _, err = c.gl.Projects.EditProjectHook(id, existing.ID, &gl.EditProjectHookOptions{
		URL: gl.Ptr(h.URL), Token: gl.Ptr(token), EnableSSLVerification: gl.Ptr(true),
		PushEvents: gl.Ptr(want["push_events"]), TagPushEvents: gl.Ptr(want["tag_push_events"]),
		MergeRequestsEvents: gl.Ptr(want["merge_requests_events"]),
	}, gl.WithContext(ctx))
	if err != nil {
		return "", c.failHook(err, start, call{op: opUpdateHook, repo: repoName(repo)}, token)
	}
	if !active(existing) {
		// GitLab keeps a hook it disabled after failed deliveries off
		// until a test delivery to it is answered.
		start = time.Now()
		if _, err := c.gl.Projects.TriggerTestProjectHook(id, existing.ID, gl.ProjectHookEventPush, gl.WithContext(ctx)); err != nil {
			e := relay.Errorf(relay.EHostError, "%s set the webhook of %s again but keeps it off after earlier failed deliveries, and its test delivery did not turn it back on (%s). Send a test from the project's Webhooks settings.",
				c.name, repoName(repo), relay.ErrorMessage(c.fail(err, start, call{op: opUpdateHook, repo: repoName(repo)})))
			return "", host.Redact(e, token)
		}
	}
	return relay.HookUpdated, nil
}

// findHook returns the project's hook delivering to url, if it has one.
// Listing hooks needs the Maintainer role.
func (c *hostClient) findHook(ctx context.Context, repo relay.Repository, url string) (*gl.ProjectHook, bool, error) {
	id, err := pid(repo)
	if err != nil {
		return nil, false, err
	}
	opts := &gl.ListProjectHooksOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: 1}}
	for range maxPages {
		start := time.Now()
		list, resp, err := c.gl.Projects.ListProjectHooks(id, opts, gl.WithContext(ctx))
		if err != nil {
			return nil, false, c.fail(err, start, call{op: opListHooks, repo: repoName(repo)})
		}
		for _, p := range list {
			if host.SameHookURL(p.URL, url) {
				return p, true, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return nil, false, nil
}

// failHook is fail for a request that carried the webhook's token.
func (c *hostClient) failHook(err error, start time.Time, k call, secret string) error {
	err = c.fail(err, start, k)
	if e, ok := relay.AsError(err); ok {
		return host.Redact(e, secret)
	}
	return host.RedactError(err, secret)
}
