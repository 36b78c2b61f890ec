package store_test

import (
	"context"
	"io"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// lostCommits are the two ways a COMMIT's answer is lost with its
// connection; once makes the next COMMIT of db fail so, and the ones after
// it commit.
var lostCommits = []struct {
	name string
	once func(db *store.DB)
}{
	// The database committed; its answer never arrived.
	{"committed, answer lost", func(db *store.DB) {
		failOnce(db, func(commit func() error) error {
			if err := commit(); err != nil {
				return err
			}
			return io.ErrUnexpectedEOF
		})
	}},
	// The connection broke before COMMIT reached the database.
	{"not committed", func(db *store.DB) {
		failOnce(db, func(func() error) error { return io.ErrUnexpectedEOF })
	}},
}

// failOnce makes db's next COMMIT go through fault, and the later ones
// commit.
func failOnce(db *store.DB, fault func(commit func() error) error) {
	faults := 0
	store.SetCommitFault(db, func(commit func() error) error {
		faults++
		if faults > 1 {
			return commit()
		}
		return fault(commit)
	})
}

// A connection lost while COMMIT is answered leaves it unknown whether the
// transaction committed. A change recorded with its audit event is not
// answered "try again" for that: the event, asked for on another
// connection, tells whether it committed; if it did, the change is done
// (once); if not, it is made again.
func TestAChangeWhoseCommitAnswerIsLostIsToldByItsAuditEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		tokenSaves := func() int {
			t.Helper()
			events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionTokenSave})
			must(t, err)
			return len(events)
		}

		for _, tt := range lostCommits {
			t.Run(tt.name, func(t *testing.T) {
				before := tokenSaves()
				tt.once(db)
				defer store.SetCommitFault(db, nil)

				tok := newToken("t1", "alice", "i1")
				tok.Account.Login = "alice-" + tt.name
				if err := db.PutUserToken(ctx, tok, auditFor(relay.ActionTokenSave)); err != nil {
					t.Fatalf("saving a token whose COMMIT answer was lost: %v, want success", err)
				}
				got, err := db.UserToken(ctx, "t1", "alice", "i1")
				must(t, err)
				if got.Account.Login != tok.Account.Login {
					t.Errorf("saved token's login = %q, want %q", got.Account.Login, tok.Account.Login)
				}
				if n := tokenSaves() - before; n != 1 {
					t.Errorf("%d token.save events recorded, want exactly 1", n)
				}
			})
		}

		t.Run("a transaction without an audit event is still busy", func(t *testing.T) {
			store.SetCommitFault(db, func(commit func() error) error {
				if err := commit(); err != nil {
					return err
				}
				return io.ErrUnexpectedEOF
			})
			defer store.SetCommitFault(db, nil)
			err := db.SetUserTokenStatus(ctx, "t1", "alice", "i1", relay.TokenExpired, t0)
			wantCode(t, err, relay.EBusy, "")
		})
	})
}

// Ops Jira accepted are completed even when the answer to the COMMIT that
// removes them from the queue is lost: whether it committed is told by the
// queue itself, and a completion that did not commit is made again. Put
// back in the queue, they would be pushed to Jira twice.
func TestDevinfoCompletedWhoseCommitAnswerIsLostLeavesTheQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tt := range lostCommits {
			t.Run(tt.name, func(t *testing.T) {
				op, err := db.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: "t1", Op: "upsert_indexed", Payload: []byte(`{}`), CreatedAt: t0}, 0)
				must(t, err)
				tt.once(db)
				defer store.SetCommitFault(db, nil)
				if err := db.CompleteDevinfo(ctx, "t1", []string{op.ID}, nil); err != nil {
					t.Fatalf("completing ops whose COMMIT answer was lost: %v, want success", err)
				}
				store.SetCommitFault(db, nil)
				left, err := db.DueDevinfo(ctx, at(60*24), 10)
				must(t, err)
				if len(left) != 0 {
					t.Fatalf("%d ops still queued, want none", len(left))
				}
			})
		}
	})
}
