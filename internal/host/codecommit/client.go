package codecommit

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/codecommit/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	// maxPages bounds how many pages a listing follows, so that a very
	// large account answers in bounded time.
	maxPages = 50
	// batchSize is BatchGetRepositories' limit on names per call.
	batchSize = 25
	// maxBranches bounds how many branches one listing reads the commit of:
	// CodeCommit lists branch names only, and each commit costs a GetBranch.
	maxBranches = 200
	// readers is how many reads of one listing run at once.
	readers = 8
	// maxOpenPullRequests bounds how many open pull requests
	// FindPullRequest reads, one GetPullRequest each.
	maxOpenPullRequests = 500
)

// hostClient is a relay.HostClient signing with one access key pair. The
// SDK clients hold the key behind pointers and keyID and secret are
// host.Secret values, so that printing a client shows no part of the key.
type hostClient struct {
	cc      *cc.Client
	sts     *sts.Client
	region  string
	name    string // how messages name the host
	console string // console URL of the repositories, with a trailing slash
	keyID   host.Secret
	secret  host.Secret
}

var _ relay.HostClient = (*hostClient)(nil)

// Validate asks STS who the key belongs to. The login is the IAM user
// name from the ARN, and the ARN itself stands in for the display name
// IAM users lack. AWS reports neither a key's permissions nor an expiry
// (long-term access keys do not expire).
func (c *hostClient) Validate(ctx context.Context) (relay.Account, error) {
	start := time.Now()
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return relay.Account{}, c.fail(err, start, call{op: opValidate})
	}
	arn := aws.ToString(out.Arn)
	login, kind := principal(arn)
	switch {
	case kind == "root":
		return relay.Account{}, c.redact(relay.Errorf(relay.EInvalid,
			"This is an access key of the AWS account's root user (account %s). Use an access key of an IAM user instead, so that actions are attributed to a person and limited by their IAM policies.",
			aws.ToString(out.Account)))
	case login == "":
		return relay.Account{}, c.redact(relay.Errorf(relay.EHostError, "%s did not say which IAM user the access key belongs to; try again.", c.name))
	}
	// IAM users have no display name; the ARN shows which account and path
	// the user is in, which a login alone does not.
	return relay.Account{Login: login, Name: arn}, nil
}

// principal reads an IAM ARN ("arn:aws:iam::111122223333:user/dev/alice")
// into the user name ("alice") and the kind of principal ("user", "root",
// "assumed-role", "federated-user").
func principal(arn string) (login, kind string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", ""
	}
	resource := parts[5]
	kind, _, _ = strings.Cut(resource, "/")
	if kind == "root" {
		return "", "root"
	}
	i := strings.LastIndex(resource, "/")
	if i < 0 || i == len(resource)-1 {
		return "", kind
	}
	return resource[i+1:], kind
}

