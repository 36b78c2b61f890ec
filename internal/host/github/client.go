package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// maxPages bounds how many pages of 100 a listing follows, so that an
// account with very many repositories answers in bounded time.
const maxPages = 50

// hostClient is a relay.HostClient acting with one token. Its reads are
// sent again after a transient fault by the client's transport
// (host.RetryPolicy); its writes never are: GitHub does not make POSTs
// idempotent, and a retried create can duplicate what the first attempt
// did before failing.
type hostClient struct {
	gh    *gh.Client
	name  string // how messages name the host
	web   string // web root, for links the API does not give
	token host.Secret
}

var _ relay.HostClient = (*hostClient)(nil)

func (c *hostClient) Validate(ctx context.Context) (relay.Account, error) {
	start := time.Now()
	u, resp, err := c.gh.Users.Get(ctx, "")
	if err != nil {
		return relay.Account{}, c.fail(err, start, call{op: opValidate})
	}
	if u.GetLogin() == "" {
		return relay.Account{}, c.unexpected("did not say which account the token belongs to")
	}
	return relay.Account{
		Login:     u.GetLogin(),
		Name:      u.GetName(),
		Scopes:    scopes(resp.Header),
		ExpiresAt: expiry(resp.Header),
	}, nil
}

// scopes reads X-OAuth-Scopes: nil when absent (fine-grained tokens), empty
// when a classic token has no scope.
func scopes(h http.Header) []string {
	values, present := h[http.CanonicalHeaderKey("X-OAuth-Scopes")]
	if !present {
		return nil
	}
	out := []string{}
	for _, v := range values {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// expiry reads GitHub-Authentication-Token-Expiration
// ("2021-10-07 19:07:53 UTC"); nil when absent (the token never expires)
// or unreadable.
func expiry(h http.Header) *time.Time {
	v := strings.TrimSpace(h.Get("GitHub-Authentication-Token-Expiration"))
	if v == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}

func (c *hostClient) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	opts := &gh.RepositoryListByAuthenticatedUserOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	out := []relay.Repository{}
	for range maxPages {
		start := time.Now()
		repos, resp, err := c.gh.Repositories.ListByAuthenticatedUser(ctx, opts)
		if err != nil {
			return nil, c.fail(err, start, call{op: opListRepos})
		}
		for _, r := range repos {
			if !r.GetPermissions().GetPush() {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(r.GetFullName()), q) {
				continue
			}
			out = append(out, toRepository(r))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func (c *hostClient) Repository(ctx context.Context, id string) (relay.Repository, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	if err != nil || n <= 0 {
		return relay.Repository{}, relay.Errorf(relay.ENotFound, "%q is not a %s repository id.", id, c.name)
	}
	start := time.Now()
	r, _, err := c.gh.Repositories.GetByID(ctx, n)
	if err != nil {
		return relay.Repository{}, c.fail(err, start, call{op: opGetRepo, repo: "#" + id})
	}
	return toRepository(r), nil
}

// locate returns the owner and name of repo, looking its id up when the
// caller knows only that.
func (c *hostClient) locate(ctx context.Context, repo relay.Repository) (relay.Repository, string, string, error) {
	if owner, name, ok := strings.Cut(repo.FullName, "/"); ok && owner != "" && name != "" && !strings.Contains(name, "/") {
		return repo, owner, name, nil
	}
	if repo.ID == "" {
		return repo, "", "", relay.Errorf(relay.ENotFound, "No %s repository was named.", c.name)
	}
	r, err := c.Repository(ctx, repo.ID)
	if err != nil {
		return repo, "", "", err
	}
	owner, name, _ := strings.Cut(r.FullName, "/")
	return r, owner, name, nil
}

func (c *hostClient) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(query))
	opts := &gh.BranchListOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	out := []relay.Branch{}
	for range maxPages {
		start := time.Now()
		branches, resp, err := c.gh.Repositories.ListBranches(ctx, owner, name, opts)
		if err != nil {
			return nil, c.fail(err, start, call{op: opListBranches, repo: repo.FullName})
		}
		for _, b := range branches {
			if q != "" && !strings.Contains(strings.ToLower(b.GetName()), q) {
				continue
			}
			out = append(out, relay.Branch{Name: b.GetName(), SHA: b.GetCommit().GetSHA(), URL: c.branchURL(repo, b.GetName())})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

func (c *hostClient) Branch(ctx context.Context, repo relay.Repository, branch string) (relay.Branch, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	start := time.Now()
	k := call{op: opGetBranch, repo: repo.FullName, branch: branch}
	ref, _, err := c.gh.Git.GetRef(ctx, owner, name, "heads/"+branch)
	if err != nil {
		return relay.Branch{}, c.fail(err, start, k)
	}
	if ref.GetRef() != "refs/heads/"+branch || ref.GetObject().GetSHA() == "" {
		return relay.Branch{}, c.notFound(k)
	}
	return relay.Branch{Name: branch, SHA: ref.GetObject().GetSHA(), URL: c.branchURL(repo, branch)}, nil
}

func (c *hostClient) CreateBranch(ctx context.Context, repo relay.Repository, branch, baseSHA string) (relay.Branch, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	if strings.TrimSpace(baseSHA) == "" {
		return relay.Branch{}, relay.Errorf(relay.EInvalid, "No base commit was given for the branch %q; choose a base branch.", branch)
	}
	start := time.Now()
	ref, _, err := c.gh.Git.CreateRef(ctx, owner, name, gh.CreateRef{Ref: "refs/heads/" + branch, SHA: baseSHA})
	if err != nil {
		return relay.Branch{}, c.fail(err, start, call{
			op: opCreateBranch, repo: repo.FullName, branch: branch, target: baseSHA, url: c.branchURL(repo, branch),
		})
	}
	sha := ref.GetObject().GetSHA()
	if sha == "" {
		sha = baseSHA
	}
	return relay.Branch{Name: branch, SHA: sha, URL: c.branchURL(repo, branch)}, nil
}

func (c *hostClient) DeleteBranch(ctx context.Context, repo relay.Repository, branch string) error {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.gh.Git.DeleteRef(ctx, owner, name, "heads/"+branch); err != nil {
		return c.fail(err, start, call{op: opDeleteBranch, repo: repo.FullName, branch: branch})
	}
	return nil
}

func (c *hostClient) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	body := gh.CreatePullRequest{Title: new(pr.Title), Head: pr.Source, Base: pr.Target}
	if pr.Description != "" {
		body.Body = new(pr.Description)
	}
	if pr.Draft {
		body.Draft = new(true)
	}
	start := time.Now()
	p, _, err := c.gh.PullRequests.Create(ctx, owner, name, body)
	if err == nil {
		return toPullRequest(p), nil
	}
	failure := c.fail(err, start, call{op: opCreatePR, repo: repo.FullName, branch: pr.Source, target: pr.Target})
	if e, ok := relay.AsError(failure); ok && e.Code == relay.EPullRequestExists {
		// GitHub does not say which pull request is in the way; look it up
		// so that the user gets a link instead of a duplicate.
		if existing, ferr := c.FindPullRequest(ctx, repo, pr.Source, pr.Target); ferr == nil {
			e.URL = existing.URL
			e.Message = fmt.Sprintf("A pull request from %q to %q already exists in %s: #%d %s", pr.Source, pr.Target, repo.FullName, existing.Number, existing.URL)
		}
	}
	return relay.PullRequest{}, failure
}

func (c *hostClient) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	repo, owner, name, err := c.locate(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	opts := &gh.PullRequestListOptions{State: "open", Head: owner + ":" + source, Base: target, ListOptions: gh.ListOptions{PerPage: 100}}
	start := time.Now()
	list, _, err := c.gh.PullRequests.List(ctx, owner, name, opts)
	if err != nil {
		return relay.PullRequest{}, c.fail(err, start, call{op: opFindPR, repo: repo.FullName, branch: source, target: target})
	}
	for _, p := range list {
		if p.GetHead().GetRef() == source && (target == "" || p.GetBase().GetRef() == target) {
			return toPullRequest(p), nil
		}
	}
	return relay.PullRequest{}, relay.Errorf(relay.ENotFound, "There is no open pull request from %q to %q in %s.", source, target, repo.FullName)
}

// branchURL is the web page of a branch: {repository}/tree/{branch}.
func (c *hostClient) branchURL(repo relay.Repository, branch string) string {
	web := strings.TrimRight(repo.WebURL, "/")
	if web == "" {
		web = c.web + "/" + repo.FullName
	}
	return web + "/tree/" + escapeRef(branch)
}

// escapeRef escapes each segment of a ref, keeping its slashes.
func escapeRef(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func toRepository(r *gh.Repository) relay.Repository {
	return relay.Repository{
		ID:            strconv.FormatInt(r.GetID(), 10),
		Name:          r.GetName(),
		FullName:      r.GetFullName(),
		DefaultBranch: r.GetDefaultBranch(),
		WebURL:        r.GetHTMLURL(),
	}
}

func toPullRequest(p *gh.PullRequest) relay.PullRequest {
	return relay.PullRequest{
		Number: p.GetNumber(),
		Title:  p.GetTitle(),
		URL:    p.GetHTMLURL(),
		Source: p.GetHead().GetRef(),
		Target: p.GetBase().GetRef(),
		Draft:  p.GetDraft(),
	}
}
