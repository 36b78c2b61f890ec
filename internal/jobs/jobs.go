// Package jobs runs gitrelay's background work on River
// (github.com/riverqueue/river), a job queue kept in gitrelay's own
// database: on PostgreSQL every replica takes jobs from the same tables, and
// a job is worked by one of them at a time; on SQLite the one process works
// them.
//
// Adding background work is three steps, done the same way for every kind:
//
//  1. An args type, the job's durable payload, with a Kind() naming it:
//
//     type RefreshArgs struct{ TenantID, IntegrationID string }
//     func (RefreshArgs) Kind() string { return "repository_refresh" }
//
//  2. A worker, registered on the Runner before Start:
//
//     type refresher struct{ river.WorkerDefaults[RefreshArgs]; ... }
//     func (w *refresher) Work(ctx context.Context, j *river.Job[RefreshArgs]) error { ... }
//     jobs.Register(runner, &refresher{...})
//
//  3. Enqueueing it: Runner.Enqueue, or Runner.EnqueueTx inside a store
//     transaction (a store.TxHook, as store.DB.EnqueueDevinfo takes) when
//     the job must exist if and only if the transaction's rows do.
//     Runner.Every runs a job kind periodically (River's elected leader
//     inserts it).
//
// A job that must not run twice at once (or be queued twice) is inserted
// with OnePerArgs(): River then skips a second job with the same args
// while one is queued or running. Jobs must tolerate running again: a job
// cut short (shutdown, timeout, a process that died) is worked again.
//
// A job for one process in particular goes to a queue only that process
// works (AddQueue, InQueue): the index sends each replica the reads of the
// repositories whose clones it holds that way. EnqueueUnlessAvailable adds
// a job there unless one is ready to run already, which a running one does
// not count as. Work every process must do
// itself, however busy its workers, is not a job: Alongside runs it.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/gitrelay/gitrelay/internal/store"
)

// Defaults of Config.
const (
	// DefaultJobTimeout bounds one job's work. The longest job reads a
	// repository list page by page (action.RepositoryListingTimeout).
	DefaultJobTimeout = 5 * time.Minute
	// DefaultWorkers is how many jobs one process works at once.
	DefaultWorkers = 8
)

// Config configures a Runner.
type Config struct {
	DB     *store.DB
	Logger *slog.Logger
	// Workers is how many jobs this process works at once (default
	// DefaultWorkers).
	Workers int
	// JobTimeout bounds one job (default DefaultJobTimeout). A job still
	// marked running this long plus a minute later (its process died) is
	// given to another process.
	JobTimeout time.Duration
	// PollInterval is how often an idle process looks for new jobs (default
	// one second; River's default). Jobs enqueued by this process are
	// looked for at once.
	PollInterval time.Duration
}

// Runner owns the River client of one process.
type Runner struct {
	client  *river.Client[*sql.Tx]
	workers *river.Workers
	log     *slog.Logger
	metrics *metrics
	// periodic are the args of the periodic jobs, enqueued at Start.
	periodic []river.JobArgs
	// alongside is what runs beside the jobs (Alongside).
	alongside []alongside

	mu      sync.Mutex
	started bool
	stop    func()
}

type alongside struct {
	every time.Duration
	fn    func(context.Context) error
}

// driver is River's driver for the database: riverdatabasesql on
// PostgreSQL, riversqlite on SQLite, both on the store's write pool, so
// that a job can be enqueued in the same transaction as the rows it is
// about (EnqueueTx) and no second pool of connections is opened.
func driver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect() == store.DialectPostgres {
		return riverdatabasesql.New(db.WritePool())
	}
	return riversqlite.New(db.WritePool())
}

// Migrate brings River's tables (river_job, river_leader, river_queue,
// river_notification, river_migration) up to date. On
// PostgreSQL, replicas starting at once take turns (River's migrator takes
// no lock of its own). It returns the versions applied.
func Migrate(ctx context.Context, db *store.DB, log *slog.Logger) ([]int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return nil, fmt.Errorf("jobs: migrator: %w", err)
	}
	var applied []int
	err = db.Exclusively(ctx, "river.migrate", func(ctx context.Context) error {
		res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("jobs: migrate River's tables: %w", err)
		}
		for _, v := range res.Versions {
			applied = append(applied, v.Version)
		}
		return nil
	})
	if len(applied) > 0 {
		log.Info("job queue migrations applied", "versions", applied)
	}
	return applied, err
}

