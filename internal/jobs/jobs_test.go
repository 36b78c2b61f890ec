package jobs_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

type echoArgs struct {
	Word string `json:"word"`
}

func (echoArgs) Kind() string { return "echo" }

// echo records the words it works and fails the word "fail" once.
type echo struct {
	river.WorkerDefaults[echoArgs]
	mu     sync.Mutex
	worked []string
	failed bool
	done   chan string
}

func (w *echo) Work(ctx context.Context, j *river.Job[echoArgs]) error {
	w.mu.Lock()
	if j.Args.Word == "fail" && !w.failed {
		w.failed = true
		w.mu.Unlock()
		return errors.New("failing once, as asked")
	}
	w.worked = append(w.worked, j.Args.Word)
	w.mu.Unlock()
	w.done <- j.Args.Word
	return nil
}

func migrated(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := jobs.Migrate(context.Background(), db, nil); err != nil {
		t.Fatalf("migrate the job queue: %v", err)
	}
}

// echoRunner is a runner on db's migrated job queue with the echo worker.
func echoRunner(t *testing.T, db *store.DB) *jobs.Runner {
	t.Helper()
	migrated(t, db)
	r, err := jobs.New(jobs.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	jobs.Register(r, &echo{})
	return r
}

func TestJobQueueMigratesFromAnEmptyDatabaseAndAgainIsANoOp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, err := jobs.Migrate(ctx, db, nil)
		if err != nil {
			t.Fatalf("first migration: %v", err)
		}
		if len(first) == 0 {
			t.Fatal("first migration applied nothing, want River's migrations")
		}
		again, err := jobs.Migrate(ctx, db, nil)
		if err != nil || len(again) != 0 {
			t.Fatalf("second migration: applied %v, %v; want nothing", again, err)
		}
		if counts, err := db.JobCounts(ctx); err != nil || len(counts) != 0 {
			t.Fatalf("job counts of an empty queue: got %v, %v; want none", counts, err)
		}
	})
}

func TestJobsAreWorkedAndFailuresRetriedAndCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		migrated(t, db)
		r, err := jobs.New(jobs.Config{DB: db, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		w := &echo{done: make(chan string, 10)}
		jobs.Register(r, w)
		// Enqueued before the runner starts: it waits in the database.
		if err := r.Enqueue(ctx, echoArgs{Word: "early"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop(context.Background()) })
		if err := r.Enqueue(ctx, echoArgs{Word: "fail"}, &river.InsertOpts{MaxAttempts: 2}); err != nil {
			t.Fatal(err)
		}
		got := []string{<-w.done}
		// The failed attempt is retried after River's backoff (a second
		// or so); the first outcome of "fail" is the counted failure.
		got = append(got, <-w.done)
		slices.Sort(got)
		if want := []string{"early", "fail"}; !slices.Equal(got, want) {
			t.Fatalf("worked %q, want %q", got, want)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(r.Collectors()...)
		if n := testutil.ToFloat64(r.Collectors()[1].(*prometheus.CounterVec).WithLabelValues("echo")); n != 1 {
			t.Errorf("gitrelay_jobs_failures_total{kind=echo}: got %v, want 1", n)
		}
		if _, err := reg.Gather(); err != nil {
			t.Errorf("gathering the job metrics: %v", err)
		}
	})
}

func TestAJobEnqueuedInATransactionExistsOnlyIfItCommits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := echoRunner(t, db)
		for _, commit := range []bool{false, true} {
			tx, err := db.WritePool().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.EnqueueTx(ctx, tx, echoArgs{Word: "tx"}, nil); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := queued(t, db, "echo"); got != 1 {
			t.Fatalf("jobs queued after a rolled back and a committed insert: got %d, want 1", got)
		}
	})
}

func TestOnePerArgsQueuesASecondJobWithTheSameArgsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := echoRunner(t, db)
		for _, word := range []string{"a", "a", "b", "a"} {
			if err := r.Enqueue(ctx, echoArgs{Word: word}, jobs.OnePerArgs()); err != nil {
				t.Fatalf("enqueue %q: %v", word, err)
			}
		}
		if got := queued(t, db, "echo"); got != 2 {
			t.Fatalf("jobs queued: got %d, want 2 (one per distinct args)", got)
		}
	})
}

func queued(t *testing.T, db *store.DB, kind string) int64 {
	t.Helper()
	counts, err := db.JobCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		if c.Kind == kind {
			n += c.Count
		}
	}
	return n
}

// whoArgs names the process that should work it; who records which did.
type whoArgs struct {
	N int `json:"n"`
}

func (whoArgs) Kind() string { return "who" }

type who struct {
	river.WorkerDefaults[whoArgs]
	name   string
	worked chan [2]any
}

func (w *who) Work(_ context.Context, j *river.Job[whoArgs]) error {
	w.worked <- [2]any{w.name, j.Args.N}
	return nil
}

