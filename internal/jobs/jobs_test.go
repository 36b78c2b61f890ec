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
		migrated(t, db)
		r, err := jobs.New(jobs.Config{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		jobs.Register(r, &echo{})
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
		migrated(t, db)
		r, err := jobs.New(jobs.Config{DB: db})
		if err != nil {
			t.Fatal(err)
		}
		jobs.Register(r, &echo{})
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
