package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestWebhookSecretIsMadeOnceRotatedAndFoundByIntegrationAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))

		_, err := db.Webhook(ctx, "t1", "i1")
		wantCode(t, err, relay.ENotFound, "")

		created, err := db.PutWebhookSecret(ctx, "t1", "i1", []byte("sealed-1"), at(0), true)
		must(t, err)
		wantEqual(t, "first put created", created, true)
		created, err = db.PutWebhookSecret(ctx, "t1", "i1", []byte("sealed-other"), at(1), true)
		must(t, err)
		wantEqual(t, "second put-if-absent created", created, false)
		w, err := db.Webhook(ctx, "t1", "i1")
		must(t, err)
		wantEqual(t, "kept secret", string(w.SealedSecret), "sealed-1")

		_, err = db.PutWebhookSecret(ctx, "t1", "i1", []byte("sealed-2"), at(2), false)
		must(t, err)
		w, err = db.WebhookOfIntegration(ctx, "i1")
		must(t, err)
		wantEqual(t, "tenant", w.TenantID, "t1")
		wantEqual(t, "kind", w.Kind, relay.Kind("github"))
		wantEqual(t, "rotated secret", string(w.SealedSecret), "sealed-2")
		wantEqual(t, "created at", w.CreatedAt, at(0).Truncate(1000))
		wantEqual(t, "rotated at", w.RotatedAt, at(2).Truncate(1000))
		if !w.LastDeliveryAt.IsZero() || w.Deliveries != 0 || w.Refused != 0 {
			t.Fatalf("a new webhook = %+v, want no deliveries", w)
		}

		_, err = db.WebhookOfIntegration(ctx, "nope")
		wantCode(t, err, relay.ENotFound, "")
		_, err = db.PutWebhookSecret(ctx, "t1", "nope", []byte("x"), at(0), true)
		wantCode(t, err, relay.ENotFound, "")
	})
}

func TestWebhookDeliveriesAreCountedAcceptedAndRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		_, err := db.PutWebhookSecret(ctx, "t1", "i1", []byte("s"), at(0), true)
		must(t, err)
		must(t, db.CountWebhookDelivery(ctx, "t1", "i1", true, at(1)))
		must(t, db.CountWebhookDelivery(ctx, "t1", "i1", true, at(2)))
		must(t, db.CountWebhookDelivery(ctx, "t1", "i1", false, at(3)))
		w, err := db.Webhook(ctx, "t1", "i1")
		must(t, err)
		wantEqual(t, "deliveries", w.Deliveries, int64(2))
		wantEqual(t, "refused", w.Refused, int64(1))
		wantEqual(t, "last delivery", w.LastDeliveryAt, at(2).Truncate(1000))
		wantEqual(t, "last refused", w.LastRefusedAt, at(3).Truncate(1000))
	})
}

func TestRepositoryChangesQueueOnePerRepositoryAndKeepNewerOnes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		change := func(repo string, minute int) relay.RepositoryChange {
			return relay.RepositoryChange{TenantID: "t1", IntegrationID: "i1", Repository: repo, Event: "push", ReceivedAt: at(minute).Truncate(1000)}
		}
		must(t, db.QueueRepositoryChange(ctx, change("acme/widgets", 1)))
		must(t, db.QueueRepositoryChange(ctx, change("acme/gadgets", 2)))
		must(t, db.QueueRepositoryChange(ctx, change("acme/widgets", 3))) // moves the first

		got, err := db.RepositoryChanges(ctx, 10)
		must(t, err)
		wantEqual(t, "queued", got, []relay.RepositoryChange{change("acme/gadgets", 2), change("acme/widgets", 3)})

		// The indexer read widgets as of minute 3; a push at minute 4
		// arrives before it completes: the row stays.
		must(t, db.QueueRepositoryChange(ctx, change("acme/widgets", 4)))
		done, err := db.DoneRepositoryChange(ctx, got[1])
		must(t, err)
		wantEqual(t, "completed a change moved meanwhile", done, false)
		done, err = db.DoneRepositoryChange(ctx, got[0])
		must(t, err)
		wantEqual(t, "completed gadgets", done, true)
		got, err = db.RepositoryChanges(ctx, 10)
		must(t, err)
		wantEqual(t, "left", got, []relay.RepositoryChange{change("acme/widgets", 4)})

		err = db.QueueRepositoryChange(ctx, relay.RepositoryChange{TenantID: "t1", IntegrationID: "gone", Repository: "x/y", Event: "push", ReceivedAt: at(0)})
		wantCode(t, err, relay.ENotFound, "")

		// Deleting the integration deletes its webhook and its queue.
		_, err = db.PutWebhookSecret(ctx, "t1", "i1", []byte("s"), at(0), true)
		must(t, err)
		must(t, db.DeleteIntegration(ctx, "t1", "i1", auditFor(relay.ActionIntegrationDelete)))
		got, err = db.RepositoryChanges(ctx, 10)
		must(t, err)
		wantEqual(t, "after delete", len(got), 0)
		_, err = db.WebhookOfIntegration(ctx, "i1")
		wantCode(t, err, relay.ENotFound, "")
	})
}

