package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/store"
)

// The periodic checks of saved personal access tokens.
const (
	// TokenCheckEvery is how often a run checks a batch of tokens.
	TokenCheckEvery = 10 * time.Minute
	// TokenCheckBatch bounds the tokens one run asks their hosts about
	// (one request each): at most 7,200 a day, spread over the day, each
	// token once per action.TokenCheckInterval.
	TokenCheckBatch = 50
)

// TokenCheckArgs is the periodic job asking the hosts whether saved
// personal access tokens still work (action.Service.CheckUserTokens).
type TokenCheckArgs struct{}

// Kind names the job.
func (TokenCheckArgs) Kind() string { return "user_token_check" }

type tokenCheckWorker struct {
	river.WorkerDefaults[TokenCheckArgs]
	db      *store.DB
	actions *action.Service
	log     *slog.Logger
}

func (w *tokenCheckWorker) Work(ctx context.Context, _ *river.Job[TokenCheckArgs]) error {
	// One batch at a time across replicas, so no token is asked about
	// twice at once.
	_, err := w.db.OneAtATime(ctx, TokenCheckArgs{}.Kind(), func(ctx context.Context) error {
		r, err := w.actions.CheckUserTokens(ctx, TokenCheckBatch, action.TokenCheckInterval)
		if r != (action.TokenChecks{}) {
			w.log.InfoContext(ctx, "checked saved personal access tokens with their hosts", "checked", r.Checked,
				"marked", r.Marked, "host_faults", r.Faults)
		}
		return err
	})
	return err
}

// The background refreshes of cached repository lists.
const (
	// RepositoryRefreshSweepEvery is how often the lists about to go stale
	// are looked for.
	RepositoryRefreshSweepEvery = time.Minute
	// RepositoryRefreshSweepBatch bounds the refreshes one sweep enqueues;
	// the next sweep takes the rest, oldest first.
	RepositoryRefreshSweepBatch = 100
)

// RepositoryRefreshSweepArgs is the periodic job enqueueing a
// RepositoryRefreshArgs for every enabled integration whose cached
// repository list goes stale within action.RepositoryRefreshAhead.
type RepositoryRefreshSweepArgs struct{}

// Kind names the job.
func (RepositoryRefreshSweepArgs) Kind() string { return "repository_refresh_sweep" }

// RepositoryRefreshArgs reads one integration's repository list from the
// host again (action.Service.RefreshRepositories).
type RepositoryRefreshArgs struct {
	TenantID      string `json:"tenant_id"`
	IntegrationID string `json:"integration_id"`
}

// Kind names the job.
func (RepositoryRefreshArgs) Kind() string { return "repository_refresh" }

type repositoryRefreshSweeper struct {
	river.WorkerDefaults[RepositoryRefreshSweepArgs]
	db   *store.DB
	jobs *jobs.Runner
	now  func() time.Time
}

func (w *repositoryRefreshSweeper) Work(ctx context.Context, _ *river.Job[RepositoryRefreshSweepArgs]) error {
	before := w.now().Add(-(action.RepositoryCacheTTL - action.RepositoryRefreshAhead))
	due, err := w.db.RepositoryListsDue(ctx, before, RepositoryRefreshSweepBatch)
	if err != nil {
		return err
	}
	for _, l := range due {
		if err := w.jobs.Enqueue(ctx, RepositoryRefreshArgs{TenantID: l.TenantID, IntegrationID: l.IntegrationID},
			RepositoryRefreshOpts()); err != nil {
			return err
		}
	}
	return nil
}

// RepositoryRefreshOpts keeps one refresh per integration queued or
// running, however many sweeps enqueue it. A refresh a dead process left
// running blocks the next until River rescues it (the job timeout and a
// minute): meanwhile a user finding the list stale reads it, as without
// the job. The repository_reads lease keeps two replicas from reading one
// list at once in any case.
func RepositoryRefreshOpts() *river.InsertOpts { return jobs.OnePerArgs() }

type repositoryRefresher struct {
	river.WorkerDefaults[RepositoryRefreshArgs]
	actions *action.Service
}

func (w *repositoryRefresher) Work(ctx context.Context, j *river.Job[RepositoryRefreshArgs]) error {
	// A background read: held to the rate budget's share of the
	// integration account's limit, as the index's reads are, so that it
	// never spends what users' actions need.
	ctx = host.ForIndexing(ctx, j.Args.TenantID+"/"+j.Args.IntegrationID)
	_, err := w.actions.RefreshRepositories(ctx, j.Args.TenantID, j.Args.IntegrationID)
	return err
}

// registerHostJobs puts on r the background work that asks the hosts
// something: the periodic token checks and the refreshes of cached
// repository lists before they go stale. Each periodic job runs on one
// replica at a time (jobs.Runner.Every).
func registerHostJobs(r *jobs.Runner, actions *action.Service, db *store.DB, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	jobs.Register(r, &tokenCheckWorker{db: db, actions: actions, log: log})
	r.Every(TokenCheckEvery, TokenCheckArgs{})
	jobs.Register(r, &repositoryRefreshSweeper{db: db, jobs: r, now: now})
	jobs.Register(r, &repositoryRefresher{actions: actions})
	r.Every(RepositoryRefreshSweepEvery, RepositoryRefreshSweepArgs{})
}
