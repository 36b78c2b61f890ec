package github

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.PullRequestLister = (*hostClient)(nil)

// ghPull is the part of GitHub's pull request JSON the index keeps.
type ghPull struct {
	Number   int        `json:"number"`
	Title    string     `json:"title"`
	Body     string     `json:"body"`
	State    string     `json:"state"`
	Draft    bool       `json:"draft"`
	HTMLURL  string     `json:"html_url"`
	Created  time.Time  `json:"created_at"`
	Updated  time.Time  `json:"updated_at"`
	MergedAt *time.Time `json:"merged_at"`
	User     struct {
		Login string `json:"login"`
	} `json:"user"`
	Head struct {
		Ref string `json:"ref"`
	} `json:"head"`
	Base struct {
		Ref string `json:"ref"`
	} `json:"base"`
}

func (p ghPull) listed() host.ListedPullRequest {
	state := host.PullRequestOpen
	switch {
	case p.MergedAt != nil:
		state = host.PullRequestMerged
	case p.State == "closed":
		state = host.PullRequestDeclined
	case p.Draft:
		state = host.PullRequestDraft
	}
	return host.ListedPullRequest{
		Number: p.Number, Title: p.Title, Description: p.Body, URL: p.HTMLURL,
		Source: p.Head.Ref, Target: p.Base.Ref, Author: p.User.Login, State: state,
		CreatedAt: p.Created, UpdatedAt: p.Updated,
	}
}

// ListPullRequests reads the repository's pull requests most recently
// updated first (GitHub has no "since" for pull requests, so it stops at
// the first one not updated after the cursor). The first page is asked
// with If-None-Match: GitHub answers 304 when nothing changed, and a 304
// does not count against the rate limit.
func (c *hostClient) ListPullRequests(ctx context.Context, repo relay.Repository, since host.PullRequestCursor) (host.PullRequestPage, error) {
	var out []host.ListedPullRequest
	etag := ""
	for page := 1; page <= host.MaxPullRequestPages; page++ {
		q := url.Values{"state": {"all"}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {"100"}, "page": {fmt.Sprint(page)}}
		req, err := c.gh.NewRequest(ctx, "GET", "repos/"+repo.FullName+"/pulls?"+q.Encode(), nil)
		if err != nil {
			return host.PullRequestPage{}, fmt.Errorf("github: building the pull request list request: %w", err)
		}
		cond := ""
		if page == 1 {
			cond = since.ETag
		}
		var pulls []ghPull
		got, err := host.GetJSON(c.gh.Client(), req, c.name, cond, &pulls)
		if err != nil {
			return host.PullRequestPage{}, err
		}
		if got.NotModified {
			return host.PullRequestPage{NotModified: true, Next: since}, nil
		}
		if page == 1 {
			etag = got.ETag
		}
		done := len(pulls) < 100
		for _, p := range pulls {
			if !since.UpdatedAt.IsZero() && p.Updated.Before(since.UpdatedAt) {
				done = true
				break
			}
			out = append(out, p.listed())
		}
		if done {
			break
		}
	}
	return host.PullRequestPage{PullRequests: out, Next: since.Advance(out, etag)}, nil
}
