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
	"net/url"
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
// and every pull request change it asks for, with the host's payload and
// its proof of Secret. Hooks come from AddHook or from the front-ends'
// webhook APIs.
type Hook struct {
	// ID is the host's id of the hook, given by the simulator.
	ID     int64
	URL    string
	Secret string
	Format HookFormat
	// User is the basic authentication user name (Azure); default
	// "gitrelay".
	User string
	// Events are the events delivered, in the names the host's API takes
	// for Format (GitHub's and Gitea's "push" and "pull_request",
	// GitLab's "push_events" and "merge_requests_events", an Azure DevOps
	// subscription's "git.push" or "git.pullrequest.created"); none
	// delivers every event.
	Events []string
	// Inactive hooks are delivered nothing.
	Inactive bool
	// ContentType "form" makes GitHub and Gitea deliver the JSON as the
	// form field payload, as they do for such hooks; default JSON.
	ContentType string
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

// AddHook registers h on the repository fullName and returns it with its
// ID.
func (s *Sim) AddHook(fullName string, h Hook) Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(fullName)
	return s.addHook(fullName, h)
}

// addHook registers h on the repository fullName. Callers hold mu.
func (s *Sim) addHook(fullName string, h Hook) Hook {
	if s.hooks == nil {
		s.hooks = map[string][]Hook{}
	}
	s.lastHook++
	h.ID = s.lastHook
	h.Events = slices.Clone(h.Events)
	key := strings.ToLower(fullName)
	s.hooks[key] = append(s.hooks[key], h)
	return h
}

// Hooks returns the hooks of the repository fullName, oldest first,
// secrets included: what a test checks a registration against.
func (s *Sim) Hooks(fullName string) []Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(fullName)
	return slices.Clone(s.hooks[strings.ToLower(fullName)])
}

// createHook registers h on the repository fullName, as a front-end's
// webhook API does.
func (s *Sim) createHook(fullName string, h Hook) Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addHook(fullName, h)
}

// updateHook changes the hook id of the repository fullName; ok is false
// when it has no such hook.
func (s *Sim) updateHook(fullName string, id int64, change func(*Hook)) (Hook, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hooks := s.hooks[strings.ToLower(fullName)]
	for i := range hooks {
		if hooks[i].ID == id {
			change(&hooks[i])
			hooks[i].Events = slices.Clone(hooks[i].Events)
			return hooks[i], true
		}
	}
	return Hook{}, false
}

// repoHook is a hook with the repository it is registered on.
type repoHook struct {
	repo repoView
	hook Hook
}

// hooksOf lists the hooks of format on every repository, as login sees
// the repositories, ordered by id: Azure DevOps lists a collection's
// subscriptions, not a repository's.
func (s *Sim) hooksOf(format HookFormat, login string) []repoHook {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []repoHook
	for key, hooks := range s.hooks {
		for _, h := range hooks {
			if h.Format == format {
				out = append(out, repoHook{repo: view(s.repos[key], login), hook: h})
			}
		}
	}
	slices.SortFunc(out, func(a, b repoHook) int { return int(a.hook.ID - b.hook.ID) })
	return out
}

// wants reports whether h is delivered ev.
func wants(h Hook, ev HookEvent) bool {
	if h.Inactive {
		return false
	}
	if len(h.Events) == 0 {
		return true
	}
	return slices.Contains(h.Events, eventName(h.Format, ev))
}

// eventName is what the host of format calls ev when subscribing to it.
func eventName(format HookFormat, ev HookEvent) string {
	switch {
	case format == HookGitLab && ev.event == "push":
		return "push_events"
	case format == HookGitLab:
		return "merge_requests_events"
	case format == HookAzure && ev.event == "push":
		return "git.push"
	case format == HookAzure:
		return "git.pullrequest." + azPullRequestEvent(ev.action)
	}
	return ev.event
}

// azPullRequestEvent is the Azure DevOps event a pull request's change
// is: git.pullrequest.created, .updated or .merged.
func azPullRequestEvent(action string) string {
	switch action {
	case "opened":
		return "created"
	case "merged":
		return "merged"
	}
	return "updated"
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
		if wants(h, ev) {
			s.deliver(h, v, ev)
		}
	}
}

// deliver sends ev to h, records the delivery and returns its status (0
// when it could not be sent).
func (s *Sim) deliver(h Hook, v repoView, ev HookEvent) int {
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
	return d.Status
}

// testHook delivers a push of the default branch to the hook id of the
// repository fullName, whether or not it is active, and turns it on when
// the delivery is answered 2xx: how a host tests a hook. It returns the
// delivery's status (0 when it could not be sent); found is false when
// the repository has no such hook.
func (s *Sim) testHook(fullName string, id int64) (status int, found bool) {
	s.mu.Lock()
	r := s.mustRepo(fullName)
	var hook Hook
	for _, h := range s.hooks[strings.ToLower(fullName)] {
		if h.ID == id {
			hook, found = h, true
		}
	}
	v := view(r, "")
	tip := r.branches[r.DefaultBranch]
	s.mu.Unlock()
	if !found {
		return 0, false
	}
	status = s.deliver(hook, v, *pushed(fullName, v.DefaultBranch, tip, tip))
	if status >= 200 && status <= 299 {
		s.updateHook(fullName, id, func(h *Hook) { h.Inactive = false })
	}
	return status, true
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
	contentType := "application/json"
	if h.ContentType == "form" && (h.Format == HookGitHub || h.Format == HookGitea) {
		body = []byte("payload=" + url.QueryEscape(string(body)))
		contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
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
		return map[string]any{"subscriptionId": "00000000-0000-0000-0000-000000000000", "eventType": "git.pullrequest." + azPullRequestEvent(e.action), "publisherId": "tfs",
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
