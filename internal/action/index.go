package action

import (
	"context"

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

// indexReader reads the index for an issue (store.DB implements it; a
// store without an index shows none).
type indexReader interface {
	IssueIndex(ctx context.Context, tenantID, issueKey string, integrationIDs []string) (relay.IssueIndex, error)
}

// commitLinker builds commits' web pages (host.Registry implements it).
type commitLinker interface {
	CommitURL(cfg relay.HostConfig, repoWebURL, sha string) string
}

// readIndex adds to d what the index holds for its issue from the usable
// integrations only.
func (s *Service) readIndex(ctx context.Context, tenantID string, d *Development, ins []relay.Integration, usable map[string]bool) error {
	d.Indexed = relay.IssueIndex{Branches: []relay.IssueIndexBranch{}, Commits: []relay.IssueIndexCommit{}, PullRequests: []relay.IssueIndexPullRequest{}}
	d.CommitURLs = map[string]string{}
	r, ok := s.store.(indexReader)
	if !ok || len(usable) == 0 {
		return nil
	}
	ids := make([]string, 0, len(usable))
	cfgs := map[string]relay.HostConfig{}
	for _, in := range ins {
		if usable[in.ID] {
			ids = append(ids, in.ID)
			cfgs[in.ID] = in.HostConfig()
		}
	}
	idx, err := r.IssueIndex(ctx, tenantID, d.IssueKey, ids)
	if err != nil {
		return err
	}
	d.Indexed = idx
	if l, ok := s.hosts.(commitLinker); ok {
		for _, c := range idx.Commits {
			d.CommitURLs[c.SHA] = l.CommitURL(cfgs[c.IntegrationID], c.WebURL, c.SHA)
		}
		for _, b := range idx.Branches {
			d.CommitURLs[b.SHA] = l.CommitURL(cfgs[b.IntegrationID], b.WebURL, b.SHA)
		}
	}
	return nil
}
