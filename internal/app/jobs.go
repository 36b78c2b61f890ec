package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jobs"
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
	actions     *action.Service
	hostTimeout time.Duration
	log         *slog.Logger
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	r, err := w.actions.ReconcilePending(ctx, w.hostTimeout)
	if err != nil {
		return err
	}
	if r != (action.Reconciled{}) {
		w.log.InfoContext(ctx, "reconciled pending host writes", "succeeded", r.Succeeded, "failed", r.Failed,
			"unknown", r.Unknown, "deferred", r.Deferred)
	}
	return nil
}

// registerJobs puts the background work on r: the reconciliation of
// pending host writes (at start, then every ReconcileEvery, one replica at
// a time) and, with Jira, the development information pushes.
func registerJobs(r *jobs.Runner, actions *action.Service, devinfo *jira.Devinfo, hostTimeout time.Duration, log *slog.Logger) {
	jobs.Register(r, &reconcileWorker{actions: actions, hostTimeout: hostTimeout, log: log})
	r.Every(ReconcileEvery, ReconcileArgs{})
	if devinfo != nil {
		devinfo.UseJobs(r)
	}
}
