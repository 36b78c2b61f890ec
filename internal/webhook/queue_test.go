package webhook_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

func TestDrainingReadsEachChangeOnceAndKeepsWhatFailedOrMoved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		setup(t, db, "github")
		ctx := context.Background()
		at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		queue := func(repo string, minute int) {
			t.Helper()
			if err := db.QueueRepositoryChange(ctx, relay.RepositoryChange{TenantID: "t1", IntegrationID: "i1", Repository: repo, Event: "push",
				ReceivedAt: at.Add(time.Duration(minute) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		queue("acme/widgets", 0)
		queue("acme/gadgets", 1)
		queue("acme/broken", 2)

		var read []string
		n, err := webhook.DrainChanges(ctx, db, 10, func(_ context.Context, ch relay.RepositoryChange) error {
			read = append(read, ch.Repository)
			switch ch.Repository {
			case "acme/broken":
				return errors.New("the host is down")
			case "acme/gadgets":
				queue("acme/gadgets", 5) // pushed again during the read
			}
			return nil
		})
		if err != nil || n != 1 {
			t.Fatalf("DrainChanges = %d, %v; want 1 removed", n, err)
		}
		if got := len(read); got != 3 || read[0] != "acme/widgets" {
			t.Fatalf("read %v, want every change oldest first", read)
		}
		left, err := db.RepositoryChanges(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ch := range left {
			names = append(names, ch.Repository)
		}
		if len(names) != 2 || names[0] != "acme/broken" || names[1] != "acme/gadgets" {
			t.Fatalf("left in the queue: %v, want the failed read and the one pushed again", names)
		}
	})
}
