package index

import (
	"context"
	"errors"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// PullRequestTimeout bounds one repository's pull-request read, waits for
// the rate budget included: a read held longer is left to the next poll.
const PullRequestTimeout = time.Minute

// PullRequestStore keeps the pull requests read through the host API and
// where each repository's read stands (store.DB implements it). A Store
// without it indexes no pull requests.
type PullRequestStore interface {
	PullRequestCursor(ctx context.Context, k relay.IndexKey) (time.Time, string, error)
	SetPullRequestCursor(ctx context.Context, k relay.IndexKey, cursor time.Time, etag string) error
	PutIndexedPullRequests(ctx context.Context, k relay.IndexKey, prs []relay.IndexedPullRequest, hooks ...TxHook) error
}

// HostAccess gives the integration account's host client (action.Service
// implements it). An Access without it indexes no pull requests.
type HostAccess interface {
	IndexClient(ctx context.Context, tenantID, integrationID string) (relay.HostClient, error)
}

// BudgetName names an integration's account to the rate budget
// (host.ForIndexing, host.RateBudget.StateOf).
func BudgetName(tenantID, integrationID string) string { return tenantID + "/" + integrationID }

// readPullRequests reads the repository's pull requests changed since its
// cursor through the host API, as an indexing read (host.ForIndexing: the
// rate budget applies), and saves those that name an issue in their
// title, source branch or description. An unchanged list costs one
// conditional request. While the integration's budget is spent (Paused),
// or when the host limits the read, nothing is read: the next poll
// continues from the cursor.
func (x *Indexer) readPullRequests(ctx context.Context, s relay.IndexState, known func(string) bool) error {
	st, ok := x.c.Store.(PullRequestStore)
	ha, ok2 := x.c.Access.(HostAccess)
	if !ok || !ok2 {
		return nil
	}
	name := BudgetName(s.TenantID, s.IntegrationID)
	if x.c.Paused != nil && x.c.Paused(name) {
		return nil
	}
	hc, err := ha.IndexClient(ctx, s.TenantID, s.IntegrationID)
	if err != nil {
		return err
	}
	lister, ok := host.PullRequests(hc)
	if !ok {
		return nil
	}
	cursor, etag, err := st.PullRequestCursor(ctx, s.IndexKey)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(host.ForIndexing(ctx, name), PullRequestTimeout)
	defer cancel()
	page, err := lister.ListPullRequests(rctx, relay.Repository{ID: s.RepositoryID, FullName: s.FullName, WebURL: s.WebURL},
		host.PullRequestCursor{UpdatedAt: cursor, ETag: etag})
	switch {
	case err == nil:
	case relay.ErrorCode(err) == relay.ERateLimited:
		return nil
	case ctx.Err() == nil && (rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)):
		// Held by the budget past the read's bound: the next poll.
		return nil
	default:
		return err
	}
	if page.NotModified {
		return nil
	}
	prs := make([]relay.IndexedPullRequest, 0, len(page.PullRequests))
	for _, p := range page.PullRequests {
		// Every listed pull request is saved, so that one edited to name
		// no issue any more loses its keys.
		keys := Keys(p.Title, known)
		for _, k := range append(Keys(p.Source, known), Keys(p.Description, known)...) {
			if !contains(keys, k) {
				keys = append(keys, k)
			}
		}
		prs = append(prs, relay.IndexedPullRequest{Number: p.Number, Title: p.Title, State: string(p.State), Source: p.Source,
			Target: p.Target, Author: p.Author, URL: p.URL, UpdatedAt: p.UpdatedAt, IssueKeys: keys})
	}
	if len(prs) > 0 {
		var named []relay.IndexedPullRequest
		for _, p := range prs {
			if len(p.IssueKeys) > 0 {
				named = append(named, p)
			}
		}
		hooks, err := x.tell(ctx, s, nil, nil, named)
		if err != nil {
			return err
		}
		if err := st.PutIndexedPullRequests(ctx, s.IndexKey, prs, hooks...); err != nil {
			return err
		}
	}
	return st.SetPullRequestCursor(ctx, s.IndexKey, page.Next.UpdatedAt, page.Next.ETag)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
