package index_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// prAccess is access that also gives the integration account's host
// client, so that the index reads pull requests too.
type prAccess struct {
	*access
	hc *http.Client
}

func (a prAccess) IndexClient(context.Context, string, string) (relay.HostClient, error) {
	return a.adapter.NewClient(relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential(secretToken), a.hc)
}

// told is one op the tracker queue received: what one save told.
type told struct {
	Commits  []string `json:"commits,omitempty"`
	Branches []string `json:"branches,omitempty"`
	Pulls    []int    `json:"pulls,omitempty"`
}

// tracker queues what the index tells it in the devinfo queue, in the
// transaction that saves it, as Jira's development information does; fail
// makes its hooks fail after queueing (for pull requests, commits and
// branches, or both).
type tracker struct {
	db *store.DB
	mu sync.Mutex
	// failPulls and failCommits make the hook of that kind of save fail.
	failPulls, failCommits bool
}

var errQueueDown = errors.New("the queue is down")

func (q *tracker) tell(_ context.Context, s relay.IndexState, commits []relay.IndexedCommit, branches []relay.IndexedBranch, prs []relay.IndexedPullRequest) (index.TxHook, error) {
	var op told
	for _, c := range commits {
		op.Commits = append(op.Commits, c.SHA)
	}
	for _, b := range branches {
		op.Branches = append(op.Branches, b.Name)
	}
	for _, p := range prs {
		op.Pulls = append(op.Pulls, p.Number)
	}
	payload, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *sql.Tx) error {
		if _, err := q.db.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: s.TenantID, Op: "upsert_indexed", Payload: payload}, 0); err != nil {
			return err
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if (len(prs) > 0 && q.failPulls) || (len(commits)+len(branches) > 0 && q.failCommits) {
			return errQueueDown
		}
		return nil
	}, nil
}

func (q *tracker) set(pulls, commits bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failPulls, q.failCommits = pulls, commits
}

// queued is every op in the queue, oldest first.
func (q *tracker) queued(t *testing.T) []told {
	t.Helper()
	ops, err := q.db.QueuedDevinfo(context.Background(), "t1", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []told
	for _, op := range ops {
		var x told
		if err := json.Unmarshal(op.Payload, &x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// What a read saves is queued for the issue tracker in the transaction
// that saves it: when queueing fails nothing of the read is saved (the
// tips stay where they were, so the next poll reads the same work again),
// the next poll saves and queues it, and a read is queued exactly once.
func TestIndexQueuesWhatItSavesInTheTransactionThatSavesIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		q := &tracker{db: db}
		allow, err := host.ParseAllowlist("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: allow}, Timeout: time.Minute})
		w := newWorld(t, db, func(c *index.Config) {
			c.Access = prAccess{access: c.Access.(*access), hc: hc}
			c.Tell = q.tell
		})
		ctx := context.Background()
		start := w.commit(t, "main", "ABC-1 Start the login page")
		signIn := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Sign in")
		pr := w.sim.OpenPullRequest("acme/widgets", hostsim.PR{Title: "ABC-2 Sign in", Source: "feature/ABC-2-sign-in", Target: "main", Author: "bob"})
		if err := w.ix.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		k := relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1"}

		unsaved := func(t *testing.T, pulls bool) {
			t.Helper()
			s := w.state(t)
			if s.Failure == "" || s.TipsDigest != "" || len(s.Tips) != 0 || s.Commits != 0 {
				t.Errorf("got state %+v, want the read failed with its tips and counts unchanged", s)
			}
			if got := w.issue(t, "ABC-1"); len(got.Commits) != 0 {
				t.Errorf("commits were saved although queueing them failed: %+v", got.Commits)
			}
			if got := w.issue(t, "ABC-2"); len(got.Branches) != 0 || (len(got.PullRequests) != 0) != pulls {
				t.Errorf("got branches %+v and pull requests %+v, want no branch and pull requests saved: %v", got.Branches, got.PullRequests, pulls)
			}
		}

		t.Run("a failure to queue pull requests saves nothing", func(t *testing.T) {
			q.set(true, true)
			w.poll(t)
			unsaved(t, false)
			if cursor, etag, err := db.PullRequestCursor(ctx, k); err != nil || !cursor.IsZero() || etag != "" {
				t.Errorf("the pull-request cursor moved (%v %q %v) although their save failed", cursor, etag, err)
			}
			if got := q.queued(t); len(got) != 0 {
				t.Errorf("the queue holds %+v after a failed save, want nothing", got)
			}
		})

		t.Run("a failure to queue commits and branches saves none of them", func(t *testing.T) {
			q.set(false, true)
			w.clock.add(index.MaxFailureRetry)
			w.poll(t)
			unsaved(t, true)
			want := []told{{Pulls: []int{pr.Number}}}
			if got := q.queued(t); !equalTold(got, want) {
				t.Errorf("queued %+v, want only the pull request saved: %+v", got, want)
			}
		})

		t.Run("the next poll saves and queues them, once", func(t *testing.T) {
			q.set(false, false)
			w.clock.add(index.MaxFailureRetry)
			w.poll(t)
			s := w.state(t)
			if s.Failure != "" || s.TipsDigest == "" || s.Commits != 3 {
				t.Fatalf("got state %+v, want saved: no failure, the tips, three commits walked", s)
			}
			if got := w.issue(t, "ABC-1"); len(got.Commits) != 1 || got.Commits[0].SHA != start {
				t.Errorf("ABC-1 got commits %+v, want %s", got.Commits, start)
			}
			want := []told{{Pulls: []int{pr.Number}}, {Commits: []string{signIn, start}, Branches: []string{"feature/ABC-2-sign-in"}}}
			if got := q.queued(t); !equalTold(got, want) {
				t.Errorf("queued %+v, want %+v", got, want)
			}
		})

		t.Run("an unchanged repository queues nothing, a push queues its commit once", func(t *testing.T) {
			w.clock.add(index.MaxPoll)
			w.poll(t)
			// On a branch of its own: the pull request's list stays as it
			// was, so its reader (whose cursor is inclusive) lists nothing.
			more := w.commit(t, "release", "ABC-1 Remember the user")
			w.clock.add(index.MaxPoll)
			w.poll(t)
			want := []told{{Pulls: []int{pr.Number}}, {Commits: []string{signIn, start}, Branches: []string{"feature/ABC-2-sign-in"}},
				{Commits: []string{more}}}
			if got := q.queued(t); !equalTold(got, want) {
				t.Errorf("queued %+v, want %+v", got, want)
			}
		})
	})
}

func equalTold(a, b []told) bool {
	return slices.EqualFunc(a, b, func(x, y told) bool {
		return slices.Equal(x.Commits, y.Commits) && slices.Equal(x.Branches, y.Branches) && slices.Equal(x.Pulls, y.Pulls)
	})
}
