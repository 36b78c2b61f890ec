package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// PullRequestState is where a pull request stands, in gitrelay's words for
// every host.
type PullRequestState string

const (
	PullRequestOpen     PullRequestState = "open"
	PullRequestDraft    PullRequestState = "draft"
	PullRequestMerged   PullRequestState = "merged"
	PullRequestDeclined PullRequestState = "declined" // closed without merging, abandoned
)

// ListedPullRequest is one pull request of a repository as the indexer
// keeps it.
type ListedPullRequest struct {
	Number      int
	Title       string
	Description string
	URL         string
	Source      string
	Target      string
	Author      string
	State       PullRequestState
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PullRequestCursor is where the previous incremental read of a
// repository's pull requests stopped. The zero cursor reads every pull
// request.
type PullRequestCursor struct {
	// UpdatedAt is the latest update time read so far: the next read asks
	// for (or stops at) pull requests updated no earlier than it.
	UpdatedAt time.Time
	// ETag is the validator of the first page of the previous read, sent
	// as If-None-Match where the host supports it.
	ETag string
}

// PullRequestPage is the result of one incremental read.
type PullRequestPage struct {
	// PullRequests changed since the cursor, most recently updated first.
	// A pull request updated exactly at the cursor's time may be listed
	// again; callers upsert by number.
	PullRequests []ListedPullRequest
	// NotModified is true when the host answered 304 to the conditional
	// request: nothing changed, and it cost no rate limit on GitHub.
	NotModified bool
	// Next is the cursor for the next read.
	Next PullRequestCursor
}

// PullRequestLister is an optional capability of a relay.HostClient: an
// incremental read of a repository's pull requests, most recently updated
// first, stopping at the cursor, with a conditional request where the host
// supports one. Find it with PullRequests, which sees through the
// registry's wrapping.
type PullRequestLister interface {
	ListPullRequests(ctx context.Context, repo relay.Repository, since PullRequestCursor) (PullRequestPage, error)
}

// PullRequests returns c's PullRequestLister, if its host kind has one.
func PullRequests(c relay.HostClient) (PullRequestLister, bool) {
	s, wrapped := c.(safeLinks)
	if !wrapped {
		l, ok := c.(PullRequestLister)
		return l, ok
	}
	c = s.HostClient
	t, isTraced := c.(traced)
	if isTraced {
		c = t.next
	}
	l, ok := c.(PullRequestLister)
	if !ok {
		return nil, false
	}
	if isTraced {
		l = tracedLister{next: l, kind: t.kind}
	}
	return safeLister{l}, true
}

// safeLister keeps the registry's promise that results carry only safe
// links.
type safeLister struct{ l PullRequestLister }

func (s safeLister) ListPullRequests(ctx context.Context, repo relay.Repository, since PullRequestCursor) (PullRequestPage, error) {
	p, err := s.l.ListPullRequests(ctx, repo, since)
	for i := range p.PullRequests {
		p.PullRequests[i].URL = SafeLink(p.PullRequests[i].URL)
	}
	return p, safeErr(err)
}

// MaxPullRequestPages bounds how many pages of one incremental read an
// adapter follows; the next read continues from the cursor.
const MaxPullRequestPages = 20

// Advance returns the cursor after reading prs (most recently updated
// first) whose first page had the validator etag.
func (c PullRequestCursor) Advance(prs []ListedPullRequest, etag string) PullRequestCursor {
	next := PullRequestCursor{UpdatedAt: c.UpdatedAt, ETag: etag}
	for _, p := range prs {
		if p.UpdatedAt.After(next.UpdatedAt) {
			next.UpdatedAt = p.UpdatedAt
		}
	}
	return next
}

// ListPage is one page of a list read with GetJSON.
type ListPage struct {
	// NotModified: the host answered 304 to If-None-Match; nothing was
	// decoded.
	NotModified bool
	ETag        string
	Header      http.Header
}

// GetJSON sends req (a GET an adapter built, with its credential in hc's
// transport), with If-None-Match: etag when etag is not empty, and decodes
// a 2xx answer into into. Failures are *relay.Error values naming
// hostName: transport errors as TransportError, statuses as StatusError,
// a 403 or 404 as the repository not being readable with this credential.
func GetJSON(hc *http.Client, req *http.Request, hostName, etag string, into any) (ListPage, error) {
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return ListPage{}, TransportError(hostName, err, time.Since(start))
	}
	defer func() { _ = resp.Body.Close() }()
	page := ListPage{ETag: resp.Header.Get("ETag"), Header: resp.Header}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		page.NotModified = true
		if page.ETag == "" {
			page.ETag = etag
		}
		return page, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			if e := (*BodyTooLargeError)(nil); errors.As(err, &e) {
				return ListPage{}, TransportError(hostName, err, time.Since(start))
			}
			return ListPage{}, &relay.Error{Code: relay.EHostError,
				Message: fmt.Sprintf("%s answered the list of pull requests with something gitrelay cannot read.", hostName)}
		}
		return page, nil
	case resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0":
		d, _ := RetryAfter(resp.Header, time.Now())
		return ListPage{}, RateLimited(hostName, d)
	}
	if e := StatusError(hostName, resp.StatusCode, resp.Header, time.Now()); e != nil {
		return ListPage{}, e
	}
	return ListPage{}, &relay.Error{Code: relay.ENotFound,
		Message: fmt.Sprintf("%s did not let the integration account read this repository's pull requests (HTTP %d); check that the account can read it.", hostName, resp.StatusCode)}
}
