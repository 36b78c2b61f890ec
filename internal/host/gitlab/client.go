package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	// perPage is the largest page GitLab serves.
	perPage = 100
	// maxPages bounds how many pages a listing follows, so that an account
	// with very many projects answers in bounded time.
	maxPages = 50
)

// hostClient is a relay.HostClient acting with one token.
type hostClient struct {
	gl    *gl.Client
	name  string // how messages name the host
	web   string // server address, for links the API does not give
	token host.Secret
}

var _ relay.HostClient = (*hostClient)(nil)

// tokenSelf is GET /personal_access_tokens/self. It is decoded here rather
// than into the client's PersonalAccessToken because expires_at is read
// leniently (a date, as GitLab sends it, or a full timestamp).
type tokenSelf struct {
	ID        int64    `json:"id"`
	Scopes    []string `json:"scopes"`
	ExpiresAt *string  `json:"expires_at"`
	Active    *bool    `json:"active"`
	Revoked   bool     `json:"revoked"`
}

// Validate reads the token's scopes, expiry and state from
// /personal_access_tokens/self (GitLab 15.5 and later) and the account
// from /user. Older servers answer 404 for the former: their tokens'
// scopes and expiry stay unknown (nil), and the first refused action
// tells.
func (c *hostClient) Validate(ctx context.Context) (relay.Account, error) {
	var acc relay.Account
	self, known, err := c.tokenSelf(ctx)
	if err != nil {
		return relay.Account{}, err
	}
	if known {
		if self.Revoked {
			return relay.Account{}, host.CredentialRejected(c.name, "Token was revoked")
		}
		if self.Active != nil && !*self.Active {
			return relay.Account{}, host.CredentialRejected(c.name, "Token is not active")
		}
		acc.Scopes = []string{}
		for _, s := range self.Scopes {
			if s = strings.TrimSpace(s); s != "" {
				acc.Scopes = append(acc.Scopes, s)
			}
		}
		if self.ExpiresAt != nil {
			acc.ExpiresAt = parseExpiry(*self.ExpiresAt)
		}
	}
	start := time.Now()
	u, _, err := c.gl.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		failure := c.fail(err, start, call{op: opValidate})
		// A token with neither api, read_api nor read_user may not read
		// its own account. Its scopes are known, and callers refuse it
		// for the missing api scope, which is the precise reason.
		if known && relay.ErrorCode(failure) == relay.EScopeMissing && relay.MissingScope(requiredScopes, acc.Scopes) != "" {
			return acc, nil
		}
		return relay.Account{}, failure
	}
	if u.Username == "" {
		return relay.Account{}, c.unexpected("did not say which account the token belongs to")
	}
	acc.Login, acc.Name = u.Username, u.Name
	return acc, nil
}

// tokenSelf asks GitLab about the token itself; known is false when the
// server cannot tell (an older GitLab answers 404; 403 when the endpoint
// is not open to the token).
func (c *hostClient) tokenSelf(ctx context.Context) (tokenSelf, bool, error) {
	var self tokenSelf
	req, err := c.gl.NewRequest(http.MethodGet, "personal_access_tokens/self", nil, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return self, false, fmt.Errorf("gitlab: building the token request: %w", err)
	}
	start := time.Now()
	if _, err := c.gl.Do(req, &self); err != nil {
		switch status(err) {
		case http.StatusNotFound, http.StatusForbidden:
			return tokenSelf{}, false, nil
		}
		return tokenSelf{}, false, c.fail(err, start, call{op: opValidate})
	}
	return self, true, nil
}

// parseExpiry reads expires_at: GitLab sends a date ("2026-12-21"), and a
// token stops working at midnight UTC at the start of that day; a full
// timestamp is taken as it is. nil when unreadable.
func parseExpiry(v string) *time.Time {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return &t
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		t = t.UTC()
		return &t
	}
	return nil
}

