package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/index"
)

// IndexConfig configures the index (see docs/indexing.md).
type IndexConfig struct {
	// Enabled turns indexing on; it needs the system git binary.
	Enabled bool
	// DataDir holds the clones (under DataDir/index).
	DataDir string
	// PollEvery is how often due repositories are looked for (default
	// DefaultIndexPollEvery); DiscoverEvery how often each integration's
	// repository list is compared with the index (default
	// DefaultIndexDiscoverEvery). Both run as jobs (Config.Jobs).
	PollEvery, DiscoverEvery time.Duration
	// MaxFetchBytes caps what one read of a repository receives.
	MaxFetchBytes int64
	// Git is the git binary (default: git on PATH).
	Git string
}

// GitTimeout bounds one request git makes through the index's gateway (a
// first clone's pack is one request).
const GitTimeout = 30 * time.Minute

// newIndexer builds the indexer c asks for, sharing the action path (the
// only code that opens credentials) and the egress policy.
// hc is the client the caller gave (tests whose hosts answer in memory);
// nil builds gitrelay's outbound client with GitTimeout.
func newIndexer(c Config, a *App, hc *http.Client) (*index.Indexer, error) {
	if hc == nil {
		hc = host.NewHTTPClient(host.ClientConfig{Timeout: GitTimeout, Egress: EgressPolicy(c)})
	}
	return index.New(index.Config{
		Store: c.DB, Access: a.Actions, HTTP: hc, DataDir: c.Index.DataDir, Git: c.Index.Git,
		KnownProjects: knownProjects(c), Now: c.Now, Log: c.Logger, MaxFetchBytes: c.Index.MaxFetchBytes,
		Paused: func(integration string) bool {
			st, ok := a.RateBudget.StateOf(integration)
			return ok && !st.PausedUntil.IsZero()
		},
	})
}

// knownProjects: keys of the projects the tenant's directory lists count;
// a tenant whose directory lists none (a Jira site, whose projects live in
// Jira) counts every upper-case key.
func knownProjects(c Config) func(ctx context.Context, tenantID string) (func(string) bool, error) {
	return func(ctx context.Context, tenantID string) (func(string) bool, error) {
		ps, err := c.DB.Projects(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return func(string) bool { return true }, nil
		}
		known := map[string]bool{}
		for _, p := range ps {
			known[p.Key] = true
		}
		return func(p string) bool { return known[p] }, nil
	}
}
