package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/store"
)

// ReconcileEvery is how often the host writes left pending are completed.
const ReconcileEvery = time.Minute

// ReconcileArgs is the periodic job completing host writes left pending
// for longer than the host timeout (their process died, or their call
// timed out). `gitrelay audit reconcile` runs the same pass on demand.
type ReconcileArgs struct{}

// Kind names the job.
func (ReconcileArgs) Kind() string { return "reconcile_pending_writes" }

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	db          *store.DB
	actions     *action.Service
	hostTimeout time.Duration
	log         *slog.Logger
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	// One pass at a time across replicas: a pass already running covers
	// this one.
	_, err := w.db.OneAtATime(ctx, ReconcileArgs{}.Kind(), func(ctx context.Context) error {
		r, err := w.actions.ReconcilePending(ctx, w.hostTimeout)
		if err != nil {
			return err
		}
		if r != (action.Reconciled{}) {
			w.log.InfoContext(ctx, "reconciled pending host writes", "succeeded", r.Succeeded, "failed", r.Failed,
				"unknown", r.Unknown, "deferred", r.Deferred)
		}
		return nil
	})
	return err
}

// registerJobs puts the background work on r: the reconciliation of
// pending host writes (at start, then every ReconcileEvery, one replica at
// a time) and, with Jira, the development information pushes.
func registerJobs(r *jobs.Runner, db *store.DB, actions *action.Service, devinfo *jira.Devinfo, hostTimeout time.Duration, log *slog.Logger) {
	jobs.Register(r, &reconcileWorker{db: db, actions: actions, hostTimeout: hostTimeout, log: log})
	r.Every(ReconcileEvery, ReconcileArgs{})
	if devinfo != nil {
		devinfo.UseJobs(r)
	}
}