func (c *hostClient) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	q := strings.TrimSpace(query)
	opts := &gl.ListProjectsOptions{
		ListOptions:    gl.ListOptions{Pagination: "keyset", PerPage: perPage},
		OrderBy:        gl.Ptr("id"),
		Sort:           gl.Ptr("asc"),
		Membership:     gl.Ptr(true),
		MinAccessLevel: gl.Ptr(gl.DeveloperPermissions),
		Simple:         gl.Ptr(true),
	}
	if q != "" {
		opts.Search = gl.Ptr(q)
	}
	lower := strings.ToLower(q)
	out := []relay.Repository{}
	var next []gl.RequestOptionFunc
	for range maxPages {
		start := time.Now()
		projects, resp, err := c.gl.Projects.ListProjects(opts, append([]gl.RequestOptionFunc{gl.WithContext(ctx)}, next...)...)
		if status(err) == http.StatusMethodNotAllowed && opts.Pagination == "keyset" && next == nil {
			// A server that cannot page this listing by keyset says so
			// with 405: page by offset instead.
			opts.Pagination = ""
			start = time.Now()
			projects, resp, err = c.gl.Projects.ListProjects(opts, gl.WithContext(ctx))
		}
		if err != nil {
			return nil, c.fail(err, start, call{op: opListRepos})
		}
		for _, p := range projects {
			// GitLab's search also matches descriptions; the contract is
			// the name (with its group path).
			if lower != "" && !strings.Contains(strings.ToLower(p.PathWithNamespace), lower) &&
				!strings.Contains(strings.ToLower(p.NameWithNamespace), lower) {
				continue
			}
			out = append(out, toRepository(p))
		}
		switch {
		case resp.NextLink != "":
			next = []gl.RequestOptionFunc{gl.WithKeysetPaginationParameters(resp.NextLink)}
		case resp.NextPage > 0: // a server without keyset pagination for projects
			opts.Pagination, opts.Page, next = "", resp.NextPage, nil
		default:
			return out, nil
		}
	}
	return out, nil
}

func (c *hostClient) Repository(ctx context.Context, id string) (relay.Repository, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	if err != nil || n <= 0 {
		return relay.Repository{}, relay.Errorf(relay.ENotFound, "%q is not a %s project id.", id, c.name)
	}
	start := time.Now()
	p, _, err := c.gl.Projects.GetProject(n, nil, gl.WithContext(ctx))
	if err != nil {
		return relay.Repository{}, c.fail(err, start, call{op: opGetRepo, repo: "#" + id})
	}
	return toRepository(p), nil
}

// pid names repo in API paths: its numeric id, or its path.
func pid(repo relay.Repository) (any, error) {
	if repo.ID != "" {
		return repo.ID, nil
	}
	if repo.FullName != "" {
		return repo.FullName, nil
	}
	return nil, relay.Errorf(relay.ENotFound, "No GitLab project was named.")
}

func repoName(repo relay.Repository) string {
	if repo.FullName != "" {
		return repo.FullName
	}
	return "#" + repo.ID
}

