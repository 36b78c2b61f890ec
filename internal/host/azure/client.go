package azure

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
	// maxPages bounds how many pages a listing follows, so that a
	// repository with very many branches answers in bounded time.
	maxPages = 50
	// pageSize is the $top of paged listings.
	pageSize = 1000
	// maxListBody is the cap on the repository listing's answer, which
	// Azure DevOps does not page: every repository of the collection in
	// one answer, about 1.5 KiB each. Other answers have the client's cap
	// (host.DefaultMaxBody).
	maxListBody = 32 << 20
	// zeroID is the object id that means "no ref" in a ref update.
	zeroID = "0000000000000000000000000000000000000000"
	// gitNamespace is the security namespace of Git repositories, and
	// genericContribute its "Contribute" bit: what pushing a branch and
	// opening a pull request need.
	gitNamespace      = "2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87"
	genericContribute = 4
	// permissionBatch is how many repositories one permission query asks
	// about, keeping the URL short.
	permissionBatch = 40
)

// hostClient is a relay.HostClient acting with one credential. Its reads
// are sent again after a transient fault by the client's transport
// (host.RetryPolicy); a ref update or pull request creation (POSTs) that
// failed after the host acted is never repeated.
type hostClient struct {
	hc         *http.Client
	root       string // organization or collection URL
	apiVersion string
	drafts     bool
	pat        bool // false: a user name and password (TFS 2013/2015)
	name       string
	userAgent  string
	auth       host.Secret // the Authorization header's value
	secret     host.Secret // the token or password, to redact
}

var _ relay.HostClient = (*hostClient)(nil)

// Wire types, shaped after Microsoft's published examples. Fields gitrelay
// does not read are left out; isLocked is among them because TFS 2018
// sends it as a string and later versions as a boolean.

type list[T any] struct {
	Count int `json:"count"`
	Value []T `json:"value"`
}

type apiProject struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type apiRepo struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Project       apiProject `json:"project"`
	DefaultBranch string     `json:"defaultBranch"`
	WebURL        string     `json:"webUrl"`
	RemoteURL     string     `json:"remoteUrl"`
	IsDisabled    bool       `json:"isDisabled"`
	Links         struct {
		Web struct {
			Href string `json:"href"`
		} `json:"web"`
	} `json:"_links"`
}

type apiRef struct {
	Name     string `json:"name"`
	ObjectID string `json:"objectId"`
}

type refUpdate struct {
	Name        string `json:"name"`
	OldObjectID string `json:"oldObjectId"`
	NewObjectID string `json:"newObjectId"`
}

type refUpdateResult struct {
	Name          string `json:"name"`
	NewObjectID   string `json:"newObjectId"`
	Success       bool   `json:"success"`
	UpdateStatus  string `json:"updateStatus"`
	CustomMessage string `json:"customMessage"`
	RejectedBy    string `json:"rejectedBy"`
}

type apiPullRequest struct {
	PullRequestID int     `json:"pullRequestId"`
	Status        string  `json:"status"`
	Title         string  `json:"title"`
	Description   string  `json:"description"`
	SourceRefName string  `json:"sourceRefName"`
	TargetRefName string  `json:"targetRefName"`
	IsDraft       bool    `json:"isDraft"`
	Repository    apiRepo `json:"repository"`
}

type newPullRequest struct {
	SourceRefName string `json:"sourceRefName"`
	TargetRefName string `json:"targetRefName"`
	Title         string `json:"title"`
	Description   string `json:"description,omitempty"`
	IsDraft       *bool  `json:"isDraft,omitempty"`
}

type connectionData struct {
	AuthenticatedUser struct {
		ID                  string `json:"id"`
		Descriptor          string `json:"descriptor"`
		ProviderDisplayName string `json:"providerDisplayName"`
		CustomDisplayName   string `json:"customDisplayName"`
		Properties          map[string]struct {
			Value any `json:"$value"`
		} `json:"properties"`
	} `json:"authenticatedUser"`
}

// anonymousID is the identity Azure DevOps reports for a request it did not
// authenticate.
const anonymousID = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"

