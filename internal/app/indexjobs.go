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
	// IndexPollSlots is how many periodic poll jobs each replica has at
	// once, in its own queue: each claims due repositories under the
	// lease, so a replica reads up to this many repositories side by side.
	IndexPollSlots = 4
	// indexPollRounds bounds one poll job's claims, so that a job ends
	// (and another replica may take the next) while a first index of many
	// repositories runs.
	indexPollRounds = 16
	// drainBatch is how many queued repository changes one job reads.
	drainBatch = 500
)

// IndexPollArgs is the job reading due repositories: the periodic ones
// (Slot, each unique while queued or running) every IndexConfig.PollEvery
// in each live replica's own queue (Replica), one per webhook delivery or
// re-index request (naming its repository) in the shared queue, so that
// it is read at once rather than at the next tick, and one (Replica, no
// Slot) sent by a job of the shared queue to the holder of repositories
// it may not read. Repositories are
// claimed under a lease in the database, so two jobs never read one
// repository at once, and a job cut short leaves its repositories to the
// lease's end. A job reads only the repositories its replica may (those
// whose clones it holds, that none holds, or whose holder is gone); a job
// of the shared queue wakes the holders of the others it finds due.
type IndexPollArgs struct {
	Slot          int    `json:"slot,omitempty"`
	Replica       string `json:"replica,omitempty"`
	TenantID      string `json:"tenant_id,omitempty"`
	IntegrationID string `json:"integration_id,omitempty"`
	Repository    string `json:"repository,omitempty"`
}

// Kind names the job.
func (IndexPollArgs) Kind() string { return "index_poll" }

// IndexDiscoverArgs is the periodic job comparing each integration's
// repositories with the index (new ones become due, removed ones lose
// their index and clones). Every run over all integrations also has each
// live replica sweep its data directory (IndexSweepArgs), and deletes the
// jobs waiting in the queues of gone replicas.
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
	r   *jobs.Runner
	now func() time.Time
	log *slog.Logger
}

// Timeout lets a poll job run as long as one first clone may take
// (GitTimeout) rather than the queue's default. A job running past the
// queue's rescue time is worked again elsewhere meanwhile: harmless, as
// each repository is read under its lease.
func (w *indexPollWorker) Timeout(*river.Job[IndexPollArgs]) time.Duration { return GitTimeout }

func (w *indexPollWorker) Work(ctx context.Context, j *river.Job[IndexPollArgs]) error {
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
			break
		}
	}
	if j.Args.Replica != "" {
		// A job of a replica's own queue: the others' repositories are
		// theirs to read in theirs.
		return nil
	}
	// Repositories this replica may not read, made due by a webhook or a
	// re-index request, are read by their holders now rather than at their
	// next periodic job.
	return wakeHolders(ctx, w.ix, w.r)
}

// wakeHolders has the live replicas holding repositories that are due,
// and that ix's replica may not read, read them now: a poll job in each
// one's queue, unless one is available there already.
func wakeHolders(ctx context.Context, ix *index.Indexer, r *jobs.Runner) error {
	holders, err := ix.DueElsewhere(ctx)
	if err != nil {
		return err
	}
	for _, h := range holders {
		if err := r.EnqueueUnlessAvailable(ctx, IndexPollArgs{Replica: h}, replicaQueue(h)); err != nil {
			return err
		}
	}
	return nil
}

// replicaQueue is the job queue of the replica whose data directory's id
// is replica: only the processes serving that directory work it.
func replicaQueue(replica string) string { return "index_" + replica }

