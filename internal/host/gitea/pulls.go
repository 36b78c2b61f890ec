package gitea

import (
	"context"
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.PullRequestLister = (*hostClient)(nil)

// listedPull is the part of Gitea's pull request JSON the index keeps.
type listedPull struct {
	apiPull
	Body     string     `json:"body"`
	Merged   bool       `json:"merged"`
	MergedAt *time.Time `json:"merged_at"`
	Created  time.Time  `json:"created_at"`
	Updated  time.Time  `json:"updated_at"`
	User     struct {
		Login string `json:"login"`
	} `json:"user"`
}

func (p listedPull) listed() host.ListedPullRequest {
	state := host.PullRequestOpen
	switch {
	case p.Merged || p.MergedAt != nil:
		state = host.PullRequestMerged
	case p.State == "closed":
		state = host.PullRequestDeclined
	case p.Draft || isWIP(p.Title):
		state = host.PullRequestDraft
	}
	return host.ListedPullRequest{
		Number: p.Number, Title: p.Title, Description: p.Body, URL: p.HTMLURL,
		Source: p.Head.Ref, Target: p.Base.Ref, Author: p.User.Login, State: state,
		CreatedAt: p.Created, UpdatedAt: p.Updated,
	}
}

// ListPullRequests reads the repository's pull requests most recently
// updated first (sort=recentupdate), stopping at the first one updated
// before the cursor. Gitea's API answers lists without validators, so
// every read costs one request per page read.
func (c *hostClient) ListPullRequests(ctx context.Context, repo relay.Repository, since host.PullRequestCursor) (host.PullRequestPage, error) {
	repo, path, err := c.locate(ctx, repo)
	if err != nil {
		return host.PullRequestPage{}, err
	}
	var out []host.ListedPullRequest
	page := 0
	err = pages(func(n int) (int, http.Header, error) {
		page++
		if page > host.MaxPullRequestPages {
			return 0, nil, nil
		}
		var list []listedPull
		h, err := c.do(ctx, request{method: http.MethodGet, path: path + "/pulls", query: listQuery(n, "state", "all", "sort", "recentupdate"),
			call: call{op: opFindPR, repo: repo.FullName}}, &list)
		if err != nil {
			return 0, nil, err
		}
		for _, p := range list {
			l := p.listed()
			if !since.UpdatedAt.IsZero() && l.UpdatedAt.Before(since.UpdatedAt) {
				return 0, h, nil // older than the cursor: stop
			}
			out = append(out, l)
		}
		return len(list), h, nil
	})
	if err != nil {
		return host.PullRequestPage{}, err
	}
	return host.PullRequestPage{PullRequests: out, Next: since.Advance(out, "")}, nil
}
