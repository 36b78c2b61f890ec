package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestFlashIsReadOnceByItsSessionAndPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sess, other := []byte("session-hash-0000000000000000001"), []byte("session-hash-0000000000000000002")
		later := time.Now().Add(time.Minute)
		must(t, db.PutFlash(ctx, store.Flash{SessionHash: sess, TenantID: relay.LocalTenant, Path: "/issues/ABC-1", Data: `{"a":1}`, ExpiresAt: later}))
		// A second message for the same page replaces the first.
		must(t, db.PutFlash(ctx, store.Flash{SessionHash: sess, TenantID: relay.LocalTenant, Path: "/issues/ABC-1", Data: `{"a":2}`, ExpiresAt: later}))
		if _, err := db.TakeFlash(ctx, other, "/issues/ABC-1"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("another session read the message: %v", err)
		}
		if _, err := db.TakeFlash(ctx, sess, "/issues/ABC-2"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("another page read the message: %v", err)
		}
		f, err := db.TakeFlash(ctx, sess, "/issues/ABC-1")
		must(t, err)
		if f.Data != `{"a":2}` {
			t.Errorf("data = %s, want the latest message", f.Data)
		}
		if _, err := db.TakeFlash(ctx, sess, "/issues/ABC-1"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("the message was read twice: %v", err)
		}
	})
}

func TestExpiredFlashIsNotReadAndIsSwept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sess := []byte("session-hash-0000000000000000003")
		must(t, db.PutFlash(ctx, store.Flash{SessionHash: sess, TenantID: relay.LocalTenant, Path: "/p", Data: "{}", ExpiresAt: time.Now().Add(-time.Second)}))
		if _, err := db.TakeFlash(ctx, sess, "/p"); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("an expired message was read: %v", err)
		}
		n, err := db.DeleteExpiredFlashes(ctx)
		must(t, err)
		if n != 1 {
			t.Errorf("swept %d, want 1", n)
		}
	})
}
