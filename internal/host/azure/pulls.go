package azure

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.PullRequestLister = (*hostClient)(nil)

// listedPullRequest is the part of Azure DevOps' pull request JSON the
// index keeps.
type listedPullRequest struct {
	apiPullRequest
	CreationDate time.Time  `json:"creationDate"`
	ClosedDate   *time.Time `json:"closedDate"`
	CreatedBy    struct {
		UniqueName  string `json:"uniqueName"`
		DisplayName string `json:"displayName"`
	} `json:"createdBy"`
}

func (c *hostClient) listed(repo relay.Repository, p listedPullRequest) host.ListedPullRequest {
	state := host.PullRequestOpen
	switch {
	case p.Status == "completed":
		state = host.PullRequestMerged
	case p.Status == "abandoned":
		state = host.PullRequestDeclined
	case p.IsDraft:
		state = host.PullRequestDraft
	}
	pr := c.toPullRequest(repo, p.apiPullRequest)
	author := p.CreatedBy.UniqueName
	if author == "" {
		author = p.CreatedBy.DisplayName
	}
	// Azure DevOps tells no update time: the last known change is the
	// close, else the creation.
	updated := p.CreationDate
	if p.ClosedDate != nil && p.ClosedDate.After(updated) {
		updated = *p.ClosedDate
	}
	return host.ListedPullRequest{
		Number: pr.Number, Title: pr.Title, Description: p.Description, URL: pr.URL,
		Source: pr.Source, Target: pr.Target, Author: author, State: state,
		CreatedAt: p.CreationDate, UpdatedAt: updated,
	}
}

// ListPullRequests reads the repository's pull requests in every status.
// Azure DevOps neither sorts pull requests by update nor answers lists
// conditionally, so every read lists them all (newest first, at most
// host.MaxPullRequestPages pages of 100) and keeps those changed since the
// cursor: a close counts as a change, a new commit pushed to an open pull
// request does not (the refs show it).
func (c *hostClient) ListPullRequests(ctx context.Context, repo relay.Repository, since host.PullRequestCursor) (host.PullRequestPage, error) {
	repo, path, err := c.repoPath(ctx, repo)
	if err != nil {
		return host.PullRequestPage{}, err
	}
	var out []host.ListedPullRequest
	for page := 0; page < host.MaxPullRequestPages; page++ {
		query := url.Values{"searchCriteria.status": {"all"}, "$top": {"100"}, "$skip": {strconv.Itoa(page * 100)}}
		var l list[listedPullRequest]
		k := call{op: opFindPR, repo: repo.FullName}
		if _, err := c.send(ctx, k, request{method: http.MethodGet, path: path + "/pullrequests", query: query, versioned: true}, &l); err != nil {
			return host.PullRequestPage{}, err
		}
		for _, p := range l.Value {
			lp := c.listed(repo, p)
			if since.UpdatedAt.IsZero() || !lp.UpdatedAt.Before(since.UpdatedAt) {
				out = append(out, lp)
			}
		}
		if len(l.Value) < 100 {
			break
		}
	}
	sortByUpdated(out)
	return host.PullRequestPage{PullRequests: out, Next: since.Advance(out, "")}, nil
}

// sortByUpdated orders pull requests most recently updated first, as the
// other hosts list them (ties: the higher number first).
func sortByUpdated(prs []host.ListedPullRequest) {
	slices.SortStableFunc(prs, func(a, b host.ListedPullRequest) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return b.Number - a.Number
	})
}