// quiet keeps River's own info lines (every migration, every leader
// election) out of the log: warnings and errors still show.
func quiet(log *slog.Logger) *slog.Logger {
	return slog.New(levelAtLeast{log.Handler(), slog.LevelWarn})
}

type levelAtLeast struct {
	slog.Handler
	min slog.Level
}

func (h levelAtLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelAtLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return levelAtLeast{h.Handler.WithAttrs(as), h.min}
}

func (h levelAtLeast) WithGroup(name string) slog.Handler {
	return levelAtLeast{h.Handler.WithGroup(name), h.min}
}

// New builds the runner. Register workers and periodic jobs, then Start.
// Jobs may be enqueued before Start (they wait in the database).
func New(c Config) (*Runner, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	var cooldown time.Duration
	if c.PollInterval > 0 {
		// River's cooldown between fetches (100ms) must not exceed the poll
		// interval.
		cooldown = min(c.PollInterval, river.FetchCooldownDefault)
	}
	workers := river.NewWorkers()
	client, err := river.NewClient(driver(c.DB), &river.Config{
		Logger:            quiet(c.Logger),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.Workers}},
		Workers:           workers,
		JobTimeout:        c.JobTimeout,
		FetchPollInterval: c.PollInterval,
		FetchCooldown:     cooldown,
		// A job still running this long after its timeout belongs to a
		// process that died; River's default is an hour.
		RescueStuckJobsAfter: c.JobTimeout + time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &Runner{client: client, workers: workers, log: c.Logger, metrics: newMetrics(c.DB)}, nil
}

// Register makes r work jobs of w's kind. Call it before Start.
func Register[T river.JobArgs](r *Runner, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
	// The kind's failure count shows as 0 from the start, so that a rate
	// over it is defined before the first failure.
	var args T
	r.metrics.failures.WithLabelValues(args.Kind())
}

// OnePerArgs are insert options for a job of which at most one with the
// same args may be queued or running at a time: inserting another then
// does nothing. A finished job does not count (River's default keeps
// counting completed jobs until they are cleaned away).
func OnePerArgs() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// OnePerArgsPer is OnePerArgs within each period of time: a job left
// running by a process that died (which River gives up on only after
// RescueStuckJobsAfter) keeps another with the same args from being
// inserted until the period ends, not until it is rescued.
func OnePerArgsPer(period time.Duration) *river.InsertOpts {
	opts := OnePerArgs()
	opts.UniqueOpts.ByPeriod = period
	return opts
}

// Every makes the elected leader among the processes enqueue args every
// interval, at most one per interval (OnePerArgsPer; River's periods are
// a second at least): a slow run is not
// joined by a second one queued behind it, and a run left "running" by a
// process that died holds back the next one for one interval at most,
// not until River rescues it. Every process also enqueues it when it
// starts, without that uniqueness, so that a restart neither waits an
// interval nor for a leader to be elected (after a crash, the dead
// leader's term runs out first), nor for a run the dead process left
// "running". So a periodic job may overlap with another run of itself: one
// that must not guards its work (store.DB.OneAtATime).
func (r *Runner) Every(interval time.Duration, args river.JobArgs) {
	r.periodic = append(r.periodic, args)
	r.client.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, OnePerArgsPer(max(interval, time.Second)) },
		&river.PeriodicJobOpts{RunOnStart: true, ID: args.Kind()}))
}

// AddQueue makes this process work the named queue besides River's
// default one, at most workers of its jobs at once. A queue only one
// process works is how a job is sent to that process (InQueue); jobs left
// in it when the process is gone for good stay until DeleteWaiting. Call
// it before Start.
func (r *Runner) AddQueue(name string, workers int) error {
	if err := r.client.Queues().Add(name, river.QueueConfig{MaxWorkers: workers}); err != nil {
		return fmt.Errorf("jobs: queue %s: %w", name, err)
	}
	return nil
}

// InQueue returns opts (nil: none) inserting the job into queue.
func InQueue(queue string, opts *river.InsertOpts) *river.InsertOpts {
	out := river.InsertOpts{}
	if opts != nil {
		out = *opts
	}
	out.Queue = queue
	return &out
}

