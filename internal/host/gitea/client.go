package gitea

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	// pageSize is what listings ask for per page: Gitea's default
	// MAX_RESPONSE_ITEMS, above which it answers fewer items anyway.
	pageSize = 50
	// maxPages bounds how many pages a listing follows, so that an account
	// with very many repositories answers in bounded time.
	maxPages = 100
)

// wipPrefixes are Gitea's default WORK_IN_PROGRESS_PREFIXES: a pull
// request whose title starts with one of them is a draft.
var wipPrefixes = []string{"WIP:", "[WIP]"}

// hostClient is a relay.HostClient acting with one token. Its reads are
// sent again after a transient fault by the client's transport
// (host.RetryPolicy); its writes never are: a POST that failed after Gitea
// acted would otherwise create a second branch or pull request.
type hostClient struct {
	hc        *http.Client
	api       string // API root, without a trailing slash
	web       string // web root, without a trailing slash
	name      string // how messages name the host
	userAgent string
	token     host.Secret
}

var _ relay.HostClient = (*hostClient)(nil)

// The API's JSON shapes, reduced to the fields gitrelay reads.
type (
	apiUser struct {
		ID       int64  `json:"id"`
		Login    string `json:"login"`
		FullName string `json:"full_name"`
	}
	apiRepo struct {
		ID            int64   `json:"id"`
		Name          string  `json:"name"`
		FullName      string  `json:"full_name"`
		HTMLURL       string  `json:"html_url"`
		DefaultBranch string  `json:"default_branch"`
		Owner         apiUser `json:"owner"`
		Permissions   *struct {
			Admin bool `json:"admin"`
			Push  bool `json:"push"`
			Pull  bool `json:"pull"`
		} `json:"permissions"`
	}
	apiBranch struct {
		Name   string `json:"name"`
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	apiPRBranch struct {
		Ref    string `json:"ref"`
		SHA    string `json:"sha"`
		RepoID int64  `json:"repo_id"`
	}
	apiPull struct {
		Number  int         `json:"number"`
		Title   string      `json:"title"`
		HTMLURL string      `json:"html_url"`
		State   string      `json:"state"`
		Draft   bool        `json:"draft"`
		Head    apiPRBranch `json:"head"`
		Base    apiPRBranch `json:"base"`
	}
)

// request is one API call.
type request struct {
	method string
	path   string // below the API root, already escaped
	query  url.Values
	body   any // marshalled to JSON when not nil
	call   call
}

// do sends r and decodes a successful answer into out (nil: ignore the
// body). Every error is a *relay.Error without the token in it.
func (c *hostClient) do(ctx context.Context, r request, out any) (http.Header, error) {
	target := c.api + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("gitea: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, c.redact(relay.Errorf(relay.EHostError, "gitrelay could not build a request to %s; an administrator should check the integration's base URL.", c.name))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.redact(host.TransportError(c.name, err, time.Since(start)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body) // capped by the client
	if err != nil {
		return nil, c.redact(host.TransportError(c.name, err, time.Since(start)))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.redact(c.fromStatus(resp.StatusCode, resp.Header, raw, r.call))
	}
	// A proxy's sign-in page or a web server's index answers 200 too: only
	// JSON is the API speaking.
	if isHTML(resp.Header) {
		return nil, c.redact(c.unexpected("answered with a web page instead of API data"))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e := c.unexpected("answered with something that is not Gitea API data")
			e.Err = err
			return nil, c.redact(e)
		}
	}
	return resp.Header, nil
}

func isHTML(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/html"
}

func (c *hostClient) redact(e *relay.Error) *relay.Error { return host.Redact(e, c.token.Reveal()) }

func (c *hostClient) unexpected(what string) *relay.Error {
	return relay.Errorf(relay.EHostError, "%s %s; an administrator should check the integration's base URL.", c.name, what)
}

// hasNext reports whether a Link header names a next page.
func hasNext(h http.Header) bool {
	for _, v := range h.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			if strings.Contains(part, `rel="next"`) {
				return true
			}
		}
	}
	return false
}

// pages calls fetch for page 1, 2, ... until the host says there is no
// next page. fetch returns how many items the page held.
func pages(fetch func(page int) (int, http.Header, error)) error {
	for page := 1; page <= maxPages; page++ {
		n, h, err := fetch(page)
		if err != nil {
			return err
		}
		// Gitea sends Link: rel="next" while more remain; a full page
		// without one is followed too, for proxies that drop the header.
		if n == 0 || (!hasNext(h) && n < pageSize) {
			return nil
		}
	}
	return nil
}

