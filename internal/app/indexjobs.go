package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// Defaults of IndexConfig's schedule.
const (
	DefaultIndexPollEvery     = 10 * time.Second
	DefaultIndexDiscoverEvery = 5 * time.Minute
	// IndexPollSlots is how many periodic poll jobs exist at once: each
	// claims due repositories under the lease, so up to this many replicas
	// (or workers of one) read repositories side by side.
	IndexPollSlots = 4
	// indexPollRounds bounds one poll job's claims, so that a job ends
	// (and another replica may take the next) while a first index of many
	// repositories runs.
	indexPollRounds = 16
	// drainBatch is how many queued repository changes one job reads.
	drainBatch = 500
)

// IndexPollArgs is the job reading due repositories: the periodic ones
// (Slot, each unique while queued or running) every IndexConfig.PollEvery,
// and one per webhook delivery or re-index request (naming its
// repository), so that it is read at once rather than at the next tick.
// Repositories are claimed
// under a lease in the database, so two jobs never read one repository at
// once, and a job cut short leaves its repositories to the lease's end.
type IndexPollArgs struct {
	Slot          int    `json:"slot,omitempty"`
	TenantID      string `json:"tenant_id,omitempty"`
	IntegrationID string `json:"integration_id,omitempty"`
	Repository    string `json:"repository,omitempty"`
}

// Kind names the job.
func (IndexPollArgs) Kind() string { return "index_poll" }

// IndexDiscoverArgs is the periodic job comparing each integration's
// repositories with the index (new ones become due, removed ones lose
// their index and clones).
type IndexDiscoverArgs struct {
	TenantID      string `json:"tenant_id,omitempty"`
	IntegrationID string `json:"integration_id,omitempty"`
}

// Kind names the job.
func (IndexDiscoverArgs) Kind() string { return "index_discover" }

type indexPollWorker struct {
	river.WorkerDefaults[IndexPollArgs]
	ix  *index.Indexer
	db  *store.DB
	now func() time.Time
	log *slog.Logger
}

// Timeout lets a poll job run as long as one first clone may take
// (GitTimeout) rather than the queue's default. A job running past the
// queue's rescue time is worked again elsewhere meanwhile: harmless, as
// each repository is read under its lease.
func (w *indexPollWorker) Timeout(*river.Job[IndexPollArgs]) time.Duration { return GitTimeout }

func (w *indexPollWorker) Work(ctx context.Context, _ *river.Job[IndexPollArgs]) error {
	// The changes webhooks queued make their repositories due first, so
	// that this very job reads them.
	if _, err := DrainRepositoryChanges(ctx, w.db, w.now); err != nil {
		w.log.WarnContext(ctx, "index: reading queued repository changes failed", "err", err)
	}
	for range indexPollRounds {
		n, err := w.ix.PollDue(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

type indexDiscoverWorker struct {
	river.WorkerDefaults[IndexDiscoverArgs]
	ix *index.Indexer
	r  *jobs.Runner
}

func (w *indexDiscoverWorker) Work(ctx context.Context, j *river.Job[IndexDiscoverArgs]) error {
	var err error
	if j.Args.IntegrationID != "" {
		err = w.ix.DiscoverIntegration(ctx, j.Args.TenantID, j.Args.IntegrationID)
	} else {
		err = w.ix.Discover(ctx)
	}
	if err != nil {
		return err
	}
	// New repositories are due at once: read them now.
	return w.r.Enqueue(ctx, IndexPollArgs{TenantID: j.Args.TenantID, IntegrationID: j.Args.IntegrationID}, jobs.OnePerArgs())
}

// registerIndexJobs puts the index on r: discovery every DiscoverEvery,
// IndexPollSlots poll jobs every PollEvery (IndexScheduleArgs).
func registerIndexJobs(r *jobs.Runner, ix *index.Indexer, db *store.DB, c IndexConfig, now func() time.Time, log *slog.Logger) {
	poll, discover := c.PollEvery, c.DiscoverEvery
	if poll <= 0 {
		poll = DefaultIndexPollEvery
	}
	if discover <= 0 {
		discover = DefaultIndexDiscoverEvery
	}
	jobs.Register(r, &indexPollWorker{ix: ix, db: db, now: now, log: log})
	jobs.Register(r, &indexDiscoverWorker{ix: ix, r: r})
	jobs.Register(r, &indexScheduleWorker{r: r})
	r.Every(discover, IndexDiscoverArgs{})
	r.Every(poll, IndexScheduleArgs{})
}

// IndexScheduleArgs is the periodic job starting the IndexPollSlots poll
// jobs (those still running from the previous tick are not joined by a
// second).
type IndexScheduleArgs struct{}

// Kind names the job.
func (IndexScheduleArgs) Kind() string { return "index_schedule" }

type indexScheduleWorker struct {
	river.WorkerDefaults[IndexScheduleArgs]
	r *jobs.Runner
}

func (w *indexScheduleWorker) Work(ctx context.Context, _ *river.Job[IndexScheduleArgs]) error {
	for slot := range IndexPollSlots {
		if err := w.r.Enqueue(ctx, IndexPollArgs{Slot: slot + 1}, jobs.OnePerArgs()); err != nil {
			return err
		}
	}
	return nil
}

// DrainRepositoryChanges makes each repository a webhook said changed due
// at once (store.DB.PollSoon) and removes it from the durable queue. A
// change naming a repository the index does not hold is dropped: the next
// discovery adds the repository, due at once. It returns how many changes
// it removed.
func DrainRepositoryChanges(ctx context.Context, db *store.DB, now func() time.Time) (int, error) {
	if now == nil {
		now = time.Now
	}
	// Repository ids by full name, per integration, read once per drain.
	ids := map[[2]string]map[string]string{}
	return webhook.DrainChanges(ctx, db, drainBatch, func(ctx context.Context, ch relay.RepositoryChange) error {
		id := ch.RepositoryID
		if id == "" {
			in := [2]string{ch.TenantID, ch.IntegrationID}
			byName, ok := ids[in]
			if !ok {
				states, err := db.IndexStates(ctx, ch.TenantID, ch.IntegrationID, now())
				if err != nil {
					return err
				}
				byName = map[string]string{}
				for _, s := range states {
					byName[strings.ToLower(s.FullName)] = s.RepositoryID
				}
				ids[in] = byName
			}
			if id = byName[strings.ToLower(ch.Repository)]; id == "" {
				return nil
			}
		}
		_, err := db.PollSoon(ctx, relay.IndexKey{TenantID: ch.TenantID, IntegrationID: ch.IntegrationID, RepositoryID: id}, now())
		return err
	})
}

// indexNow enqueues a read of the repositories due now (after a webhook
// delivery or a re-index request). It is not unique: a job already
// running may have drained the queue before this change, and a job
// finding nothing due costs one query. Repository only names the job.
func indexNow(ctx context.Context, r *jobs.Runner, tenantID, integrationID, repository string) error {
	return r.Enqueue(ctx, IndexPollArgs{TenantID: tenantID, IntegrationID: integrationID, Repository: repository}, nil)
}
