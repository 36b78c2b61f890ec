package azure

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ relay.HookRegistrar = (*hostClient)(nil)

// A webhook on Azure DevOps is a service hook subscription per event
// type, of the collection (or organization), filtered to one repository:
// publisher tfs, consumer webHooks with action httpRequest, proved by
// basic authentication.
const (
	hookPublisher = "tfs"
	hookConsumer  = "webHooks"
	hookAction    = "httpRequest"
	// hookResourceVersion is the version of the event's resource sent in
	// the payload; 1.0 carries the repository's id, name and project.
	hookResourceVersion = "1.0"
	// noHooksVersion is the api-version of TFS 2013, which has no service
	// hooks.
	noHooksVersion = "1.0"
)

// subscription is a service hook subscription, as listed and as sent.
// Listed, basicAuthPassword shows as "********".
type subscription struct {
	ID               string            `json:"id,omitempty"`
	PublisherID      string            `json:"publisherId"`
	EventType        string            `json:"eventType"`
	ResourceVersion  string            `json:"resourceVersion"`
	ConsumerID       string            `json:"consumerId"`
	ConsumerActionID string            `json:"consumerActionId"`
	PublisherInputs  map[string]string `json:"publisherInputs"`
	ConsumerInputs   map[string]string `json:"consumerInputs"`
	Status           string            `json:"status,omitempty"`
}

// hookTarget is the repository a subscription filters on, with its
// project's id, which the publisher inputs need.
type hookTarget struct {
	repo      relay.Repository
	projectID string
}

func (c *hostClient) FindHook(ctx context.Context, repo relay.Repository, url string) (relay.HostHook, error) {
	target, subs, err := c.subscriptions(ctx, repo, url)
	if err != nil {
		return relay.HostHook{}, err
	}
	if len(subs) == 0 {
		return relay.HostHook{}, relay.Errorf(relay.ENotFound, "%s has no service hook subscription delivering to %s.", target.repo.FullName, url)
	}
	hook := relay.HostHook{ID: subs[0].ID, URL: subs[0].ConsumerInputs["url"], Active: true}
	for _, s := range subs {
		hook.Events = append(hook.Events, s.EventType)
		hook.Active = hook.Active && s.Status == "enabled"
	}
	return hook, nil
}

// EnsureHook makes one enabled subscription per event type of h.Events
// deliver to h.URL for the repository: each existing one is replaced
// (PUT), each missing one created (POST).
func (c *hostClient) EnsureHook(ctx context.Context, repo relay.Repository, h relay.Hook) (relay.HookChange, error) {
	target, subs, err := c.subscriptions(ctx, repo, h.URL)
	if err != nil {
		return "", err
	}
	byEvent := map[string]subscription{}
	for _, s := range subs {
		byEvent[s.EventType] = s
	}
	user, password := h.Secret.Username(), h.Secret.Password()
	created, updated := 0, 0
	for _, event := range h.Events {
		existing, found := byEvent[event]
		if found && h.SecretSet && existing.Status == "enabled" && existing.ConsumerInputs["basicAuthUsername"] == user {
			continue
		}
		sub := subscription{
			PublisherID: hookPublisher, EventType: event, ResourceVersion: hookResourceVersion,
			ConsumerID: hookConsumer, ConsumerActionID: hookAction,
			PublisherInputs: map[string]string{"projectId": target.projectID, "repository": target.repo.ID},
			ConsumerInputs:  map[string]string{"url": h.URL, "basicAuthUsername": user, "basicAuthPassword": password},
		}
		rq := request{method: http.MethodPost, path: "/_apis/hooks/subscriptions", body: sub, versioned: true}
		k := call{op: opCreateHook, repo: target.repo.FullName}
		if found {
			sub.ID, sub.Status = existing.ID, "enabled"
			rq = request{method: http.MethodPut, path: "/_apis/hooks/subscriptions/" + url.PathEscape(existing.ID), body: sub, versioned: true}
			k.op = opUpdateHook
		}
		if _, err := c.send(ctx, k, rq, nil); err != nil {
			if e, ok := relay.AsError(err); ok {
				return "", host.Redact(e, password)
			}
			return "", host.RedactError(err, password)
		}
		if found {
			updated++
		} else {
			created++
		}
	}
	switch {
	case created+updated == 0:
		return relay.HookUnchanged, nil
	case updated == 0 && len(subs) == 0:
		return relay.HookCreated, nil
	}
	return relay.HookUpdated, nil
}

// subscriptions returns the repository, with its project, and its
// webhook subscriptions delivering to url. The collection's subscriptions
// are listed by publisher and consumer; the repository and the URL are
// compared here.
func (c *hostClient) subscriptions(ctx context.Context, repo relay.Repository, hookURL string) (hookTarget, []subscription, error) {
	if c.apiVersion == noHooksVersion {
		return hookTarget{}, nil, relay.Errorf(relay.EInvalid, "%s (TFS 2013) has no service hooks, so it cannot deliver webhooks; its repositories are read on a schedule.", c.name)
	}
	target, err := c.hookTarget(ctx, repo)
	if err != nil {
		return hookTarget{}, nil, err
	}
	var l list[subscription]
	query := url.Values{"publisherId": {hookPublisher}, "consumerId": {hookConsumer}, "consumerActionId": {hookAction}}
	if _, err := c.send(ctx, call{op: opListHooks, repo: target.repo.FullName},
		request{method: http.MethodGet, path: "/_apis/hooks/subscriptions", query: query, versioned: true}, &l); err != nil {
		return target, nil, err
	}
	var out []subscription
	for _, s := range l.Value {
		if strings.EqualFold(s.PublisherInputs["repository"], target.repo.ID) && host.SameHookURL(s.ConsumerInputs["url"], hookURL) {
			out = append(out, s)
		}
	}
	return target, out, nil
}

// hookTarget reads the repository for its project's id.
func (c *hostClient) hookTarget(ctx context.Context, repo relay.Repository) (hookTarget, error) {
	if !isGUID(repo.ID) {
		return hookTarget{}, relay.Errorf(relay.ENotFound, "%q is not a %s repository id.", repo.ID, c.name)
	}
	var r apiRepo
	k := call{op: opGetRepo, repo: repo.ID}
	if _, err := c.send(ctx, k, request{method: http.MethodGet, path: "/_apis/git/repositories/" + repo.ID, versioned: true}, &r); err != nil {
		return hookTarget{}, err
	}
	if r.ID == "" || r.Project.ID == "" {
		return hookTarget{}, c.notFound(k)
	}
	return hookTarget{repo: c.toRepository(r), projectID: r.Project.ID}, nil
}