func listQuery(page int, extra ...string) url.Values {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}, "page": {strconv.Itoa(page)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func (c *hostClient) Validate(ctx context.Context) (relay.Account, error) {
	var u apiUser
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/user", call: call{op: opValidate}}, &u); err != nil {
		return relay.Account{}, err
	}
	if u.Login == "" {
		return relay.Account{}, c.redact(c.unexpected("did not say which account the token belongs to"))
	}
	name := u.FullName
	if name == "" {
		name = u.Login
	}
	acc := relay.Account{Login: u.Login, Name: name}
	// Gitea cannot tell a token its scopes. Listing one repository needs
	// the repository scope (read or write), so a token without any is
	// reported now, as holding only read:user (which GET /user just
	// proved), and is refused against RequiredScopes rather than at the
	// first action. A read-only token shows only when it first writes.
	var probe []apiRepo
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/user/repos", query: url.Values{"limit": {"1"}}, call: call{op: opProbe}}, &probe)
	switch {
	case relay.ErrorCode(err) == relay.EScopeMissing:
		acc.Scopes = []string{ScopeReadUser}
	case err != nil:
		return relay.Account{}, err
	}
	return acc, nil
}

func (c *hostClient) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	out := []relay.Repository{}
	err := pages(func(page int) (int, http.Header, error) {
		var list []apiRepo
		h, err := c.do(ctx, request{method: http.MethodGet, path: "/user/repos", query: listQuery(page), call: call{op: opListRepos}}, &list)
		if err != nil {
			return 0, nil, err
		}
		for _, r := range list {
			if r.Permissions == nil || !r.Permissions.Push {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(r.FullName), q) {
				continue
			}
			out = append(out, c.toRepository(r))
		}
		return len(list), h, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *hostClient) Repository(ctx context.Context, id string) (relay.Repository, error) {
	id = strings.TrimSpace(id)
	path := ""
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
		path = "/repositories/" + strconv.FormatInt(n, 10)
	} else if owner, name, ok := strings.Cut(id, "/"); ok && owner != "" && name != "" && !strings.Contains(name, "/") {
		// Also accepted: "owner/name", as an administrator may type it.
		path = repoPath(owner, name)
	} else {
		return relay.Repository{}, relay.Errorf(relay.ENotFound, "%q is not a %s repository id.", id, c.name)
	}
	var r apiRepo
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, call: call{op: opGetRepo, repo: "#" + id}}, &r); err != nil {
		return relay.Repository{}, err
	}
	return c.toRepository(r), nil
}

// locate returns the owner and name of repo, looking its id up when the
// caller knows only that.
func (c *hostClient) locate(ctx context.Context, repo relay.Repository) (relay.Repository, string, error) {
	if owner, name, ok := strings.Cut(repo.FullName, "/"); ok && owner != "" && name != "" && !strings.Contains(name, "/") {
		return repo, repoPath(owner, name), nil
	}
	if repo.ID == "" {
		return repo, "", relay.Errorf(relay.ENotFound, "No %s repository was named.", c.name)
	}
	r, err := c.Repository(ctx, repo.ID)
	if err != nil {
		return repo, "", err
	}
	owner, name, _ := strings.Cut(r.FullName, "/")
	return r, repoPath(owner, name), nil
}

func repoPath(owner, name string) string {
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name)
}

func (c *hostClient) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(query))
	out := []relay.Branch{}
	err = pages(func(page int) (int, http.Header, error) {
		var list []apiBranch
		h, err := c.do(ctx, request{method: http.MethodGet, path: path + "/branches", query: listQuery(page),
			call: call{op: opListBranches, repo: repo.FullName}}, &list)
		if err != nil {
			return 0, nil, err
		}
		for _, b := range list {
			if q != "" && !strings.Contains(strings.ToLower(b.Name), q) {
				continue
			}
			out = append(out, relay.Branch{Name: b.Name, SHA: b.Commit.ID, URL: c.branchURL(repo, b.Name)})
		}
		return len(list), h, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *hostClient) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	k := call{op: opGetBranch, repo: repo.FullName, branch: name}
	var b apiBranch
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path + "/branches/" + escapeRef(name), call: k}, &b); err != nil {
		return relay.Branch{}, err
	}
	if b.Name != name || b.Commit.ID == "" {
		return relay.Branch{}, c.notFound(k)
	}
	return relay.Branch{Name: name, SHA: b.Commit.ID, URL: c.branchURL(repo, name)}, nil
}

// CreateBranch sends the base commit as old_ref_name, which Gitea resolves
// as any ref or commit id (Gitea 1.21 and later, Forgejo 1.21 and later).
// An older server ignores the field and branches from the default branch;
// the answer's commit shows that, and it is reported rather than passed
// off as the branch that was asked for.
func (c *hostClient) CreateBranch(ctx context.Context, repo relay.Repository, name, baseSHA string) (relay.Branch, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	if strings.TrimSpace(baseSHA) == "" {
		return relay.Branch{}, relay.Errorf(relay.EInvalid, "No base commit was given for the branch %q; choose a base branch.", name)
	}
	link := c.branchURL(repo, name)
	body := struct {
		NewBranchName string `json:"new_branch_name"`
		OldRefName    string `json:"old_ref_name"`
	}{name, baseSHA}
	var b apiBranch
	_, err = c.do(ctx, request{method: http.MethodPost, path: path + "/branches", body: body,
		call: call{op: opCreateBranch, repo: repo.FullName, branch: name, target: baseSHA, url: link}}, &b)
	if err != nil {
		return relay.Branch{}, err
	}
	if b.Commit.ID != "" && !strings.EqualFold(b.Commit.ID, baseSHA) {
		return relay.Branch{}, relay.Errorf(relay.EHostError,
			"%s created the branch %q at %s instead of the chosen base %s: this server is older than Gitea 1.21 and cannot branch from a given commit. Delete the branch at %s if it is not wanted, and ask an administrator to upgrade the server.",
			c.name, name, shortSHA(b.Commit.ID), shortSHA(baseSHA), link)
	}
	return relay.Branch{Name: name, SHA: baseSHA, URL: link}, nil
}

