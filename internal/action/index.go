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
