package index_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// branchesOf is what the issue's panel shows as the branches of the
// commit sha.
func (w *world) branchesOf(t *testing.T, key, sha string) []string {
	t.Helper()
	for _, c := range w.issue(t, key).Commits {
		if c.SHA == sha {
			return c.Branches
		}
	}
	t.Fatalf("%s does not list commit %s", key, sha)
	return nil
}

func (w *world) wantBranches(t *testing.T, key, sha string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := w.branchesOf(t, key, sha); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("commit %.7s of %s is on %q, want %q", sha, key, got, want)
	}
}

// pollAgain reads the repository again, a day later (every repository is
// due by then).
func (w *world) pollAgain(t *testing.T) {
	t.Helper()
	w.clock.add(index.MaxPoll)
	w.poll(t)
}

// A commit lists every branch it is on, whatever branch the index reached
// it from, and the list follows the branches: created, moved forward,
// force-pushed, deleted.
func TestIndexedCommitsListEveryBranchTheyAreOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.commit(t, "main", "Set up")
		start := w.commit(t, "main", "ABC-1 Start the login page")
		signIn := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Sign in")
		if err := w.ix.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.poll(t)

		t.Run("a commit on main and on a feature branch made from it lists both", func(t *testing.T) {
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main")
			w.wantBranches(t, "ABC-2", signIn, "feature/ABC-2-sign-in")
		})

		t.Run("a branch created later from a commit already indexed adds itself", func(t *testing.T) {
			w.sim.AddBranch("acme/widgets", "release/1", start)
			w.pollAgain(t)
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main", "release/1")
			w.wantBranches(t, "ABC-2", signIn, "feature/ABC-2-sign-in")
		})

		t.Run("a branch moved forward adds itself to the commits it now reaches", func(t *testing.T) {
			w.sim.AddBranch("acme/widgets", "release/1", signIn)
			w.pollAgain(t)
			w.wantBranches(t, "ABC-2", signIn, "feature/ABC-2-sign-in", "release/1")
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main", "release/1")
		})

		t.Run("a force-push removes the branch from the commits it dropped", func(t *testing.T) {
			more := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Remember me")
			w.pollAgain(t)
			w.wantBranches(t, "ABC-2", more, "feature/ABC-2-sign-in")
			// The branch is rewritten from main (its tip): its two commits
			// are dropped, a new one replaces them.
			if err := w.git.DeleteBranch("acme/widgets", "feature/ABC-2-sign-in"); err != nil {
				t.Fatal(err)
			}
			again := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Sign in, again")
			w.pollAgain(t)
			w.wantBranches(t, "ABC-2", again, "feature/ABC-2-sign-in")
			w.wantBranches(t, "ABC-2", more)
			w.wantBranches(t, "ABC-2", signIn, "release/1")
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main", "release/1")
		})

		t.Run("deleting a branch removes it", func(t *testing.T) {
			if err := w.git.DeleteBranch("acme/widgets", "release/1"); err != nil {
				t.Fatal(err)
			}
			w.pollAgain(t)
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main")
			// On no branch any more: still listed, on none.
			w.wantBranches(t, "ABC-2", signIn)
		})

		t.Run("a force-push read by a clone made after it", func(t *testing.T) {
			polish := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Polish")
			w.pollAgain(t)
			w.wantBranches(t, "ABC-2", polish, "feature/ABC-2-sign-in")
			// Another replica, or this one after losing its clone, clones
			// the repository anew: the branch's old tip is not in it.
			if err := os.RemoveAll(w.ix.ClonePath(relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1"})); err != nil {
				t.Fatal(err)
			}
			if err := w.git.DeleteBranch("acme/widgets", "feature/ABC-2-sign-in"); err != nil {
				t.Fatal(err)
			}
			third := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Sign in, a third time")
			w.git.ResetStats()
			w.pollAgain(t)
			if f := w.state(t).Failure; f != "" {
				t.Fatalf("the read failed: %s", f)
			}
			// Git never asked the repository itself for the old tip it
			// lacks: every request went through the gateway, with the
			// credential.
			if got := w.git.Stats("acme/widgets"); got.Refused != 0 {
				t.Errorf("the host refused %d requests made without the gateway's credential", got.Refused)
			}
			w.wantBranches(t, "ABC-2", third, "feature/ABC-2-sign-in")
			w.wantBranches(t, "ABC-2", polish)
			w.wantBranches(t, "ABC-1", start, "feature/ABC-2-sign-in", "main")
		})

		t.Run("a re-index lists the same branches", func(t *testing.T) {
			before := w.issue(t, "ABC-2").Commits
			if _, err := db.RequestReindex(context.Background(), "t1", "i1", "1", w.clock.now()); err != nil {
				t.Fatal(err)
			}
			w.poll(t)
			after := w.issue(t, "ABC-2").Commits
			if !slices.EqualFunc(before, after, func(a, b relay.IssueIndexCommit) bool {
				return a.SHA == b.SHA && slices.Equal(a.Branches, b.Branches)
			}) {
				t.Errorf("after a re-index got %s, want %s", commitBranches(after), commitBranches(before))
			}
		})
	})
}

