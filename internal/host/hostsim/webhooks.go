package hostsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// HookFormat is the wire format of a host's webhook deliveries.
type HookFormat string

const (
	HookGitHub HookFormat = "github" // X-GitHub-Event, X-Hub-Signature-256
	HookGitLab HookFormat = "gitlab" // X-Gitlab-Event, X-Gitlab-Token
	HookGitea  HookFormat = "gitea"  // X-Gitea-Event, X-Gitea-Signature
	HookAzure  HookFormat = "azure"  // service hook, basic authentication
)

// Hook is a webhook registered on a repository: the simulator delivers to
// URL, as the host does, every push (a branch created, moved or deleted)
// and every pull request change, with the host's payload and its proof of
// Secret.
type Hook struct {
	URL    string
	Secret string
	Format HookFormat
	// User is the basic authentication user name (Azure); default
	// "gitrelay".
	User string
	// Client sends the deliveries; default a client giving up after 10 s,
	// as hosts do.
	Client *http.Client
}

// hookClient delivers when a Hook names no client: a receiver that does
// not answer must not hold the change (deliveries are synchronous) for long.
var hookClient = &http.Client{Timeout: 10 * time.Second}

// Delivery is one webhook delivery the simulator made.
type Delivery struct {
	Repo   string
	Event  string // push, pull_request
	Status int    // 0 when it could not be sent
	Err    error
}

// AddHook registers h on the repository fullName.
func (s *Sim) AddHook(fullName string, h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(fullName)
	if s.hooks == nil {
		s.hooks = map[string][]Hook{}
	}
	key := strings.ToLower(fullName)
	s.hooks[key] = append(s.hooks[key], h)
}

// Deliveries returns every webhook delivery made so far, in order.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// HookEvent is a change to deliver.
type HookEvent struct {
	repo   string
	event  string // push, pull_request
	ref    string // push: the branch
	before string
	after  string
	pr     *PR // pull_request
	action string
}

// emit delivers ev to the repository's hooks, synchronously, after the
// change (callers do not hold mu).
func (s *Sim) emit(ev HookEvent) {
	s.mu.Lock()
	r := s.repos[strings.ToLower(ev.repo)]
	var hooks []Hook
	var v repoView
	if r != nil {
		hooks = slices.Clone(s.hooks[strings.ToLower(ev.repo)])
		v = view(r, "")
	}
	s.mu.Unlock()
	for _, h := range hooks {
		req, err := HookRequest(context.Background(), h, v.Repo, ev)
		d := Delivery{Repo: v.FullName(), Event: ev.event}
		if err == nil {
			c := h.Client
			if c == nil {
				c = hookClient
			}
			var resp *http.Response
			resp, err = c.Do(req)
			if err == nil {
				d.Status = resp.StatusCode
				_ = resp.Body.Close()
			}
		}
		d.Err = err
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}
}

// PushEvent is the event of a push to branch of repo, from before to
// after, for a test that delivers (or forges) one itself with HookRequest.
func PushEvent(repo, branch, before, after string) HookEvent {
	return *pushed(repo, branch, before, after)
}

// HookRequest builds the request a host sends to h for ev (PushEvent) in
// repo, with the host's payload, headers and proof of h.Secret.
func HookRequest(ctx context.Context, h Hook, repo Repo, e HookEvent) (*http.Request, error) {
	body, err := json.Marshal(hookPayload(h.Format, repo, e))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	mac := hmac.New(sha256.New, []byte(h.Secret))
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	delivery := fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().UnixNano()&0xffffffff, len(body))
	switch h.Format {
	case HookGitHub:
		req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
		req.Header.Set("X-GitHub-Event", e.event)
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-GitHub-Hook-ID", "292430182")
		req.Header.Set("X-Hub-Signature-256", "sha256="+sig)
	case HookGitea:
		req.Header.Set("X-Gitea-Event", e.event)
		req.Header.Set("X-Gitea-Delivery", delivery)
		req.Header.Set("X-GitHub-Event", e.event)
		req.Header.Set("X-Gitea-Signature", sig)
	case HookGitLab:
		name := map[string]string{"push": "Push Hook", "pull_request": "Merge Request Hook"}[e.event]
		req.Header.Set("User-Agent", "GitLab/17.0.0")
		req.Header.Set("X-Gitlab-Event", name)
		req.Header.Set("X-Gitlab-Event-UUID", delivery)
		req.Header.Set("X-Gitlab-Token", h.Secret)
	case HookAzure:
		user := h.User
		if user == "" {
			user = "gitrelay"
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+h.Secret)))
	}
	return req, nil
}

