package gitea

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ relay.HookRegistrar = (*hostClient)(nil)

// apiHook is a repository webhook as Gitea and Forgejo list it; its
// config never shows the secret.
type apiHook struct {
	ID     int64             `json:"id"`
	Type   string            `json:"type"`
	Config map[string]string `json:"config"`
	Events []string          `json:"events"`
	Active bool              `json:"active"`
}

// hookBody creates (with its type) or edits a webhook: a Gitea hook (the
// type Forgejo accepts too) posting JSON signed with the secret, for
// every branch.
type hookBody struct {
	Type         string            `json:"type,omitempty"`
	Config       map[string]string `json:"config"`
	Events       []string          `json:"events"`
	BranchFilter string            `json:"branch_filter"`
	Active       bool              `json:"active"`
}

func (c *hostClient) FindHook(ctx context.Context, repo relay.Repository, url string) (relay.HostHook, error) {
	repo, _, hook, found, err := c.findHook(ctx, repo, url)
	if err != nil {
		return relay.HostHook{}, err
	}
	if !found {
		return relay.HostHook{}, relay.Errorf(relay.ENotFound, "%s has no webhook delivering to %s.", repo.FullName, url)
	}
	return relay.HostHook{ID: strconv.FormatInt(hook.ID, 10), URL: hook.Config["url"], Events: hook.Events, Active: hook.Active}, nil
}

// EnsureHook edits the webhook delivering to h.URL (PATCH), or creates
// it (POST).
func (c *hostClient) EnsureHook(ctx context.Context, repo relay.Repository, h relay.Hook) (relay.HookChange, error) {
	repo, path, existing, found, err := c.findHook(ctx, repo, h.URL)
	if err != nil {
		return "", err
	}
	if found && h.SecretSet && existing.Active && existing.Config["content_type"] == "json" && host.SameEvents(existing.Events, h.Events) {
		return relay.HookUnchanged, nil
	}
	secret := h.Secret.Token()
	body := hookBody{Config: map[string]string{"url": h.URL, "content_type": "json", "secret": secret},
		Events: h.Events, BranchFilter: "*", Active: true}
	r := request{method: http.MethodPatch, path: path + "/hooks/" + strconv.FormatInt(existing.ID, 10), call: call{op: opUpdateHook, repo: repo.FullName}}
	change := relay.HookUpdated
	if !found {
		body.Type = "gitea"
		r.method, r.path, r.call.op = http.MethodPost, path+"/hooks", opCreateHook
		change = relay.HookCreated
	}
	r.body = body
	if _, err := c.do(ctx, r, nil); err != nil {
		if e, ok := relay.AsError(err); ok {
			return "", host.Redact(e, secret)
		}
		return "", host.RedactError(err, secret)
	}
	return change, nil
}

// findHook returns the repository, its API path and its webhook
// delivering to url, if it has one. Listing webhooks needs admin rights.
func (c *hostClient) findHook(ctx context.Context, repo relay.Repository, url string) (relay.Repository, string, apiHook, bool, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return repo, "", apiHook{}, false, err
	}
	var hook apiHook
	found := false
	err = pages(func(page int) (int, http.Header, error) {
		var list []apiHook
		h, err := c.do(ctx, request{method: http.MethodGet, path: path + "/hooks", query: listQuery(page), call: call{op: opListHooks, repo: repo.FullName}}, &list)
		if err != nil {
			return 0, nil, err
		}
		for _, hk := range list {
			if host.SameHookURL(hk.Config["url"], url) {
				hook, found = hk, true
				return 0, h, nil // stop
			}
		}
		return len(list), h, nil
	})
	return repo, path, hook, found, err
}
