package web

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// testThrottle is a store-backed throttle on a clock the test moves.
type testThrottle struct {
	t   *testing.T
	th  *throttle
	db  *store.DB
	now time.Time
}

func newTestThrottle(t *testing.T, db *store.DB) *testThrottle {
	tt := &testThrottle{t: t, db: db, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	tt.th = newThrottle(db, relay.LocalTenant, func() time.Time { return tt.now })
	return tt
}

func (tt *testThrottle) blocked(addr, username string) (time.Time, bool) {
	tt.t.Helper()
	until, blocked, err := tt.th.blocked(context.Background(), addr, username)
	if err != nil {
		tt.t.Fatal(err)
	}
	return until, blocked
}

func (tt *testThrottle) fail(addr, username string) {
	tt.t.Helper()
	if err := tt.th.fail(context.Background(), addr, username); err != nil {
		tt.t.Fatal(err)
	}
}

func (tt *testThrottle) succeed(addr, username string) {
	tt.t.Helper()
	if err := tt.th.succeed(context.Background(), addr, username); err != nil {
		tt.t.Fatal(err)
	}
}

func (tt *testThrottle) rows() int {
	tt.t.Helper()
	n, err := tt.db.CountSignInFailureRows(context.Background())
	if err != nil {
		tt.t.Fatal(err)
	}
	return n
}

func TestThrottleLimitsFailuresPerUserAndAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		th := newTestThrottle(t, db)
		const a, b = "192.0.2.1", "198.51.100.7"

		for i := 0; i < maxFailures; i++ {
			if _, blocked := th.blocked(a, "Bob"); blocked {
				t.Fatalf("blocked after %d failures, want %d allowed", i, maxFailures)
			}
			th.fail(a, "Bob")
			th.now = th.now.Add(time.Second)
		}
		until, blocked := th.blocked(a, "bob")
		if !blocked {
			t.Fatal("not blocked after the maximum of failures")
		}
		if want := time.Date(2026, 11, 21, 12, 15, 0, 0, time.UTC); !until.Equal(want) {
			t.Errorf("blocked until %v, want %v (the first failure plus the window)", until, want)
		}
		if _, blocked := th.blocked(b, "bob"); blocked {
			t.Fatal("another address is locked out too: an attacker could lock a user out")
		}
		if _, blocked := th.blocked(a, "carol"); blocked {
			t.Fatal("another username from the same address is blocked")
		}
		th.now = until.Add(time.Second)
		if _, blocked := th.blocked(a, "bob"); blocked {
			t.Fatal("still blocked after the window")
		}
		for range maxFailures - 1 {
			th.fail(a, "bob")
		}
		th.succeed(a, "bob")
		th.fail(a, "bob")
		if _, blocked := th.blocked(a, "bob"); blocked {
			t.Fatal("a successful sign-in did not forget the user's failures")
		}
	})
}

func TestSprayingUsernamesDoesNotLiftABlock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		th := newTestThrottle(t, db)
		const attacker = "203.0.113.66"
		for range maxFailures {
			th.fail(attacker, "bob")
		}
		if _, blocked := th.blocked(attacker, "bob"); !blocked {
			t.Fatal("bob is not blocked from the attacker's address")
		}
		t.Run("1,000 usernames from the same address", func(t *testing.T) {
			for i := range 1000 {
				th.fail(attacker, fmt.Sprintf("user-%d", i))
			}
			if _, blocked := th.blocked(attacker, "bob"); !blocked {
				t.Fatal("the spray lifted bob's block")
			}
			if _, blocked := th.blocked(attacker, "someone-new"); !blocked {
				t.Fatal("the spraying address may still try new usernames")
			}
			// The address's own row, bob's, and the usernames counted
			// before the address reached its limit.
			if n := th.rows(); n > maxAddressFailures+2 {
				t.Fatalf("one address keeps %d rows", n)
			}
		})
		t.Run("signing in to another account does not reset the address", func(t *testing.T) {
			th.succeed(attacker, "mallory")
			if _, blocked := th.blocked(attacker, "anyone"); !blocked {
				t.Fatal("a successful sign-in reset the address's count")
			}
		})
		t.Run("failures from many addresses do not lift the block", func(t *testing.T) {
			for i := range 300 {
				th.fail(fmt.Sprintf("10.0.%d.%d", i>>8&255, i&255), fmt.Sprintf("user-%d", i))
			}
			if _, blocked := th.blocked(attacker, "bob"); !blocked {
				t.Fatal("other addresses' failures lifted the block")
			}
		})
		t.Run("windows that passed are deleted", func(t *testing.T) {
			th.now = th.now.Add(failureWindow)
			th.fail("192.0.2.200", "carol")
			if n := th.rows(); n != 2 {
				t.Fatalf("%d rows after every other window passed, want 2 (the new failure's)", n)
			}
		})
	})
}

func TestThrottleCountsIPv6PerSlash64(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		th := newTestThrottle(t, db)
		for i := range maxFailures {
			th.fail(fmt.Sprintf("2001:db8:1:2::%x", i+1), "bob")
		}
		if _, blocked := th.blocked("2001:db8:1:2:ffff::1", "bob"); !blocked {
			t.Fatal("rotating addresses inside one /64 escapes the throttle")
		}
		if _, blocked := th.blocked("2001:db8:1:3::1", "bob"); blocked {
			t.Fatal("a neighbouring /64 is blocked")
		}
	})
}

func TestThrottleCountsAgainAfterAnAddressWasForgotten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		th := newTestThrottle(t, db)
		th.fail("192.0.2.9", "bob")
		th.now = th.now.Add(failureWindow + time.Minute)
		for range maxFailures {
			th.fail("192.0.2.9", "bob")
		}
		if _, blocked := th.blocked("192.0.2.9", "bob"); !blocked {
			t.Fatal("failures after an expired one are not counted")
		}
	})
}

// Replicas share the counts: failures through one count on another.
func TestThrottleIsSharedByReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		one, other := newTestThrottle(t, db), newTestThrottle(t, db)
		for i := range maxFailures {
			if i%2 == 0 {
				one.fail("192.0.2.7", "bob")
			} else {
				other.fail("192.0.2.7", "bob")
			}
		}
		for name, th := range map[string]*testThrottle{"one": one, "other": other} {
			if _, blocked := th.blocked("192.0.2.7", "bob"); !blocked {
				t.Errorf("replica %s does not block after failures spread over two replicas", name)
			}
		}
	})
}
