package app

import (
	"context"
	"database/sql"
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/relay"
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
	// Heartbeat is how often this replica tells the others it is alive
	// (default index.HeartbeatEvery); GoneAfter how long after a replica's
	// last heartbeat the others read the repositories whose clones it holds
	// (default index.DefaultGoneAfter).
	Heartbeat, GoneAfter time.Duration
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
		KnownProjects: knownProjects(c), Now: c.Now, Log: c.Logger, MaxFetchBytes: c.Index.MaxFetchBytes, GoneAfter: c.Index.GoneAfter,
		Paused: func(integration string) bool {
			st, ok := a.RateBudget.StateOf(integration)
			return ok && !st.PausedUntil.IsZero()
		},
		Tell: devinfoOfIndex(c, a),
	})
}

// devinfoOfIndex queues what the index saves for Jira's development
// information (nil without Jira), in the transaction that saves it: Jira's
// own panel and JQL then see the work done outside gitrelay, and a read is
// saved only with its ops queued. The built-in directory's tenant has no
// Jira: nothing is queued for it.
func devinfoOfIndex(c Config, a *App) func(context.Context, relay.IndexState, []relay.IndexedCommit, []relay.IndexedBranch, []relay.IndexedPullRequest) (index.TxHook, error) {
	if a.Devinfo == nil {
		return nil
	}
	return func(ctx context.Context, s relay.IndexState, commits []relay.IndexedCommit, branches []relay.IndexedBranch, prs []relay.IndexedPullRequest) (index.TxHook, error) {
		if !a.Devinfo.Wants(s.TenantID) {
			return nil, nil
		}
		// The links need the integration's host; it is read before the
		// transaction, which its hook must not leave.
		in, err := c.DB.Integration(ctx, s.TenantID, s.IntegrationID)
		if err != nil {
			return nil, err
		}
		cfg := in.HostConfig()
		var x jira.Indexed
		for _, ct := range commits {
			x.Commits = append(x.Commits, jira.IndexedCommit{SHA: ct.SHA, Message: ct.Message, Author: ct.AuthorName, At: ct.At,
				URL: a.Hosts.CommitURL(cfg, s.WebURL, ct.SHA), IssueKeys: ct.IssueKeys})
		}
		// A branch naming several issues has a row per issue: one entity.
		byName := map[string]int{}
		for _, b := range branches {
			if i, ok := byName[b.Name]; ok {
				x.Branches[i].IssueKeys = append(x.Branches[i].IssueKeys, b.IssueKey)
				x.Branches[i].LastCommit.IssueKeys = x.Branches[i].IssueKeys
				continue
			}
			byName[b.Name] = len(x.Branches)
			keys := []string{b.IssueKey}
			x.Branches = append(x.Branches, jira.IndexedBranch{Name: b.Name, URL: a.Hosts.BranchURL(cfg, s.WebURL, b.Name), IssueKeys: keys,
				LastCommit: jira.IndexedCommit{SHA: b.SHA, Message: b.Message, Author: b.Author, At: b.CommitAt,
					URL: a.Hosts.CommitURL(cfg, s.WebURL, b.SHA), IssueKeys: keys}})
		}
		for _, p := range prs {
			x.PullRequests = append(x.PullRequests, jira.IndexedPullRequest{Number: p.Number, Title: p.Title, State: p.State, Source: p.Source,
				Target: p.Target, Author: p.Author, URL: p.URL, UpdatedAt: p.UpdatedAt, IssueKeys: p.IssueKeys})
		}
		repo := jira.IndexedRepository{IntegrationID: s.IntegrationID, RepositoryID: s.RepositoryID, Name: s.FullName, URL: s.WebURL}
		return func(ctx context.Context, tx *sql.Tx) error {
			return a.Devinfo.IndexSaved(ctx, tx, s.TenantID, repo, x)
		}, nil
	}
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
