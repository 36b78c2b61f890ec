package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// goneAfter is how long the tests' replicas stay alive after a heartbeat.
const goneAfter = 2 * time.Minute

// claimAs claims due repositories for replica, as one of its processes
// (the lease's owner is the replica's name) with a minute's lease.
func claimAs(ctx context.Context, db *store.DB, replica string, now time.Time, limit int) ([]relay.IndexState, error) {
	return db.ClaimDueRepositories(ctx, relay.IndexClaim{Owner: replica, Replica: replica, Now: now, Lease: time.Minute,
		GoneAfter: goneAfter, Limit: limit})
}

// beat records the replicas' heartbeats at now.
func beat(ctx context.Context, t *testing.T, db *store.DB, now time.Time, replicas ...string) {
	t.Helper()
	for _, r := range replicas {
		must(t, db.BeatIndexReplica(ctx, r, now, 24*time.Hour))
	}
}

func TestIndexClaimsEachDueRepositoryOnceAndSavesWhatWasRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		removed, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api"), repo("2", "acme/web")}, at(0))
		must(t, err)
		beat(ctx, t, db, at(0), "replica-a", "replica-b")
		if len(removed) != 0 {
			t.Fatalf("got removed %v from a new index, want none", removed)
		}

		claimed, err := claimAs(ctx, db, "replica-a", at(0), 10)
		must(t, err)
		if len(claimed) != 2 {
			t.Fatalf("replica a claimed %d repositories, want both new ones", len(claimed))
		}
		again, err := claimAs(ctx, db, "replica-b", at(0), 10)
		must(t, err)
		if len(again) != 0 {
			t.Fatalf("replica b claimed %d leased repositories, want none", len(again))
		}

		api := claimed[0].IndexKey
		if claimed[0].FullName != "acme/api" {
			api = claimed[1].IndexKey
		}
		commitAt := at(-5)
		ok, err := db.SaveIndex(ctx, relay.IndexUpdate{
			IndexKey: api, Owner: "replica-a",
			Tips: map[string]string{"refs/heads/main": "aaa", "refs/heads/ABC-1-login": "bbb"}, TipsDigest: "d1",
			Changed: true, Walked: 2,
			Commits: []relay.IndexedCommit{{SHA: "bbb", Message: "ABC-1 Log in", AuthorName: "Bob", AuthorEmail: "bob@example.com",
				At: commitAt, Branches: []string{"ABC-1-login"}, IssueKeys: []string{"ABC-1"}}},
			ChangedBranches: []string{"ABC-1-login"},
			Branches:        []relay.IndexedBranch{{Name: "ABC-1-login", IssueKey: "ABC-1", SHA: "bbb", Message: "ABC-1 Log in", Author: "Bob", CommitAt: commitAt, UpdatedAt: at(0)}},
			CheckedAt:       at(0), NextPollAt: at(1), DiskBytes: 4096,
		})
		must(t, err)
		if !ok {
			t.Fatal("the lease holder's save was refused")
		}
		if bytes, commits, err := db.IndexedCommitBytes(ctx); err != nil || commits != 1 || bytes <= 0 {
			t.Errorf("the index's commits take %d bytes for %d commits (%v), want some bytes for 1", bytes, commits, err)
		}
		stale, err := db.SaveIndex(ctx, relay.IndexUpdate{IndexKey: api, Owner: "replica-b", Tips: map[string]string{}, CheckedAt: at(0), NextPollAt: at(1)})
		must(t, err)
		if stale {
			t.Error("a replica without the lease saved, want refused")
		}

		idx, err := db.IssueIndex(ctx, "t1", "ABC-1", []string{"i1"})
		must(t, err)
		if len(idx.Commits) != 1 || idx.Commits[0].SHA != "bbb" || idx.Commits[0].Repository != "acme/api" || !idx.Commits[0].At.Equal(commitAt) ||
			!slices.Equal(idx.Commits[0].Branches, []string{"ABC-1-login"}) {
			t.Errorf("got commits %+v, want the one commit of ABC-1 on acme/api", idx.Commits)
		}
		if len(idx.Branches) != 1 || idx.Branches[0].Name != "ABC-1-login" || idx.Branches[0].SHA != "bbb" {
			t.Errorf("got branches %+v, want ABC-1-login at bbb", idx.Branches)
		}
		if other, _ := db.IssueIndex(ctx, "t1", "ABC-1", []string{"another"}); len(other.Commits)+len(other.Branches) != 0 {
			t.Errorf("an issue read for other integrations got %+v, want nothing", other)
		}

		states, err := db.IndexStates(ctx, "t1", "i1", at(0))
		must(t, err)
		if len(states) != 2 || states[0].FullName != "acme/api" || states[0].TipsDigest != "d1" || states[0].Commits != 2 ||
			states[0].DiskBytes != 4096 || states[0].Leased || !states[1].Leased {
			t.Errorf("got states %+v, want acme/api read and released, acme/web still leased", states)
		}

		must(t, db.FailIndex(ctx, states[1].IndexKey, "replica-a", "The host refused the credential.", at(0), at(5)))
		must(t, db.FailIndex(ctx, states[1].IndexKey, "replica-a", "ignored: the lease is gone", at(1), at(6)))
		states, _ = db.IndexStates(ctx, "t1", "i1", at(0))
		if states[1].Failure != "The host refused the credential." || !states[1].FailingSince.Equal(at(0)) || !states[1].NextPollAt.Equal(at(5)) {
			t.Errorf("got failing state %+v, want the reason, since minute 0, next at minute 5", states[1])
		}

		if ok, err := db.PollSoon(ctx, states[0].IndexKey, at(0)); err != nil || !ok {
			t.Errorf("poll soon: %v %v, want done", ok, err)
		}
		if ok, _ := db.PollSoon(ctx, relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "404"}, at(0)); ok {
			t.Error("poll soon of an unknown repository reported done")
		}
		if soon, _ := db.IndexStates(ctx, "t1", "i1", at(0)); !soon[0].NextPollAt.Equal(at(0)) || soon[0].TipsDigest != "d1" {
			t.Errorf("after poll soon got %+v, want due now with its tips kept", soon[0])
		}
		n, err := db.RequestReindex(ctx, "t1", "i1", "1", at(0))
		must(t, err)
		if n != 1 {
			t.Errorf("re-index of one repository queued %d", n)
		}
		if _, err := db.RequestReindex(ctx, "t1", "i1", "404", at(0)); relay.ErrorCode(err) != relay.ENotFound {
			t.Errorf("re-index of an unknown repository: got %v, want not_found", err)
		}
		due, err := claimAs(ctx, db, "replica-a", at(0), 10)
		must(t, err)
		if len(due) != 1 || due[0].RepositoryID != "1" || due[0].TipsDigest != "" || len(due[0].Tips) != 0 || due[0].RequestedAt.IsZero() {
			t.Errorf("after a re-index request got claimed %+v, want acme/api with its tips forgotten", due)
		}

		removed, err = db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("2", "acme/web")}, at(1))
		must(t, err)
		if !slices.Equal(removed, []string{"1"}) {
			t.Errorf("got removed %v, want the repository no longer listed", removed)
		}
		if idx, _ := db.IssueIndex(ctx, "t1", "ABC-1", []string{"i1"}); len(idx.Commits)+len(idx.Branches) != 0 {
			t.Errorf("a removed repository's index is still read: %+v", idx)
		}

		must(t, db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
		keys, err := db.IndexedRepositoryKeys(ctx)
		must(t, err)
		if len(keys) != 0 {
			t.Errorf("the deleted integration's index remains: %v", keys)
		}
	})
}