func shortSHA(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

func (c *hostClient) DeleteBranch(ctx context.Context, repo relay.Repository, name string) error {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: path + "/branches/" + escapeRef(name),
		call: call{op: opDeleteBranch, repo: repo.FullName, branch: name}}, nil)
	return err
}

// CreatePullRequest marks a draft the way Gitea knows: a "WIP:" title
// prefix.
func (c *hostClient) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	title := pr.Title
	if pr.Draft && !isWIP(title) {
		title = "WIP: " + title
	}
	body := struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body,omitempty"`
	}{title, pr.Source, pr.Target, pr.Description}
	var p apiPull
	_, err = c.do(ctx, request{method: http.MethodPost, path: path + "/pulls", body: body,
		call: call{op: opCreatePR, repo: repo.FullName, branch: pr.Source, target: pr.Target}}, &p)
	if err == nil {
		return toPullRequest(p), nil
	}
	if e, ok := relay.AsError(err); ok && e.Code == relay.EPullRequestExists {
		// Gitea's answer names the existing pull request only in prose
		// whose fields changed meaning between versions; look it up so
		// that the user gets a link instead of a duplicate.
		if existing, ferr := c.FindPullRequest(ctx, repo, pr.Source, pr.Target); ferr == nil {
			e.URL = existing.URL
			e.Message = fmt.Sprintf("A pull request from %q to %q already exists in %s: #%d %s", pr.Source, pr.Target, repo.FullName, existing.Number, existing.URL)
		}
	}
	return relay.PullRequest{}, err
}

func (c *hostClient) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	var found *apiPull
	err = pages(func(page int) (int, http.Header, error) {
		var list []apiPull
		// base_branch narrows the list on servers that know it; the
		// filter below decides either way.
		h, err := c.do(ctx, request{method: http.MethodGet, path: path + "/pulls", query: listQuery(page, "state", "open", "base_branch", target),
			call: call{op: opFindPR, repo: repo.FullName, branch: source, target: target}}, &list)
		if err != nil {
			return 0, nil, err
		}
		for i, p := range list {
			sameRepo := p.Head.RepoID == 0 || p.Head.RepoID == p.Base.RepoID
			if p.Head.Ref == source && (target == "" || p.Base.Ref == target) && sameRepo && p.State != "closed" {
				found = &list[i]
				return 0, h, nil // stop
			}
		}
		return len(list), h, nil
	})
	if err != nil {
		return relay.PullRequest{}, err
	}
	if found == nil {
		return relay.PullRequest{}, relay.Errorf(relay.ENotFound, "There is no open pull request from %q to %q in %s.", source, target, repo.FullName)
	}
	return toPullRequest(*found), nil
}

func isWIP(title string) bool {
	t := strings.ToUpper(strings.TrimSpace(title))
	for _, p := range wipPrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// branchURL is the web page of a branch: {repository}/src/branch/{branch}.
func (c *hostClient) branchURL(repo relay.Repository, branch string) string {
	web := strings.TrimRight(repo.WebURL, "/")
	if web == "" {
		web = c.web + "/" + repo.FullName
	}
	return web + "/src/branch/" + escapeRef(branch)
}

// escapeRef escapes each segment of a ref, keeping its slashes.
func escapeRef(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (c *hostClient) toRepository(r apiRepo) relay.Repository {
	full := r.FullName
	if full == "" {
		full = r.Owner.Login + "/" + r.Name
	}
	web := r.HTMLURL
	if web == "" {
		web = c.web + "/" + full
	}
	return relay.Repository{
		ID:            strconv.FormatInt(r.ID, 10),
		Name:          r.Name,
		FullName:      full,
		DefaultBranch: r.DefaultBranch,
		WebURL:        web,
	}
}

// toPullRequest reads a pull request; "draft" is absent from older
// servers' answers, where the title prefix is what makes a draft.
func toPullRequest(p apiPull) relay.PullRequest {
	return relay.PullRequest{
		Number: p.Number,
		Title:  p.Title,
		URL:    p.HTMLURL,
		Source: p.Head.Ref,
		Target: p.Base.Ref,
		Draft:  p.Draft || isWIP(p.Title),
	}
}