// EnqueueUnlessAvailable inserts a job of args' kind into queue unless one
// is available there already, ready to run: that one, started after this
// call, sees whatever the caller changed before it, and does what the new
// one would. A job of the kind running does not hold a new one back, as
// OnePerArgs would: it may have passed the point where it looks.
func (r *Runner) EnqueueUnlessAvailable(ctx context.Context, args river.JobArgs, queue string) error {
	res, err := r.client.JobList(ctx, river.NewJobListParams().Queues(queue).Kinds(args.Kind()).
		States(rivertype.JobStateAvailable).First(1))
	if err != nil {
		return fmt.Errorf("jobs: list %s jobs available in %s: %w", args.Kind(), queue, err)
	}
	if len(res.Jobs) > 0 {
		return nil
	}
	return r.Enqueue(ctx, args, InQueue(queue, nil))
}

// waiting are the states of a job not being worked nor finished.
var waiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateScheduled}

// DeleteWaiting deletes the jobs of the queues that wait to be worked
// (available, scheduled, retryable after a failure, pending), not those
// running: jobs left in queues no process works any more. It returns how
// many it deleted.
func (r *Runner) DeleteWaiting(ctx context.Context, queues ...string) (int, error) {
	if len(queues) == 0 {
		return 0, nil
	}
	const batch = 1000
	deleted := 0
	for {
		res, err := r.client.JobDeleteMany(ctx, river.NewJobDeleteManyParams().Queues(queues...).States(waiting...).First(batch))
		if err != nil {
			return deleted, fmt.Errorf("jobs: delete the jobs waiting in %v: %w", queues, err)
		}
		deleted += len(res.Jobs)
		if len(res.Jobs) < batch {
			return deleted, nil
		}
	}
}

// Alongside runs fn in this process when the runner starts, before it
// takes any job, and then every interval until it stops: work each process
// must do itself however busy its workers are (a heartbeat), which a job,
// worked by whichever process takes it once a worker is free, cannot be.
// A failed run is logged; the next one goes on. Call it before Start.
func (r *Runner) Alongside(every time.Duration, fn func(context.Context) error) {
	r.alongside = append(r.alongside, alongside{every: every, fn: fn})
}

// runAlongside starts what runs beside the jobs, having run each once, and
// returns what stops them.
func (r *Runner) runAlongside(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, a := range r.alongside {
		r.runOnce(ctx, a.fn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(a.every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					r.runOnce(ctx, a.fn)
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

func (r *Runner) runOnce(ctx context.Context, fn func(context.Context) error) {
	if err := fn(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("background work beside the jobs failed; it runs again", "err", err)
	}
}

// Enqueue inserts a job. A job unique by args (opts.UniqueOpts) already
// queued or running is not inserted again, and that is not an error.
func (r *Runner) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := r.client.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// EnqueueTx inserts a job in tx, a transaction of the store's write pool
// (see store.DB's methods taking a TxHook): the job exists if and only if
// the transaction commits.
func (r *Runner) EnqueueTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := r.client.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// Start works jobs until Stop. It fails when no worker is registered.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("jobs: already started")
	}
	stopAlongside := r.runAlongside(ctx)
	if err := r.client.Start(ctx); err != nil {
		stopAlongside()
		return fmt.Errorf("jobs: start: %w", err)
	}
	for _, args := range r.periodic {
		if err := r.Enqueue(ctx, args, nil); err != nil {
			_ = r.client.Stop(context.WithoutCancel(ctx))
			stopAlongside()
			return err
		}
	}
	events, cancel := r.client.Subscribe(river.EventKindJobFailed)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			r.metrics.failed(ev.Job.Kind)
			r.log.Warn("background job failed", "kind", ev.Job.Kind, "attempt", ev.Job.Attempt,
				"err", lastError(ev.Job.Errors))
		}
	}()
	r.started = true
	r.stop = func() { stopAlongside(); cancel(); <-done }
	return nil
}

// Stop lets running jobs finish until ctx ends, then cancels them; their
// jobs are worked again later (by this process after a restart, or by
// another).
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	r.started = false
	err := r.client.Stop(ctx)
	if ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = r.client.StopAndCancel(cctx)
	}
	r.stop()
	return err
}

// lastError is what the job's last attempt returned.
func lastError(errs []rivertype.AttemptError) string {
	if len(errs) == 0 {
		return ""
	}
	return errs[len(errs)-1].Error
}