// enqueueSlots enqueues the replica's periodic poll jobs in its queue (those
// queued or running already are not joined by a second).
func enqueueSlots(ctx context.Context, r *jobs.Runner, replica string) error {
	for slot := range IndexPollSlots {
		if err := r.Enqueue(ctx, IndexPollArgs{Slot: slot + 1, Replica: replica},
			jobs.InQueue(replicaQueue(replica), jobs.OnePerArgs())); err != nil {
			return err
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
	if j.Args.IntegrationID == "" {
		live, gone, err := w.ix.Replicas(ctx)
		if err != nil {
			return err
		}
		for _, replica := range live {
			if err := w.r.Enqueue(ctx, IndexSweepArgs{Replica: replica}, jobs.InQueue(replicaQueue(replica), jobs.OnePerArgs())); err != nil {
				return err
			}
		}
		// A gone replica may never come back (a replica whose data
		// directory was not kept comes back as another): the jobs sent to
		// it would wait forever.
		queues := make([]string, len(gone))
		for i, replica := range gone {
			queues[i] = replicaQueue(replica)
		}
		if _, err := w.r.DeleteWaiting(ctx, queues...); err != nil {
			return err
		}
	}
	// New repositories are due at once: read them now.
	return w.r.Enqueue(ctx, IndexPollArgs{TenantID: j.Args.TenantID, IntegrationID: j.Args.IntegrationID}, jobs.OnePerArgs())
}

// IndexSweepArgs is the job removing, from one replica's data directory,
// the clones it no longer reads (index.Indexer.RemoveOrphanClones): of
// repositories no longer indexed, or that another replica took over while
// this one was gone. It is sent to the replica's own queue.
type IndexSweepArgs struct {
	Replica string `json:"replica"`
}

// Kind names the job.
func (IndexSweepArgs) Kind() string { return "index_sweep" }

type indexSweepWorker struct {
	river.WorkerDefaults[IndexSweepArgs]
	ix *index.Indexer
}

func (w *indexSweepWorker) Work(ctx context.Context, _ *river.Job[IndexSweepArgs]) error {
	return w.ix.RemoveOrphanClones(ctx)
}

// registerIndexJobs puts the index on r: this replica's own queue (its
// poll and sweep jobs) and heartbeat, discovery every DiscoverEvery,
// IndexPollSlots poll jobs per live replica every PollEvery
// (IndexScheduleArgs).
func registerIndexJobs(r *jobs.Runner, ix *index.Indexer, db *store.DB, c IndexConfig, now func() time.Time, log *slog.Logger) error {
	poll, discover, heartbeat := c.PollEvery, c.DiscoverEvery, c.Heartbeat
	if poll <= 0 {
		poll = DefaultIndexPollEvery
	}
	if discover <= 0 {
		discover = DefaultIndexDiscoverEvery
	}
	if heartbeat <= 0 {
		heartbeat = index.HeartbeatEvery
	}
	// The slots and a sweep.
	if err := r.AddQueue(replicaQueue(ix.Replica()), IndexPollSlots+1); err != nil {
		return err
	}
	jobs.Register(r, &indexPollWorker{ix: ix, db: db, r: r, now: now, log: log})
	jobs.Register(r, &indexDiscoverWorker{ix: ix, r: r})
	jobs.Register(r, &indexScheduleWorker{ix: ix, r: r})
	jobs.Register(r, &indexSweepWorker{ix: ix})
	// The heartbeat is not a job: it must go on while every worker of this
	// replica is busy reading, or the others would take its repositories.
	r.Alongside(heartbeat, ix.Beat)
	r.Every(discover, IndexDiscoverArgs{})
	r.Every(poll, IndexScheduleArgs{})
	return nil
}

// IndexScheduleArgs is the periodic job starting the IndexPollSlots poll
// jobs of every live replica, in its own queue (those still running from
// the previous tick are not joined by a second).
type IndexScheduleArgs struct{}

// Kind names the job.
func (IndexScheduleArgs) Kind() string { return "index_schedule" }

type indexScheduleWorker struct {
	river.WorkerDefaults[IndexScheduleArgs]
	ix *index.Indexer
	r  *jobs.Runner
}

func (w *indexScheduleWorker) Work(ctx context.Context, _ *river.Job[IndexScheduleArgs]) error {
	live, _, err := w.ix.Replicas(ctx)
	if err != nil {
		return err
	}
	for _, replica := range live {
		if err := enqueueSlots(ctx, w.r, replica); err != nil {
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
