package github

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ relay.HookRegistrar = (*hostClient)(nil)

// ghHook is a repository webhook as GitHub lists it. Its config never
// shows the secret ("********"), and insecure_ssl may be a string or a
// number, so neither is read.
type ghHook struct {
	ID     int64    `json:"id"`
	Name   string   `json:"name"`
	Active bool     `json:"active"`
	Events []string `json:"events"`
	Config struct {
		URL         string `json:"url"`
		ContentType string `json:"content_type"`
	} `json:"config"`
}

// ghHookConfig is the config gitrelay sends: JSON payloads signed with
// the secret, and the certificate checked.
type ghHookConfig struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Secret      string `json:"secret"`
	InsecureSSL string `json:"insecure_ssl"`
}

// ghHookBody creates (POST, with name "web") or edits (PATCH) a hook.
type ghHookBody struct {
	Name   string       `json:"name,omitempty"`
	Config ghHookConfig `json:"config"`
	Events []string     `json:"events"`
	Active bool         `json:"active"`
}

func (h ghHook) hostHook() relay.HostHook {
	return relay.HostHook{ID: strconv.FormatInt(h.ID, 10), URL: h.Config.URL, Events: h.Events, Active: h.Active}
}

// FindHook lists the repository's webhooks (admin rights needed) and
// returns the one delivering to url.
func (c *hostClient) FindHook(ctx context.Context, repo relay.Repository, url string) (relay.HostHook, error) {
	repo, hook, found, err := c.findHook(ctx, repo, url)
	if err != nil {
		return relay.HostHook{}, err
	}
	if !found {
		return relay.HostHook{}, relay.Errorf(relay.ENotFound, "%s has no webhook delivering to %s.", repo.FullName, url)
	}
	return hook.hostHook(), nil
}

// EnsureHook sets the webhook delivering to h.URL again (PATCH), or
// creates it (POST): JSON payloads, h.Events, active, signed with the
// secret.
func (c *hostClient) EnsureHook(ctx context.Context, repo relay.Repository, h relay.Hook) (relay.HookChange, error) {
	repo, existing, found, err := c.findHook(ctx, repo, h.URL)
	if err != nil {
		return "", err
	}
	if found && h.SecretSet && existing.Active && existing.Config.ContentType == "json" && host.SameEvents(existing.Events, h.Events) {
		return relay.HookUnchanged, nil
	}
	secret := h.Secret.Token()
	body := ghHookBody{Config: ghHookConfig{URL: h.URL, ContentType: "json", Secret: secret, InsecureSSL: "0"},
		Events: h.Events, Active: true}
	path := "repos/" + repo.FullName + "/hooks"
	k := call{op: opCreateHook, repo: repo.FullName}
	method, change := http.MethodPost, relay.HookCreated
	if found {
		path += "/" + strconv.FormatInt(existing.ID, 10)
		k.op, method, change = opUpdateHook, http.MethodPatch, relay.HookUpdated
	} else {
		body.Name = "web"
	}
	req, err := c.gh.NewRequest(ctx, method, path, body)
	if err != nil {
		return "", fmt.Errorf("github: building the webhook request: %w", err)
	}
	start := time.Now()
	if _, err := c.gh.Do(req, nil); err != nil {
		return "", c.failHook(err, start, k, secret)
	}
	return change, nil
}

// findHook returns the repository (named, looked up by id if need be)
// and its hook delivering to url, if it has one.
func (c *hostClient) findHook(ctx context.Context, repo relay.Repository, url string) (relay.Repository, ghHook, bool, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return repo, ghHook{}, false, err
	}
	for page := 1; page <= maxPages; page++ {
		req, err := c.gh.NewRequest(ctx, http.MethodGet, fmt.Sprintf("repos/%s/%s/hooks?per_page=100&page=%d", owner, name, page), nil)
		if err != nil {
			return repo, ghHook{}, false, fmt.Errorf("github: building the webhook list request: %w", err)
		}
		var hooks []ghHook
		start := time.Now()
		resp, err := c.gh.Do(req, &hooks)
		if err != nil {
			return repo, ghHook{}, false, c.fail(err, start, call{op: opListHooks, repo: repo.FullName})
		}
		for _, hk := range hooks {
			if host.SameHookURL(hk.Config.URL, url) {
				return repo, hk, true, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
	}
	return repo, ghHook{}, false, nil
}

// failHook is fail for a request that carried the webhook secret: the
// error cannot carry it either.
func (c *hostClient) failHook(err error, start time.Time, k call, secret string) error {
	err = c.fail(err, start, k)
	if e, ok := relay.AsError(err); ok {
		return host.Redact(e, secret)
	}
	return host.RedactError(err, secret)
}
