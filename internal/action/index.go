package action

import (
	"context"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// gitHosts is what the index needs from the host registry: how to read a
// repository with git (host.Registry implements it).
type gitHosts interface {
	GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error)
}

// IndexRepositories lists the repositories the index reads for an
// integration: every repository it includes that its account sees, from
// the repository cache, read again from the host when stale. A disabled
// integration indexes nothing.
func (s *Service) IndexRepositories(ctx context.Context, tenantID, integrationID string) ([]relay.Repository, error) {
	in, err := s.store.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return nil, err
	}
	if !in.Enabled {
		return []relay.Repository{}, nil
	}
	if _, err := s.syncRepositoriesIfStale(ctx, in, false); err != nil {
		return nil, err
	}
	repos, err := s.store.SearchRepositories(ctx, in.TenantID, in.ID, "", 0)
	if err != nil {
		return nil, err
	}
	included := make([]relay.Repository, 0, len(repos))
	for _, r := range repos {
		if in.IncludesRepository(r.ID) {
			included = append(included, r)
		}
	}
	return included, nil
}

// GitRemote is how the index reads repo with git as the integration
// account: the integration credential is opened here, as every credential
// is, and leaves only as the Authorization header value for the
// repository's own host.
func (s *Service) GitRemote(ctx context.Context, tenantID, integrationID string, repo relay.Repository) (relay.GitRemote, error) {
	in, err := s.store.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return relay.GitRemote{}, err
	}
	if !in.Enabled {
		return relay.GitRemote{}, relay.Errorf(relay.EIntegrationDisabled, "Integration %s is disabled.", in.Name)
	}
	g, ok := s.hosts.(gitHosts)
	if !ok {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid, "Repositories of %s are not read with git.", in.Kind)
	}
	sealed, err := s.store.IntegrationCredential(ctx, in.TenantID, in.ID)
	if err != nil {
		return relay.GitRemote{}, err
	}
	cred, err := relay.OpenCredential(s.sealer, sealed, relay.IntegrationSecretOwner(in.TenantID, in.ID))
	if err != nil {
		return relay.GitRemote{}, err
	}
	return g.GitRemote(in.HostConfig(), repo, cred)
}

// IndexClient is the host client of the integration account, for the
// index's reads through the host's API (pull requests). Like GitRemote,
// the credential is opened here and stays in the client.
func (s *Service) IndexClient(ctx context.Context, tenantID, integrationID string) (relay.HostClient, error) {
	in, err := s.store.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return nil, err
	}
	if !in.Enabled {
		return nil, relay.Errorf(relay.EIntegrationDisabled, "Integration %s is disabled.", in.Name)
	}
	return s.integrationClient(ctx, in)
}

// authorDirectory finds directory users by email (store.DB implements it).
type authorDirectory interface {
	UsersByEmail(ctx context.Context, tenantID string, emails []string) (map[string]relay.User, error)
}

// commitLinker builds commits' and branches' web pages (host.Registry
// implements it).
type commitLinker interface {
	CommitURL(cfg relay.HostConfig, repoWebURL, sha string) string
	BranchURL(cfg relay.HostConfig, repoWebURL, name string) string
}

// BranchKey names a branch of a repository of an integration, for
// Development.BranchURLs.
func BranchKey(integrationID, repositoryID, name string) string {
	return integrationID + "\x00" + repositoryID + "\x00" + name
}