func (c *hostClient) Validate(ctx context.Context) (relay.Account, error) {
	var cd connectionData
	if _, err := c.send(ctx, call{op: opValidate}, request{method: http.MethodGet, path: "/_apis/connectionData"}, &cd); err != nil {
		return relay.Account{}, err
	}
	u := cd.AuthenticatedUser
	if u.ID == "" || strings.EqualFold(u.ID, anonymousID) || strings.Contains(u.Descriptor, "Anonymous") {
		return relay.Account{}, c.rejected("")
	}
	login := ""
	if p, ok := u.Properties["Account"]; ok {
		login, _ = p.Value.(string)
	}
	if login == "" {
		return relay.Account{}, c.unexpected("did not say which account the credential belongs to")
	}
	name := u.CustomDisplayName
	if name == "" {
		name = u.ProviderDisplayName
	}
	// Azure DevOps tells neither a PAT's scopes nor its expiry to the
	// token itself: both stay unknown (nil).
	return relay.Account{Login: login, Name: name}, nil
}

func (c *hostClient) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	var l list[apiRepo]
	if _, err := c.send(host.WithBodyLimit(ctx, maxListBody), call{op: opListRepos}, request{method: http.MethodGet, path: "/_apis/git/repositories", versioned: true}, &l); err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(query))
	var found []apiRepo
	for _, r := range l.Value {
		if r.IsDisabled || r.ID == "" {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(r.Project.Name+"/"+r.Name), q) {
			continue
		}
		found = append(found, r)
	}
	writable, err := c.writable(ctx, found)
	if err != nil {
		return nil, err
	}
	out := []relay.Repository{}
	for i, r := range found {
		if writable[i] {
			out = append(out, c.toRepository(r))
		}
	}
	return out, nil
}

// writable asks which of repos the credential's account may contribute to.
// The repository listing says only what it may read. When the server
// cannot answer (an old version, or a token not allowed to ask), every
// repository is kept: a refused write then explains itself.
func (c *hostClient) writable(ctx context.Context, repos []apiRepo) ([]bool, error) {
	out := make([]bool, len(repos))
	for i := range out {
		out[i] = true
	}
	// Only repositories whose project id is known can be asked about.
	var asked []int
	for i, r := range repos {
		if r.Project.ID != "" {
			asked = append(asked, i)
		}
	}
	for lo := 0; lo < len(asked); lo += permissionBatch {
		hi := min(lo+permissionBatch, len(asked))
		tokens := make([]string, 0, hi-lo)
		for _, i := range asked[lo:hi] {
			tokens = append(tokens, "repoV2/"+repos[i].Project.ID+"/"+repos[i].ID)
		}
		var answer list[bool]
		_, err := c.send(ctx, call{op: opPermissions}, request{
			method:    http.MethodGet,
			path:      "/_apis/permissions/" + gitNamespace + "/" + strconv.Itoa(genericContribute),
			query:     url.Values{"tokens": {strings.Join(tokens, ",")}, "delimiter": {","}},
			versioned: true,
		}, &answer)
		switch relay.ErrorCode(err) {
		case "":
		case relay.EHostTimeout, relay.ERateLimited:
			return nil, err
		default:
			return out, nil
		}
		if len(answer.Value) != hi-lo {
			return out, nil
		}
		for j, i := range asked[lo:hi] {
			out[i] = answer.Value[j]
		}
	}
	return out, nil
}