// A webhook registration is recorded with the audit event that completes
// its pending row, in one transaction; registering again replaces it, and
// deleting the integration or moving it to another host forgets them.
func TestWebhookRegistrationsAreRecordedWithTheirAuditAndForgotten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"i1", "i2"} {
			createIntegration(t, db, newIntegration("t1", id))
		}
		register := func(integration, repoID, repo string, secretMinute int) relay.AuditEvent {
			t.Helper()
			ev := relay.AuditEvent{ID: relay.NewID(), TenantID: "t1", At: at(10), UserID: "u-admin", Username: "admin",
				Action: relay.ActionWebhookRegister, IntegrationID: integration, Repository: repo, Via: relay.ViaIntegration, Login: "bot"}
			must(t, db.BeginHostWrite(ctx, relay.HostWrite{Event: ev, RepositoryID: repoID}))
			ev.Completes, ev.Outcome, ev.Detail = true, relay.OutcomeSuccess, "created"
			must(t, db.RecordWebhookRegistration(ctx, relay.WebhookRegistration{TenantID: "t1", IntegrationID: integration,
				RepositoryID: repoID, Repository: repo, SecretAt: at(secretMinute), RegisteredAt: at(10)}, ev))
			return ev
		}
		ev := register("i1", "1", "acme/widgets", 1)
		register("i1", "2", "acme/gadgets", 1)
		register("i1", "1", "acme/widgets", 5) // again, after a rotation
		register("i2", "1", "acme/widgets", 1)

		got, err := db.WebhookRegistrations(ctx, "t1", "i1")
		must(t, err)
		if len(got) != 2 || got[0].Repository != "acme/gadgets" || got[1].RepositoryID != "1" || !got[1].SecretAt.Equal(at(5).Truncate(1000)) {
			t.Fatalf("registrations = %+v, want gadgets and widgets (registered again)", got)
		}
		rows, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionWebhookRegister})
		must(t, err)
		if len(rows) != 4 || rows[len(rows)-1].ID != ev.ID || rows[len(rows)-1].Outcome != relay.OutcomeSuccess {
			t.Errorf("audit = %+v, want four completed registrations", rows)
		}
		if ws, err := db.PendingHostWrites(ctx, at(60), 0); err != nil || len(ws) != 0 {
			t.Errorf("pending writes = %+v, %v; want none", ws, err)
		}

		in := newIntegration("t1", "i1")
		in.BaseURL = "https://ghe.example.com"
		_, err = db.MoveIntegration(ctx, in, nil, auditFor(relay.ActionIntegrationUpdate), relay.TokenDrop{Reason: "moved",
			Event: relay.AuditEvent{Action: relay.ActionTokenDropped, Outcome: relay.OutcomeSuccess, At: t0}})
		must(t, err)
		if got, err := db.WebhookRegistrations(ctx, "t1", "i1"); err != nil || len(got) != 0 {
			t.Errorf("registrations after a move = %+v, %v; want none", got, err)
		}
		must(t, db.DeleteIntegration(ctx, "t1", "i2", auditFor(relay.ActionIntegrationDelete)))
		if got, err := db.WebhookRegistrations(ctx, "t1", "i2"); err != nil || len(got) != 0 {
			t.Errorf("registrations after deleting the integration = %+v, %v; want none", got, err)
		}
	})
}

// Each rotation names a later secret, even when the clock stands still or
// went back.
func TestAWebhookRotationAlwaysMovesItsTimeForward(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createIntegration(t, db, newIntegration("t1", "i1"))
		_, err := db.PutWebhookSecret(ctx, "t1", "i1", []byte("s1"), at(5), true)
		must(t, err)
		prev := at(5).Truncate(1000)
		for i, when := range []time.Time{at(5), at(1), at(6)} {
			_, err := db.PutWebhookSecret(ctx, "t1", "i1", []byte("s"), when, false)
			must(t, err)
			w, err := db.Webhook(ctx, "t1", "i1")
			must(t, err)
			if !w.RotatedAt.After(prev) {
				t.Fatalf("rotation %d at %v: rotated at %v, not after %v", i, when, w.RotatedAt, prev)
			}
			prev = w.RotatedAt
		}
	})
}