// readIndex adds to d what the index holds for its issue (idx, as the
// panel's reads found it) from the usable integrations only.
func (s *Service) readIndex(ctx context.Context, tenantID string, d *Development, idx relay.IssueIndex, ins []relay.Integration, usable map[string]bool) error {
	d.Indexed = relay.IssueIndex{Branches: []relay.IssueIndexBranch{}, Commits: []relay.IssueIndexCommit{}, PullRequests: []relay.IssueIndexPullRequest{}}
	d.CommitURLs = map[string]string{}
	d.BranchURLs = map[string]string{}
	d.Authors = map[string]relay.User{}
	if len(idx.Branches)+len(idx.Commits)+len(idx.PullRequests) == 0 || len(usable) == 0 {
		return nil
	}
	// A repository taken out of the integration leaves the index at the
	// next pass; until then it is not shown.
	byID := make(map[string]relay.Integration, len(usable))
	cfgs := make(map[string]relay.HostConfig, len(usable))
	for _, in := range ins {
		if usable[in.ID] {
			byID[in.ID], cfgs[in.ID] = in, in.HostConfig()
		}
	}
	included := func(integrationID, repositoryID string) bool {
		in, ok := byID[integrationID]
		return ok && in.IncludesRepository(repositoryID)
	}
	// The index read is shared (the store keeps it): kept into new slices.
	idx.Branches = keptOf(idx.Branches, func(b relay.IssueIndexBranch) bool { return included(b.IntegrationID, b.RepositoryID) })
	idx.Commits = keptOf(idx.Commits, func(c relay.IssueIndexCommit) bool { return included(c.IntegrationID, c.RepositoryID) })
	idx.PullRequests = keptOf(idx.PullRequests, func(p relay.IssueIndexPullRequest) bool { return included(p.IntegrationID, p.RepositoryID) })
	d.Indexed = idx
	if ad, ok := s.store.(authorDirectory); ok && len(idx.Commits) > 0 {
		emails := make([]string, 0, len(idx.Commits))
		for _, c := range idx.Commits {
			emails = append(emails, c.AuthorEmail)
		}
		var err error
		if d.Authors, err = ad.UsersByEmail(ctx, tenantID, emails); err != nil {
			return err
		}
	}
	if l, ok := s.hosts.(commitLinker); ok {
		for _, c := range idx.Commits {
			d.CommitURLs[c.SHA] = l.CommitURL(cfgs[c.IntegrationID], c.WebURL, c.SHA)
		}
		for _, b := range idx.Branches {
			d.CommitURLs[b.SHA] = l.CommitURL(cfgs[b.IntegrationID], b.WebURL, b.SHA)
			d.BranchURLs[BranchKey(b.IntegrationID, b.RepositoryID, b.Name)] = l.BranchURL(cfgs[b.IntegrationID], b.WebURL, b.Name)
		}
	}
	return nil
}

// keptOf is s when keep keeps all of it, otherwise a new slice of what it
// keeps: s itself is never modified.
func keptOf[T any](s []T, keep func(T) bool) []T {
	for i, v := range s {
		if keep(v) {
			continue
		}
		out := append(make([]T, 0, len(s)-1), s[:i]...)
		for _, w := range s[i+1:] {
			if keep(w) {
				out = append(out, w)
			}
		}
		return out
	}
	return s
}

// indexAdmin is what the index's administration reads and changes
// (store.DB implements it).
type indexAdmin interface {
	IndexStates(ctx context.Context, tenantID, integrationID string, now time.Time) ([]relay.IndexState, error)
	RequestReindex(ctx context.Context, tenantID, integrationID, repositoryID string, now time.Time) (int, error)
}

// IndexStatus is the state of an integration's index, for its
// administrators.
type IndexStatus struct {
	IntegrationID string
	// Total repositories in the index; Indexed have been read at least
	// once; Queued are due now (new, re-index asked, or their next check
	// passed); Failing failed at their last read.
	Total, Indexed, Queued, Failing int
	Commits                         int64
	DiskBytes                       int64
	// LastCheckedAt is the latest check of any repository, NextCheckAt the
	// earliest due one (zero: none).
	LastCheckedAt, NextCheckAt time.Time
	Repositories               []relay.IndexState
	// Webhook is what the integration's webhook received; nil before its
	// secret was made (no webhook set up).
	Webhook *IndexWebhook
	// Budget is the integration account's rate limit as the host last
	// reported it to an indexing read; nil before one did.
	Budget *IndexBudget
}

// IndexWebhook counts an integration's webhook deliveries.
type IndexWebhook struct {
	// Received were verified; Refused were not (forged, unsigned, too
	// large).
	Received, Refused int64
	LastDeliveryAt    time.Time // zero: never
	LastRefusedAt     time.Time // zero: never
}

// IndexBudget is an integration account's rate limit: Remaining of Limit
// until Reset, of which indexing leaves Reserved to users' actions;
// PausedUntil (zero: not paused) is when indexing reads resume.
type IndexBudget struct {
	Limit, Remaining, Reserved int
	Reset, PausedUntil         time.Time
}