func (c *hostClient) Repository(ctx context.Context, id string) (relay.Repository, error) {
	id = strings.TrimSpace(id)
	if !isGUID(id) {
		return relay.Repository{}, relay.Errorf(relay.ENotFound, "%q is not a %s repository id.", id, c.name)
	}
	var r apiRepo
	k := call{op: opGetRepo, repo: id}
	if _, err := c.send(ctx, k, request{method: http.MethodGet, path: "/_apis/git/repositories/" + id, versioned: true}, &r); err != nil {
		return relay.Repository{}, err
	}
	if r.ID == "" {
		return relay.Repository{}, c.notFound(k)
	}
	return c.toRepository(r), nil
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// repoPath is the project-scoped API path of repo,
// /{project}/_apis/git/repositories/{id}, looking the project up when the
// caller knows only the id.
func (c *hostClient) repoPath(ctx context.Context, repo relay.Repository) (relay.Repository, string, error) {
	project, _, ok := strings.Cut(repo.FullName, "/")
	if !ok || project == "" || !isGUID(repo.ID) {
		r, err := c.Repository(ctx, repo.ID)
		if err != nil {
			return repo, "", err
		}
		repo = r
		project, _, _ = strings.Cut(repo.FullName, "/")
	}
	return repo, "/" + url.PathEscape(project) + "/_apis/git/repositories/" + repo.ID, nil
}

func (c *hostClient) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(strings.TrimSpace(query))
	out := []relay.Branch{}
	err = c.refs(ctx, call{op: opListBranches, repo: repo.FullName}, path, "heads/", func(r apiRef) bool {
		name := strings.TrimPrefix(r.Name, "refs/heads/")
		if q == "" || strings.Contains(strings.ToLower(name), q) {
			out = append(out, relay.Branch{Name: name, SHA: r.ObjectID, URL: c.branchURL(repo, name)})
		}
		return true
	})
	return out, err
}

// refs lists the refs whose names start with refs/{filter}, page by page,
// until each returns false.
func (c *hostClient) refs(ctx context.Context, k call, path, filter string, each func(apiRef) bool) error {
	query := url.Values{"filter": {filter}, "$top": {strconv.Itoa(pageSize)}}
	for range maxPages {
		var l list[apiRef]
		h, err := c.send(ctx, k, request{method: http.MethodGet, path: path + "/refs", query: query, versioned: true}, &l)
		if err != nil {
			return err
		}
		for _, r := range l.Value {
			if !strings.HasPrefix(r.Name, "refs/heads/") {
				continue
			}
			if !each(r) {
				return nil
			}
		}
		next := h.Get("X-MS-ContinuationToken")
		if next == "" || len(l.Value) == 0 {
			return nil
		}
		query.Set("continuationToken", next)
	}
	return nil
}

func (c *hostClient) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	k := call{op: opGetBranch, repo: repo.FullName, branch: name}
	var found *relay.Branch
	// The filter is a prefix: "heads/fix" also lists fix-1 and fix/2.
	err = c.refs(ctx, k, path, "heads/"+name, func(r apiRef) bool {
		if r.Name == "refs/heads/"+name {
			found = &relay.Branch{Name: name, SHA: r.ObjectID, URL: c.branchURL(repo, name)}
			return false
		}
		return true
	})
	if err != nil {
		return relay.Branch{}, err
	}
	if found == nil || found.SHA == "" {
		return relay.Branch{}, c.notFound(k)
	}
	return *found, nil
}

func (c *hostClient) CreateBranch(ctx context.Context, repo relay.Repository, name, baseSHA string) (relay.Branch, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return relay.Branch{}, err
	}
	if strings.TrimSpace(baseSHA) == "" {
		return relay.Branch{}, relay.Errorf(relay.EInvalid, "No base commit was given for the branch %q; choose a base branch.", name)
	}
	k := call{op: opCreateBranch, repo: repo.FullName, branch: name, target: baseSHA, url: c.branchURL(repo, name)}
	res, err := c.updateRef(ctx, k, path, refUpdate{Name: "refs/heads/" + name, OldObjectID: zeroID, NewObjectID: baseSHA})
	if err != nil {
		return relay.Branch{}, err
	}
	sha := res.NewObjectID
	if sha == "" {
		sha = baseSHA
	}
	return relay.Branch{Name: name, SHA: sha, URL: k.url}, nil
}

func (c *hostClient) DeleteBranch(ctx context.Context, repo relay.Repository, name string) error {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return err
	}
	// A ref update names the commit it expects the ref at: read it first.
	current, err := c.Branch(ctx, repo, name)
	if err != nil {
		return err
	}
	k := call{op: opDeleteBranch, repo: repo.FullName, branch: name}
	_, err = c.updateRef(ctx, k, path, refUpdate{Name: "refs/heads/" + name, OldObjectID: current.SHA, NewObjectID: zeroID})
	return err
}