func hookPayload(format HookFormat, repo Repo, e HookEvent) map[string]any {
	full := repo.FullName()
	switch format {
	case HookGitLab:
		project := map[string]any{"id": repo.ID, "name": repo.Name, "path_with_namespace": full,
			"default_branch": repo.DefaultBranch, "web_url": "https://gitlab.example/" + full}
		if e.event == "push" {
			return map[string]any{"object_kind": "push", "event_name": "push", "ref": "refs/heads/" + e.ref,
				"before": e.before, "after": e.after, "project_id": repo.ID, "project": project, "commits": []any{}, "total_commits_count": 0}
		}
		return map[string]any{"object_kind": "merge_request", "event_type": "merge_request", "project": project,
			"object_attributes": prAttributes(e.pr, e.action)}
	case HookAzure:
		project := map[string]any{"id": azProjectGUID(repo.Owner), "name": repo.Owner}
		repository := map[string]any{"id": azRepoGUID(repo.ID), "name": repo.Name, "project": project}
		if e.event == "push" {
			return map[string]any{"subscriptionId": "00000000-0000-0000-0000-000000000000", "eventType": "git.push", "publisherId": "tfs",
				"resource": map[string]any{"repository": repository, "refUpdates": []any{map[string]any{
					"name": "refs/heads/" + e.ref, "oldObjectId": e.before, "newObjectId": e.after}}}}
		}
		kind := map[string]string{"opened": "created", "closed": "updated", "merged": "merged", "edited": "updated"}[e.action]
		return map[string]any{"subscriptionId": "00000000-0000-0000-0000-000000000000", "eventType": "git.pullrequest." + kind, "publisherId": "tfs",
			"resource": map[string]any{"repository": repository, "pullRequestId": prNumber(e.pr)}}
	}
	repository := map[string]any{"id": repo.ID, "name": repo.Name, "full_name": full, "private": repo.Private,
		"owner": map[string]any{"login": repo.Owner}, "default_branch": repo.DefaultBranch}
	if e.event == "push" {
		return map[string]any{"ref": "refs/heads/" + e.ref, "before": e.before, "after": e.after,
			"created": e.before == zeroSHA, "deleted": e.after == zeroSHA,
			"repository": repository, "pusher": map[string]any{"name": repo.Owner}, "sender": map[string]any{"login": repo.Owner}, "commits": []any{}}
	}
	return map[string]any{"action": e.action, "number": prNumber(e.pr), "pull_request": prAttributes(e.pr, e.action), "repository": repository,
		"sender": map[string]any{"login": repo.Owner}}
}

const zeroSHA = "0000000000000000000000000000000000000000"

func prNumber(p *PR) int {
	if p == nil {
		return 0
	}
	return p.Number
}

func prAttributes(p *PR, action string) map[string]any {
	if p == nil {
		return map[string]any{}
	}
	return map[string]any{"number": p.Number, "iid": p.Number, "title": p.Title, "state": map[bool]string{true: "open", false: "closed"}[p.Open],
		"merged": p.Merged, "draft": p.Draft, "action": action, "head": map[string]any{"ref": p.Source}, "base": map[string]any{"ref": p.Target},
		"source_branch": p.Source, "target_branch": p.Target, "updated_at": updatedAt(p.UpdatedAt)}
}

// emitLater delivers *ev, if set, when the deferring function returns:
// deferred before it locks mu, it runs after the unlock.
func (s *Sim) emitLater(ev **HookEvent) {
	if *ev == nil {
		return
	}
	s.mu.Lock()
	listening := len(s.hooks[strings.ToLower((*ev).repo)]) > 0
	s.mu.Unlock()
	if listening {
		s.emit(**ev)
	}
}

func pushed(repo, branch, before, after string) *HookEvent {
	if before == "" {
		before = zeroSHA
	}
	return &HookEvent{repo: repo, event: "push", ref: branch, before: before, after: after}
}

// pullRequestChanged copies p: the delivery is built after mu is released.
func pullRequestChanged(repo string, p *PR, action string) *HookEvent {
	c := *p
	return &HookEvent{repo: repo, event: "pull_request", pr: &c, action: action}
}