func (c *hostClient) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	id, err := pid(repo)
	if err != nil {
		return nil, err
	}
	opts := &gl.ListBranchesOptions{ListOptions: gl.ListOptions{PerPage: perPage}}
	if q := strings.TrimSpace(query); q != "" {
		opts.Search = gl.Ptr(q)
	}
	out := []relay.Branch{}
	for range maxPages {
		start := time.Now()
		branches, resp, err := c.gl.Branches.ListBranches(id, opts, gl.WithContext(ctx))
		if err != nil {
			return nil, c.fail(err, start, call{op: opListBranches, repo: repoName(repo)})
		}
		for _, b := range branches {
			out = append(out, c.toBranch(repo, b))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func (c *hostClient) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	id, err := pid(repo)
	if err != nil {
		return relay.Branch{}, err
	}
	k := call{op: opGetBranch, repo: repoName(repo), branch: name}
	if strings.TrimSpace(name) == "" {
		return relay.Branch{}, c.notFound(k)
	}
	start := time.Now()
	b, _, err := c.gl.Branches.GetBranch(id, name, gl.WithContext(ctx))
	if err != nil {
		return relay.Branch{}, c.fail(err, start, k)
	}
	if b.Name != name || b.Commit == nil || b.Commit.ID == "" {
		return relay.Branch{}, c.notFound(k)
	}
	return c.toBranch(repo, b), nil
}

func (c *hostClient) CreateBranch(ctx context.Context, repo relay.Repository, name, baseSHA string) (relay.Branch, error) {
	id, err := pid(repo)
	if err != nil {
		return relay.Branch{}, err
	}
	if strings.TrimSpace(baseSHA) == "" {
		return relay.Branch{}, relay.Errorf(relay.EInvalid, "No base commit was given for the branch %q; choose a base branch.", name)
	}
	start := time.Now()
	b, _, err := c.gl.Branches.CreateBranch(id, &gl.CreateBranchOptions{Branch: gl.Ptr(name), Ref: gl.Ptr(baseSHA)}, gl.WithContext(ctx))
	if err != nil {
		return relay.Branch{}, c.fail(err, start, call{
			op: opCreateBranch, repo: repoName(repo), branch: name, target: baseSHA, url: c.branchURL(repo, name),
		})
	}
	out := c.toBranch(repo, b)
	if out.SHA == "" {
		out.SHA = baseSHA
	}
	return out, nil
}

func (c *hostClient) DeleteBranch(ctx context.Context, repo relay.Repository, name string) error {
	id, err := pid(repo)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.gl.Branches.DeleteBranch(id, name, gl.WithContext(ctx)); err != nil {
		return c.fail(err, start, call{op: opDeleteBranch, repo: repoName(repo), branch: name})
	}
	return nil
}

// draftPrefix is how GitLab marks a merge request as a draft: it has no
// draft field on creation, it reads the title.
const draftPrefix = "Draft: "

// draftTitle matches the title prefixes GitLab takes for a draft.
var draftTitle = regexp.MustCompile(`(?i)^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s)`)

func (c *hostClient) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	id, err := pid(repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	title := pr.Title
	if pr.Draft && !draftTitle.MatchString(title) {
		title = draftPrefix + title
	}
	opt := &gl.CreateMergeRequestOptions{Title: gl.Ptr(title), SourceBranch: gl.Ptr(pr.Source), TargetBranch: gl.Ptr(pr.Target)}
	if pr.Description != "" {
		opt.Description = gl.Ptr(pr.Description)
	}
	start := time.Now()
	mr, _, err := c.gl.MergeRequests.CreateMergeRequest(id, opt, gl.WithContext(ctx))
	if err == nil {
		return toPullRequest(&mr.BasicMergeRequest), nil
	}
	failure := c.fail(err, start, call{op: opCreatePR, repo: repoName(repo), branch: pr.Source, target: pr.Target})
	if e, ok := relay.AsError(failure); ok && e.Code == relay.EPullRequestExists {
		// GitLab names the merge request in the way (!38) but gives no
		// link: look it up so that the user gets one instead of a
		// duplicate.
		if existing, ferr := c.FindPullRequest(ctx, repo, pr.Source, pr.Target); ferr == nil {
			e.URL = existing.URL
			e.Message = fmt.Sprintf("A merge request from %q to %q already exists in %s: !%d %s", pr.Source, pr.Target, repoName(repo), existing.Number, existing.URL)
		} else if e.URL == "" && repo.WebURL != "" {
			if n := existingIID(e.Message); n > 0 {
				e.URL = fmt.Sprintf("%s/-/merge_requests/%d", strings.TrimRight(repo.WebURL, "/"), n)
			}
		}
	}
	return relay.PullRequest{}, failure
}

var iidRef = regexp.MustCompile(`!(\d+)`)

// existingIID reads the "!38" GitLab names in its conflict message.
func existingIID(msg string) int {
	m := iidRef.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func (c *hostClient) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	id, err := pid(repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	opts := &gl.ListProjectMergeRequestsOptions{
		ListOptions:  gl.ListOptions{PerPage: perPage},
		State:        gl.Ptr("opened"),
		SourceBranch: gl.Ptr(source),
	}
	if target != "" {
		opts.TargetBranch = gl.Ptr(target)
	}
	start := time.Now()
	list, _, err := c.gl.MergeRequests.ListProjectMergeRequests(id, opts, gl.WithContext(ctx))
	if err != nil {
		return relay.PullRequest{}, c.fail(err, start, call{op: opFindPR, repo: repoName(repo), branch: source, target: target})
	}
	for _, m := range list {
		if m.State == "opened" && m.SourceBranch == source && (target == "" || m.TargetBranch == target) {
			return toPullRequest(m), nil
		}
	}
	return relay.PullRequest{}, relay.Errorf(relay.ENotFound, "There is no open merge request from %q to %q in %s.", source, target, repoName(repo))
}

func (c *hostClient) toBranch(repo relay.Repository, b *gl.Branch) relay.Branch {
	out := relay.Branch{Name: b.Name, URL: b.WebURL}
	if b.Commit != nil {
		out.SHA = b.Commit.ID
	}
	if out.URL == "" { // GitLab before 13.x sends no web_url
		out.URL = c.branchURL(repo, b.Name)
	}
	return out
}

// branchURL is the web page of a branch: {project}/-/tree/{branch}.
func (c *hostClient) branchURL(repo relay.Repository, branch string) string {
	web := strings.TrimRight(repo.WebURL, "/")
	if web == "" {
		web = c.web + "/" + repo.FullName
	}
	return web + "/-/tree/" + escapeRef(branch)
}

// escapeRef escapes each segment of a ref, keeping its slashes.
func escapeRef(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func toRepository(p *gl.Project) relay.Repository {
	return relay.Repository{
		ID:            strconv.FormatInt(p.ID, 10),
		Name:          p.Name,
		FullName:      p.PathWithNamespace,
		DefaultBranch: p.DefaultBranch,
		WebURL:        p.WebURL,
	}
}

func toPullRequest(m *gl.BasicMergeRequest) relay.PullRequest {
	return relay.PullRequest{
		Number: int(m.IID),
		Title:  m.Title,
		URL:    m.WebURL,
		Source: m.SourceBranch,
		Target: m.TargetBranch,
		// Servers before 13.2 send no draft field; the title tells.
		Draft: m.Draft || draftTitle.MatchString(m.Title),
	}
}