// webhookReader reads an integration's webhook counters (store.DB
// implements it).
type webhookReader interface {
	Webhook(ctx context.Context, tenantID, integrationID string) (relay.Webhook, error)
}

// UseRateBudget makes IndexStatus tell the integration account's rate
// budget, as f reports it (ok false: not known yet). Call it before
// serving.
func (s *Service) UseRateBudget(f func(tenantID, integrationID string) (IndexBudget, bool)) {
	s.rateBudget = f
}

// IndexStatusOf sums up an integration's repositories' states.
func IndexStatusOf(integrationID string, states []relay.IndexState, now time.Time) IndexStatus {
	st := IndexStatus{IntegrationID: integrationID, Total: len(states), Repositories: states}
	for _, r := range states {
		if !r.LastCheckedAt.IsZero() && r.TipsDigest != "" {
			st.Indexed++
		}
		if !r.NextPollAt.After(now) || !r.RequestedAt.IsZero() {
			st.Queued++
		}
		if r.Failure != "" {
			st.Failing++
		}
		st.Commits += r.Commits
		st.DiskBytes += r.DiskBytes
		if r.LastCheckedAt.After(st.LastCheckedAt) {
			st.LastCheckedAt = r.LastCheckedAt
		}
		if st.NextCheckAt.IsZero() || r.NextPollAt.Before(st.NextCheckAt) {
			st.NextCheckAt = r.NextPollAt
		}
	}
	return st
}

// IndexStatus reports the integration's index (administrators only).
func (s *Service) IndexStatus(ctx context.Context, p relay.Principal, integrationID string) (IndexStatus, error) {
	a, err := s.indexAdmin(ctx, p, integrationID)
	if err != nil {
		return IndexStatus{}, err
	}
	states, err := a.IndexStates(ctx, p.TenantID, integrationID, s.now())
	if err != nil {
		return IndexStatus{}, err
	}
	st := IndexStatusOf(integrationID, states, s.now())
	if wr, ok := s.store.(webhookReader); ok {
		switch w, err := wr.Webhook(ctx, p.TenantID, integrationID); {
		case err == nil:
			st.Webhook = &IndexWebhook{Received: w.Deliveries, Refused: w.Refused, LastDeliveryAt: w.LastDeliveryAt, LastRefusedAt: w.LastRefusedAt}
		case relay.ErrorCode(err) != relay.ENotFound:
			return IndexStatus{}, err
		}
	}
	if s.rateBudget != nil {
		if b, ok := s.rateBudget(p.TenantID, integrationID); ok {
			st.Budget = &b
		}
	}
	return st, nil
}

// Reindex asks for the integration's repository (every one when
// repositoryID is "") to be read again in full at once (administrators
// only), and returns the status after the request.
func (s *Service) Reindex(ctx context.Context, p relay.Principal, integrationID, repositoryID string) (IndexStatus, error) {
	a, err := s.indexAdmin(ctx, p, integrationID)
	if err != nil {
		return IndexStatus{}, err
	}
	if _, err := a.RequestReindex(ctx, p.TenantID, integrationID, repositoryID, s.now()); err != nil {
		return IndexStatus{}, err
	}
	if s.indexNow != nil {
		// The request is saved: failing to start the read now only
		// leaves it to the next scheduled poll.
		if err := s.indexNow(ctx, p.TenantID, integrationID, repositoryID); err != nil {
			s.log.WarnContext(ctx, "index: starting the re-index now failed; the next poll reads it", "err", err)
		}
	}
	return s.IndexStatus(ctx, p, integrationID)
}

// OnReindex makes Reindex call f after saving a request, to read the
// repositories it made due at once rather than at the next scheduled
// poll. Call it before serving.
func (s *Service) OnReindex(f func(ctx context.Context, tenantID, integrationID, repositoryID string) error) {
	s.indexNow = f
}

func (s *Service) indexAdmin(ctx context.Context, p relay.Principal, integrationID string) (indexAdmin, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if _, err := s.store.Integration(ctx, p.TenantID, integrationID); err != nil {
		return nil, err
	}
	a, ok := s.store.(indexAdmin)
	if !ok {
		return nil, relay.Errorf(relay.EInternal, "This store keeps no index.")
	}
	return a, nil
}
