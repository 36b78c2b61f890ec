package gitlab

import (
	"context"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.PullRequestLister = (*hostClient)(nil)

// ListPullRequests reads the project's merge requests most recently
// updated first, stopping at the first one updated before the cursor. The
// query is the same on every read (no updated_after), so that the first
// page's ETag stays valid and If-None-Match gets a 304 when nothing
// changed (which GitLab still counts against its rate limit).
func (c *hostClient) ListPullRequests(ctx context.Context, repo relay.Repository, since host.PullRequestCursor) (host.PullRequestPage, error) {
	id, err := pid(repo)
	if err != nil {
		return host.PullRequestPage{}, err
	}
	opts := &gl.ListProjectMergeRequestsOptions{
		ListOptions: gl.ListOptions{PerPage: perPage, Page: 1},
		State:       gl.Ptr("all"),
		OrderBy:     gl.Ptr("updated_at"),
		Sort:        gl.Ptr("desc"),
	}
	var out []host.ListedPullRequest
	etag := ""
	for page := 1; page <= host.MaxPullRequestPages; page++ {
		opts.Page = int64(page)
		reqOpts := []gl.RequestOptionFunc{gl.WithContext(ctx)}
		if page == 1 && since.ETag != "" {
			reqOpts = append(reqOpts, gl.WithHeader("If-None-Match", since.ETag))
		}
		start := time.Now()
		list, resp, err := c.gl.MergeRequests.ListProjectMergeRequests(id, opts, reqOpts...)
		if resp != nil && resp.StatusCode == http.StatusNotModified {
			return host.PullRequestPage{NotModified: true, Next: since}, nil
		}
		if err != nil {
			return host.PullRequestPage{}, c.fail(err, start, call{op: opFindPR, repo: repoName(repo)})
		}
		if page == 1 {
			etag = resp.Header.Get("ETag")
		}
		done := resp.NextPage == 0 || len(list) < perPage
		for _, m := range list {
			p := listedMR(m)
			if !since.UpdatedAt.IsZero() && p.UpdatedAt.Before(since.UpdatedAt) {
				done = true
				break
			}
			out = append(out, p)
		}
		if done {
			break
		}
	}
	return host.PullRequestPage{PullRequests: out, Next: since.Advance(out, etag)}, nil
}

func listedMR(m *gl.BasicMergeRequest) host.ListedPullRequest {
	state := host.PullRequestOpen
	switch {
	case m.State == "merged":
		state = host.PullRequestMerged
	case m.State == "closed":
		state = host.PullRequestDeclined
	case m.Draft:
		state = host.PullRequestDraft
	}
	p := host.ListedPullRequest{
		Number: int(m.IID), Title: m.Title, Description: m.Description, URL: m.WebURL,
		Source: m.SourceBranch, Target: m.TargetBranch, State: state,
	}
	if m.Author != nil {
		p.Author = m.Author.Username
	}
	if m.CreatedAt != nil {
		p.CreatedAt = *m.CreatedAt
	}
	if m.UpdatedAt != nil {
		p.UpdatedAt = *m.UpdatedAt
	}
	return p
}