// A job inserted into a process's own queue is worked by that process
// alone; jobs waiting in the queue of a process gone for good are deleted.
func TestAJobInAProcesssOwnQueueIsWorkedThere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		migrated(t, db)
		worked := make(chan [2]any, 20)
		var runners []*jobs.Runner
		for _, name := range []string{"one", "two"} {
			r, err := jobs.New(jobs.Config{DB: db, PollInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			jobs.Register(r, &who{name: name, worked: worked})
			if err := r.AddQueue("own_"+name, 2); err != nil {
				t.Fatal(err)
			}
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Stop(context.Background()) })
			runners = append(runners, r)
		}
		// One sends the jobs to two.
		sender := runners[0]
		const n = 6
		for i := range n {
			if err := sender.Enqueue(ctx, whoArgs{N: i}, jobs.InQueue("own_two", nil)); err != nil {
				t.Fatal(err)
			}
		}
		for range n {
			select {
			case got := <-worked:
				if got[0] != "two" {
					t.Errorf("job %v of two's queue was worked by %v", got[1], got[0])
				}
			case <-time.After(time.Minute):
				t.Fatal("the jobs of two's queue were not worked in a minute")
			}
		}

		for i := range 3 {
			if err := sender.Enqueue(ctx, whoArgs{N: i}, jobs.InQueue("own_gone", jobs.OnePerArgs())); err != nil {
				t.Fatal(err)
			}
		}
		deleted, err := sender.DeleteWaiting(ctx, "own_gone")
		if err != nil || deleted != 3 {
			t.Errorf("deleting the jobs waiting in a queue nobody works: %d, %v; want 3", deleted, err)
		}
		counts, err := db.JobCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			// Worked jobs may still show running: River records
			// completions in batches.
			if c.Kind == "who" && slices.Contains([]string{"available", "pending", "retryable", "scheduled"}, c.State) {
				t.Errorf("%d jobs still %s", c.Count, c.State)
			}
		}
	})
}

// What runs beside the jobs runs once before Start returns, then every
// interval, and no more once Stop returned.
func TestAlongsideRunsFromStartToStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		r := echoRunner(t, db)
		var mu sync.Mutex
		runs := 0
		count := func() int { mu.Lock(); defer mu.Unlock(); return runs }
		r.Alongside(10*time.Millisecond, func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			runs++
			return errors.New("logged, and run again")
		})
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := count(); got < 1 {
			t.Fatalf("ran %d times when Start returned, want once at least", got)
		}
		for deadline := time.Now().Add(time.Minute); count() < 3; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ran %d times in a minute, want every 10 ms", count())
			}
		}
		if err := r.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		stopped := count()
		time.Sleep(50 * time.Millisecond)
		if got := count(); got != stopped {
			t.Errorf("ran %d times after Stop returned", got-stopped)
		}
	})
}

type holdArgs struct{}

func (holdArgs) Kind() string { return "hold" }

// hold signals when a job starts and runs until released.
type hold struct {
	river.WorkerDefaults[holdArgs]
	started chan struct{}
	release chan struct{}
}

func (w *hold) Work(ctx context.Context, _ *river.Job[holdArgs]) error {
	w.started <- struct{}{}
	select {
	case <-w.release:
	case <-ctx.Done():
	}
	return nil
}

// A job enqueued unless one is available waits once: a second is not
// added while the first waits, but is while the first runs (it may have
// passed the point where it would see the caller's change).
func TestEnqueueUnlessAvailableAddsOneBesideARunningJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		migrated(t, db)
		r, err := jobs.New(jobs.Config{DB: db, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		w := &hold{started: make(chan struct{}, 4), release: make(chan struct{})}
		jobs.Register(r, w)
		if err := r.AddQueue("mine", 1); err != nil {
			t.Fatal(err)
		}
		available := func() int64 {
			counts, err := db.JobCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range counts {
				if c.Kind == "hold" && c.State == "available" {
					return c.Count
				}
			}
			return 0
		}
		for range 3 {
			if err := r.EnqueueUnlessAvailable(ctx, holdArgs{}, "mine"); err != nil {
				t.Fatal(err)
			}
		}
		if got := available(); got != 1 {
			t.Fatalf("%d jobs available after three inserts before any ran, want 1", got)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { close(w.release); _ = r.Stop(context.Background()) })
		select {
		case <-w.started:
		case <-time.After(time.Minute):
			t.Fatal("the job did not start in a minute")
		}
		for range 3 {
			if err := r.EnqueueUnlessAvailable(ctx, holdArgs{}, "mine"); err != nil {
				t.Fatal(err)
			}
		}
		if got := available(); got != 1 {
			t.Errorf("%d jobs available after three inserts while one runs (the queue works one at a time), want 1", got)
		}
	})
}