// Repositories lists the repositories of the account and region whose
// name contains query. CodeCommit cannot tell whether the key may write to
// a repository without trying, so the list holds every repository the
// key's policies let it list and read.
func (c *hostClient) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	var names []string
	in := &cc.ListRepositoriesInput{SortBy: types.SortByEnumRepositoryName, Order: types.OrderEnumAscending}
	for range maxPages {
		start := time.Now()
		out, err := c.cc.ListRepositories(ctx, in)
		if err != nil {
			return nil, c.fail(err, start, call{op: opListRepos})
		}
		for _, r := range out.Repositories {
			if name := aws.ToString(r.RepositoryName); name != "" && strings.Contains(strings.ToLower(name), q) {
				names = append(names, name)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	batches := slices.Collect(slices.Chunk(names, batchSize))
	found := make([][]relay.Repository, len(batches))
	err := c.each(ctx, len(batches), func(ctx context.Context, i int) error {
		start := time.Now()
		out, err := c.cc.BatchGetRepositories(ctx, &cc.BatchGetRepositoriesInput{RepositoryNames: batches[i]})
		if err != nil {
			return c.fail(err, start, call{op: opBatchGetRepos})
		}
		for _, m := range out.Repositories {
			found[i] = append(found[i], c.toRepository(m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	repos := []relay.Repository{}
	for _, batch := range found {
		repos = append(repos, batch...)
	}
	slices.SortFunc(repos, func(a, b relay.Repository) int { return strings.Compare(a.Name, b.Name) })
	return repos, nil
}

// Repository reads a repository by id, which for CodeCommit is its name:
// names are unique within an account and region, which an integration
// names.
func (c *hostClient) Repository(ctx context.Context, id string) (relay.Repository, error) {
	name := strings.TrimSpace(id)
	if name == "" {
		return relay.Repository{}, relay.Errorf(relay.ENotFound, "No %s repository was named.", c.name)
	}
	start := time.Now()
	out, err := c.cc.GetRepository(ctx, &cc.GetRepositoryInput{RepositoryName: aws.String(name)})
	if err != nil {
		return relay.Repository{}, c.fail(err, start, call{op: opGetRepo, repo: name})
	}
	if out.RepositoryMetadata == nil {
		return relay.Repository{}, c.redact(relay.Errorf(relay.EHostError, "%s answered without the repository %s; try again.", c.name, name))
	}
	return c.toRepository(*out.RepositoryMetadata), nil
}

// repoName is the CodeCommit name of a repository gitrelay holds.
func repoName(repo relay.Repository) string {
	if repo.ID != "" {
		return repo.ID
	}
	return repo.Name
}

func (c *hostClient) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	name := repoName(repo)
	q := strings.ToLower(strings.TrimSpace(query))
	var names []string
	in := &cc.ListBranchesInput{RepositoryName: aws.String(name)}
	for range maxPages {
		start := time.Now()
		out, err := c.cc.ListBranches(ctx, in)
		if err != nil {
			return nil, c.fail(err, start, call{op: opListBranches, repo: name})
		}
		for _, b := range out.Branches {
			if strings.Contains(strings.ToLower(b), q) {
				names = append(names, b)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Sort(names)
	if len(names) > maxBranches {
		names = names[:maxBranches]
	}
	return c.branchTips(ctx, repo, names)
}

// branchTips reads the commit of each branch, a few at a time. A branch
// deleted meanwhile is left out.
func (c *hostClient) branchTips(ctx context.Context, repo relay.Repository, names []string) ([]relay.Branch, error) {
	out := make([]relay.Branch, len(names))
	err := c.each(ctx, len(names), func(ctx context.Context, i int) error {
		b, err := c.Branch(ctx, repo, names[i])
		if relay.ErrorCode(err) == relay.ENotFound {
			return nil
		}
		out[i] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(b relay.Branch) bool { return b.Name == "" }), nil
}

// each calls fn for 0..n-1, readers at a time, and returns the first
// error; the others are then cancelled. CodeCommit has no call that
// answers for many branches or pull requests at once, and one call after
// another would make a long list slow.
func (c *hostClient) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error // the failure that stopped the work; later ones follow from it
	)
	stop := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				stop(c.redact(host.TransportError(c.name, ctx.Err(), 0)))
				return
			}
			if ctx.Err() != nil {
				return
			}
			if err := fn(ctx, i); err != nil {
				stop(err)
			}
		})
	}
	wg.Wait()
	return first
}

func (c *hostClient) Branch(ctx context.Context, repo relay.Repository, branch string) (relay.Branch, error) {
	name := repoName(repo)
	k := call{op: opGetBranch, repo: name, branch: branch}
	start := time.Now()
	out, err := c.cc.GetBranch(ctx, &cc.GetBranchInput{RepositoryName: aws.String(name), BranchName: aws.String(branch)})
	if err != nil {
		return relay.Branch{}, c.fail(err, start, k)
	}
	if out.Branch == nil || aws.ToString(out.Branch.CommitId) == "" {
		return relay.Branch{}, c.redact(notFoundBranch(k))
	}
	return relay.Branch{Name: branch, SHA: aws.ToString(out.Branch.CommitId), URL: c.branchURL(name, branch)}, nil
}

func (c *hostClient) CreateBranch(ctx context.Context, repo relay.Repository, branch, baseSHA string) (relay.Branch, error) {
	name := repoName(repo)
	if strings.TrimSpace(baseSHA) == "" {
		return relay.Branch{}, relay.Errorf(relay.EInvalid, "No base commit was given for the branch %q; choose a base branch.", branch)
	}
	start := time.Now()
	_, err := c.cc.CreateBranch(ctx, &cc.CreateBranchInput{
		RepositoryName: aws.String(name), BranchName: aws.String(branch), CommitId: aws.String(baseSHA),
	})
	if err != nil {
		return relay.Branch{}, c.fail(err, start, call{op: opCreateBranch, repo: name, branch: branch, target: baseSHA, url: c.branchURL(name, branch)})
	}
	return relay.Branch{Name: branch, SHA: baseSHA, URL: c.branchURL(name, branch)}, nil
}

func (c *hostClient) DeleteBranch(ctx context.Context, repo relay.Repository, branch string) error {
	name := repoName(repo)
	k := call{op: opDeleteBranch, repo: name, branch: branch}
	start := time.Now()
	out, err := c.cc.DeleteBranch(ctx, &cc.DeleteBranchInput{RepositoryName: aws.String(name), BranchName: aws.String(branch)})
	if err != nil {
		return c.fail(err, start, k)
	}
	// CodeCommit documents an empty answer when there was nothing to delete.
	if out.DeletedBranch == nil || aws.ToString(out.DeletedBranch.BranchName) == "" {
		return c.redact(notFoundBranch(k))
	}
	return nil
}

// CreatePullRequest looks for an open pull request from the same source to
// the same target first: CodeCommit would open a duplicate rather than
// refuse. The check and the creation are two requests, so two users racing
// can still open two; CodeCommit offers nothing to prevent that.
func (c *hostClient) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	name := repoName(repo)
	if pr.Draft {
		return relay.PullRequest{}, relay.Errorf(relay.EDraftUnsupported, "AWS CodeCommit has no draft pull requests; create it as a regular pull request.")
	}
	existing, err := c.FindPullRequest(ctx, repo, pr.Source, pr.Target)
	switch relay.ErrorCode(err) {
	case "":
		return relay.PullRequest{}, &relay.Error{Code: relay.EPullRequestExists, URL: existing.URL, Message: fmt.Sprintf(
			"A pull request from %q to %q already exists in %s: #%d %s", pr.Source, pr.Target, name, existing.Number, existing.URL)}
	case relay.ENotFound:
	default:
		return relay.PullRequest{}, err
	}
	in := &cc.CreatePullRequestInput{
		Title: aws.String(pr.Title),
		Targets: []types.Target{{
			RepositoryName:       aws.String(name),
			SourceReference:      aws.String(pr.Source),
			DestinationReference: aws.String(pr.Target),
		}},
		// ClientRequestToken is left to the SDK, which sends a fresh one:
		// reusing a token would return an old, perhaps closed, request.
	}
	if pr.Description != "" {
		in.Description = aws.String(pr.Description)
	}
	start := time.Now()
	out, err := c.cc.CreatePullRequest(ctx, in)
	if err != nil {
		return relay.PullRequest{}, c.fail(err, start, call{op: opCreatePR, repo: name, branch: pr.Source, target: pr.Target})
	}
	if out.PullRequest == nil {
		return relay.PullRequest{}, c.redact(relay.Errorf(relay.EHostError, "%s answered without the pull request it created; look for it in the console before trying again.", c.name))
	}
	return c.toPullRequest(name, *out.PullRequest), nil
}

// FindPullRequest reads the open pull requests of the repository one by
// one (CodeCommit lists ids only) and returns the first from source to
// target.
func (c *hostClient) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	name := repoName(repo)
	k := call{op: opFindPR, repo: name, branch: source, target: target}
	var ids []string
	in := &cc.ListPullRequestsInput{RepositoryName: aws.String(name), PullRequestStatus: types.PullRequestStatusEnumOpen}
	for range maxPages {
		start := time.Now()
		out, err := c.cc.ListPullRequests(ctx, in)
		if err != nil {
			return relay.PullRequest{}, c.fail(err, start, k)
		}
		ids = append(ids, out.PullRequestIds...)
		if aws.ToString(out.NextToken) == "" || len(ids) >= maxOpenPullRequests {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, id := range ids {
		start := time.Now()
		out, err := c.cc.GetPullRequest(ctx, &cc.GetPullRequestInput{PullRequestId: aws.String(id)})
		if err != nil {
			get := k
			get.op = opGetPR
			return relay.PullRequest{}, c.fail(err, start, get)
		}
		if out.PullRequest == nil || out.PullRequest.PullRequestStatus != types.PullRequestStatusEnumOpen {
			continue
		}
		p := c.toPullRequest(name, *out.PullRequest)
		if p.Source == source && (target == "" || p.Target == target) {
			return p, nil
		}
	}
	return relay.PullRequest{}, relay.Errorf(relay.ENotFound, "There is no open pull request from %q to %q in %s.", source, target, name)
}

// branchURL is the console page of a branch.
func (c *hostClient) branchURL(repo, branch string) string {
	return c.console + url.PathEscape(repo) + "/browse/refs/heads/" + escapeRef(branch) + "?region=" + url.QueryEscape(c.region)
}

// escapeRef escapes each segment of a ref, keeping its slashes.
func escapeRef(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// toRepository names a repository "ACCOUNT/NAME", so that repositories of
// the same name in two accounts can be told apart in a picker.
func (c *hostClient) toRepository(m types.RepositoryMetadata) relay.Repository {
	name := aws.ToString(m.RepositoryName)
	full := name
	if acct := aws.ToString(m.AccountId); acct != "" {
		full = acct + "/" + name
	}
	return relay.Repository{
		ID:            name,
		Name:          name,
		FullName:      full,
		DefaultBranch: aws.ToString(m.DefaultBranch),
		WebURL:        c.console + url.PathEscape(name) + "/browse?region=" + url.QueryEscape(c.region),
	}
}

func (c *hostClient) toPullRequest(repo string, p types.PullRequest) relay.PullRequest {
	id := aws.ToString(p.PullRequestId)
	n, _ := strconv.Atoi(id)
	out := relay.PullRequest{
		Number: n,
		Title:  aws.ToString(p.Title),
		URL:    c.console + url.PathEscape(repo) + "/pull-requests/" + url.PathEscape(id) + "/details?region=" + url.QueryEscape(c.region),
	}
	if len(p.PullRequestTargets) > 0 {
		t := p.PullRequestTargets[0]
		out.Source = strings.TrimPrefix(aws.ToString(t.SourceReference), "refs/heads/")
		out.Target = strings.TrimPrefix(aws.ToString(t.DestinationReference), "refs/heads/")
	}
	return out
}