// updateRef posts one ref update. Azure DevOps answers 200 also when it
// refused the update, saying why in the result's updateStatus.
func (c *hostClient) updateRef(ctx context.Context, k call, path string, u refUpdate) (refUpdateResult, error) {
	var l list[refUpdateResult]
	if _, err := c.send(ctx, k, request{method: http.MethodPost, path: path + "/refs", body: []refUpdate{u}, versioned: true}, &l); err != nil {
		return refUpdateResult{}, err
	}
	if len(l.Value) != 1 {
		return refUpdateResult{}, c.redact(c.unexpected(fmt.Sprintf("answered %d results to one ref update", len(l.Value))))
	}
	res := l.Value[0]
	if res.Success && res.UpdateStatus == "succeeded" {
		return res, nil
	}
	return res, c.redact(c.refRefused(res, k))
}

func (c *hostClient) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	body := newPullRequest{
		SourceRefName: "refs/heads/" + pr.Source, TargetRefName: "refs/heads/" + pr.Target,
		Title: pr.Title, Description: pr.Description,
	}
	if pr.Draft {
		if !c.drafts {
			return relay.PullRequest{}, relay.Errorf(relay.EDraftUnsupported, "%s has no draft pull requests (they came with Azure DevOps Server 2019); create it as a regular pull request.", c.name)
		}
		body.IsDraft = &pr.Draft
	}
	k := call{op: opCreatePR, repo: repo.FullName, branch: pr.Source, target: pr.Target, draft: pr.Draft}
	var created apiPullRequest
	_, err = c.send(ctx, k, request{method: http.MethodPost, path: path + "/pullrequests", body: body, versioned: true}, &created)
	if err == nil {
		return c.toPullRequest(repo, created), nil
	}
	if e, ok := relay.AsError(err); ok && e.Code == relay.EPullRequestExists {
		// The refusal does not say which pull request is in the way; look
		// it up so that the user gets a link instead of a duplicate.
		if existing, ferr := c.FindPullRequest(ctx, repo, pr.Source, pr.Target); ferr == nil {
			e.URL = existing.URL
			e.Message = fmt.Sprintf("A pull request from %q to %q already exists in %s: !%d %s", pr.Source, pr.Target, repo.FullName, existing.Number, existing.URL)
		}
	}
	return relay.PullRequest{}, err
}

func (c *hostClient) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return relay.PullRequest{}, err
	}
	query := url.Values{
		"searchCriteria.sourceRefName": {"refs/heads/" + source},
		"searchCriteria.status":        {"active"},
		"$top":                         {"100"},
	}
	if target != "" {
		query.Set("searchCriteria.targetRefName", "refs/heads/"+target)
	}
	var l list[apiPullRequest]
	k := call{op: opFindPR, repo: repo.FullName, branch: source, target: target}
	if _, err := c.send(ctx, k, request{method: http.MethodGet, path: path + "/pullrequests", query: query, versioned: true}, &l); err != nil {
		return relay.PullRequest{}, err
	}
	for _, p := range l.Value {
		if p.Status == "active" && p.SourceRefName == "refs/heads/"+source && (target == "" || p.TargetRefName == "refs/heads/"+target) {
			return c.toPullRequest(repo, p), nil
		}
	}
	return relay.PullRequest{}, relay.Errorf(relay.ENotFound, "There is no active pull request from %q to %q in %s.", source, target, repo.FullName)
}

func (c *hostClient) toRepository(r apiRepo) relay.Repository {
	return relay.Repository{
		ID:            r.ID,
		Name:          r.Name,
		FullName:      r.Project.Name + "/" + r.Name,
		DefaultBranch: strings.TrimPrefix(r.DefaultBranch, "refs/heads/"),
		WebURL:        c.webURL(r),
	}
}

// webURL is a repository's web page. Older servers send only remoteUrl,
// which is the same address but may carry the organization as a user name
// (https://fabrikam@dev.azure.com/...).
func (c *hostClient) webURL(r apiRepo) string {
	for _, s := range []string{r.WebURL, r.Links.Web.Href, r.RemoteURL} {
		if u, err := url.Parse(s); err == nil && u.IsAbs() {
			u.User = nil
			return u.String()
		}
	}
	return c.root + "/" + url.PathEscape(r.Project.Name) + "/_git/" + url.PathEscape(r.Name)
}

