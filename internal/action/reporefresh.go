package action

import (
	"context"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// RepositoryRefreshAhead is how long before its cached repository list
// goes stale (RepositoryCacheTTL) the background refresh reads it again,
// so that a user rarely finds it stale and waits for the host.
const RepositoryRefreshAhead = time.Minute

// RefreshRepositories reads an enabled integration's repository list from
// the host again when it is older than RepositoryCacheTTL less
// RepositoryRefreshAhead, the way a request finding it stale does: under
// the repository_reads lease (one replica reads, the others leave it) and
// at most once per MinRepositoryReadInterval. A host failure keeps the
// cached list (logged). It reports whether it read the list.
func (s *Service) RefreshRepositories(ctx context.Context, tenantID, integrationID string) (bool, error) {
	ctx, span := startSpan(ctx, "action.refresh_repositories")
	defer span.End()
	in, err := s.store.Integration(ctx, tenantID, integrationID)
	if err != nil || !in.Enabled {
		return false, err
	}
	at, err := s.store.RepositoriesSyncedAt(ctx, in.TenantID, in.ID)
	switch {
	case err == nil && s.now().Sub(at) < RepositoryCacheTTL-RepositoryRefreshAhead:
		return false, nil
	case err != nil && relay.ErrorCode(err) != relay.ENotFound:
		return false, err
	}
	return s.syncRepositoriesNow(ctx, in)
}