// A commit on more branches than relay.MaxCommitBranches lists the first
// ones by name; when one of them leaves it, the next takes its place.
func TestACommitOnManyBranchesListsTheFirstByName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		setUp := w.commit(t, "main", "Set up")
		start := w.commit(t, "main", "ABC-1 Start the login page")
		var names []string
		for i := range relay.MaxCommitBranches + 2 {
			name := fmt.Sprintf("b%02d", i)
			names = append(names, name)
			w.sim.AddBranch("acme/widgets", name, start)
		}
		if err := w.ix.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.poll(t)
		w.wantBranches(t, "ABC-1", start, names[:relay.MaxCommitBranches]...)

		t.Run("a listed branch force-pushed away gives its place to the next", func(t *testing.T) {
			w.sim.AddBranch("acme/widgets", names[0], setUp)
			w.pollAgain(t)
			w.wantBranches(t, "ABC-1", start, names[1:relay.MaxCommitBranches+1]...)
		})

		t.Run("a listed branch deleted gives its place to the next", func(t *testing.T) {
			if err := w.git.DeleteBranch("acme/widgets", names[1]); err != nil {
				t.Fatal(err)
			}
			w.pollAgain(t)
			w.wantBranches(t, "ABC-1", start, names[2:relay.MaxCommitBranches+2]...)
		})

		t.Run("a branch sorting first created later takes its place in the list", func(t *testing.T) {
			w.sim.AddBranch("acme/widgets", "a-first", start)
			w.pollAgain(t)
			w.wantBranches(t, "ABC-1", start, append([]string{"a-first"}, names[2:relay.MaxCommitBranches+1]...)...)
		})
	})
}

// Many branches moved in one read are followed as one: every indexed
// commit's branches are worked out from the whole history.
func TestManyBranchesMovedInOneRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		start := w.commit(t, "main", "ABC-1 Start the login page")
		var topics []string
		for i := range 20 {
			name := fmt.Sprintf("topic-%02d", i)
			topics = append(topics, name)
			w.sim.AddBranch("acme/widgets", name, start)
		}
		shared := w.commit(t, "main", "ABC-3 Shared work")
		if err := w.ix.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.poll(t)
		onStart := append([]string{"main"}, topics[:relay.MaxCommitBranches-1]...)
		w.wantBranches(t, "ABC-1", start, onStart...)
		w.wantBranches(t, "ABC-3", shared, "main")

		for _, name := range topics {
			w.sim.AddBranch("acme/widgets", name, shared)
		}
		w.pollAgain(t)
		w.wantBranches(t, "ABC-3", shared, onStart...)
		w.wantBranches(t, "ABC-1", start, onStart...)
	})
}

func commitBranches(cs []relay.IssueIndexCommit) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%.7s on %s", c.SHA, strings.Join(c.Branches, ",")))
	}
	return strings.Join(parts, "; ")
}