func (c *hostClient) repoWeb(repo relay.Repository) string {
	if repo.WebURL != "" {
		return strings.TrimRight(repo.WebURL, "/")
	}
	project, name, _ := strings.Cut(repo.FullName, "/")
	return c.root + "/" + url.PathEscape(project) + "/_git/" + url.PathEscape(name)
}

// branchURL is the web page of a branch: {repository}?version=GB{branch}.
func (c *hostClient) branchURL(repo relay.Repository, branch string) string {
	return c.repoWeb(repo) + "?version=GB" + url.QueryEscape(branch)
}

func (c *hostClient) toPullRequest(repo relay.Repository, p apiPullRequest) relay.PullRequest {
	return relay.PullRequest{
		Number: p.PullRequestID,
		Title:  p.Title,
		URL:    c.repoWeb(repo) + "/pullrequest/" + strconv.Itoa(p.PullRequestID),
		Source: strings.TrimPrefix(p.SourceRefName, "refs/heads/"),
		Target: strings.TrimPrefix(p.TargetRefName, "refs/heads/"),
		Draft:  p.IsDraft,
	}
}

// request is one API call; path is relative to the organization or
// collection URL.
type request struct {
	method    string
	path      string
	query     url.Values
	body      any
	versioned bool // add api-version
}

// send performs rq and decodes a 2xx JSON answer into out. Every error it
// returns is a *relay.Error without the credential.
func (c *hostClient) send(ctx context.Context, k call, rq request, out any) (http.Header, error) {
	h, err := c.roundTrip(ctx, k, rq, out)
	if e, ok := relay.AsError(err); ok && e.Code == relay.ECredentialRejected && k.op != opValidate && k.op != opPermissions {
		// Azure DevOps answers 401 both for a dead token and for a live
		// one whose scopes do not cover the call. Asking who the token is
		// tells them apart; it is a read, never a repeated write.
		var cd connectionData
		if _, perr := c.roundTrip(ctx, call{op: opValidate}, request{method: http.MethodGet, path: "/_apis/connectionData"}, &cd); perr == nil &&
			cd.AuthenticatedUser.ID != "" && !strings.EqualFold(cd.AuthenticatedUser.ID, anonymousID) {
			err = c.scopeMissing(k)
		}
	}
	if e, ok := relay.AsError(err); ok {
		return h, c.redact(e)
	}
	return h, err
}

func (c *hostClient) roundTrip(ctx context.Context, k call, rq request, out any) (http.Header, error) {
	u := c.root + rq.path
	q := url.Values{}
	for key, vs := range rq.query {
		q[key] = vs
	}
	if rq.versioned {
		q.Set("api-version", c.apiVersion)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return nil, fmt.Errorf("azure: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
	if err != nil {
		return nil, relay.Errorf(relay.EInvalid, "%s: the address %s is not usable; an administrator should check the integration's base URL.", c.name, c.root)
	}
	// The client adds the credential, to the integration's origin only.
	// Without it, a refused credential is answered with a redirect to a
	// sign-in page instead of 401.
	req.Header.Set("X-TFS-FedAuthRedirect", "Suppress")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, host.TransportError(c.name, err, time.Since(start))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body) // capped by the client
	if err != nil {
		return resp.Header, host.TransportError(c.name, err, time.Since(start))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, c.fromResponse(resp.StatusCode, resp.Header, raw, k)
	}
	if isHTML(resp.Header) {
		// A 203 (or 200) sign-in page: the credential was not accepted.
		return resp.Header, c.rejected("")
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, c.unexpected("answered with something that is not Azure DevOps API data")
		}
	}
	return resp.Header, nil
}

func isHTML(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// redact makes sure an error carries neither the secret nor the header
// made from it.
func (c *hostClient) redact(e *relay.Error) *relay.Error {
	return host.Redact(e, c.secret.Reveal(), c.auth.Reveal(), strings.TrimPrefix(c.auth.Reveal(), "Basic "))
}

func (c *hostClient) unexpected(what string) *relay.Error {
	return relay.Errorf(relay.EHostError, "%s %s; an administrator should check the integration's base URL.", c.name, what)
}