func TestIndexedPullRequestsAreFoundByEveryKeyTheyName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		_, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api")}, at(0))
		must(t, err)
		k := relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1"}
		must(t, db.PutIndexedPullRequests(ctx, k, []relay.IndexedPullRequest{{Number: 7, Title: "ABC-1 and ABC-2", State: "open",
			Source: "ABC-1-x", Target: "main", Author: "bob", URL: "https://git.example/acme/api/pull/7", UpdatedAt: at(0), IssueKeys: []string{"ABC-1", "ABC-2"}}}))
		must(t, db.PutIndexedPullRequests(ctx, k, []relay.IndexedPullRequest{{Number: 7, Title: "ABC-2 only", State: "merged",
			Source: "ABC-1-x", Target: "main", Author: "bob", URL: "https://git.example/acme/api/pull/7", UpdatedAt: at(1), IssueKeys: []string{"ABC-2"}}}))
		if at, etag, err := db.PullRequestCursor(ctx, k); err != nil || !at.IsZero() || etag != "" {
			t.Errorf("a new repository's pull request cursor: %v %q %v, want none", at, etag, err)
		}
		must(t, db.SetPullRequestCursor(ctx, k, at(1), `W/"abc"`))
		if got, etag, err := db.PullRequestCursor(ctx, k); err != nil || !got.Equal(at(1)) || etag != `W/"abc"` {
			t.Errorf("got cursor %v %q %v, want minute 1 and the ETag", got, etag, err)
		}
		one, _ := db.IssueIndex(ctx, "t1", "ABC-1", []string{"i1"})
		two, _ := db.IssueIndex(ctx, "t1", "ABC-2", []string{"i1"})
		if len(one.PullRequests) != 0 {
			t.Errorf("ABC-1 still lists %+v after the pull request stopped naming it", one.PullRequests)
		}
		if len(two.PullRequests) != 1 || two.PullRequests[0].State != "merged" || two.PullRequests[0].Title != "ABC-2 only" {
			t.Errorf("ABC-2 got %+v, want the merged pull request 7", two.PullRequests)
		}
	})
}

func TestIndexDoesNotPollDisabledIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		in.Enabled = false
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		_, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api")}, at(0))
		must(t, err)
		claimed, err := claimAs(ctx, db, "replica-a", at(0), 10)
		must(t, err)
		if len(claimed) != 0 {
			t.Errorf("claimed %d repositories of a disabled integration, want none", len(claimed))
		}
	})
}

// A webhook telling of a change while the repository is being read (its
// refs perhaps asked for before the push) makes it due again right after
// that read, rather than at the read's own schedule.
func TestAChangeToldDuringAReadIsReadNext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := newIntegration("t1", "i1")
		must(t, db.CreateIntegration(ctx, in, credential(in), auditFor(relay.ActionIntegrationCreate)))
		_, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{repo("1", "acme/api")}, at(0))
		must(t, err)
		for _, poked := range []bool{false, true} {
			claimed, err := claimAs(ctx, db, "replica-a", at(1), 10)
			must(t, err)
			if len(claimed) != 1 {
				t.Fatalf("claimed %d repositories, want the due one", len(claimed))
			}
			s := claimed[0]
			pokedAt := at(1).Add(time.Second)
			if poked {
				if ok, err := db.PollSoon(ctx, s.IndexKey, pokedAt); err != nil || !ok {
					t.Fatalf("poll soon during the read: %v %v, want done", ok, err)
				}
			}
			_, err = db.SaveIndex(ctx, relay.IndexUpdate{IndexKey: s.IndexKey, Owner: "replica-a", Tips: map[string]string{}, TipsDigest: "d",
				CheckedAt: at(1), DueAt: s.NextPollAt, NextPollAt: at(60)})
			must(t, err)
			states, err := db.IndexStates(ctx, "t1", "i1", at(1))
			must(t, err)
			want := at(60)
			if poked {
				want = pokedAt
			}
			if got := states[0].NextPollAt; !got.Equal(want) {
				t.Errorf("told of a change during the read: %v; next poll at %v, want %v", poked, got, want)
			}
			// Due again for the next round.
			_, err = db.PollSoon(ctx, s.IndexKey, at(1))
			must(t, err)
		}
	})
}
