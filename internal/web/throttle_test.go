package web

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleLimitsFailuresPerUserAndAddress(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	const a, b = "192.0.2.1", "198.51.100.7"

	for i := 0; i < maxFailures; i++ {
		if _, blocked := th.blocked(a, "Bob"); blocked {
			t.Fatalf("blocked after %d failures, want %d allowed", i, maxFailures)
		}
		th.fail(a, "Bob")
		now = now.Add(time.Second)
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
	now = until.Add(time.Second)
	if _, blocked := th.blocked(a, "bob"); blocked {
		t.Fatal("still blocked after the window")
	}
	th.fail(a, "bob")
	th.succeed(a, "bob")
	if st := th.addrs[a]; st != nil && len(st.users) != 0 {
		t.Fatalf("a successful sign-in did not forget the user's failures: %v", st.users)
	}
}

func TestSprayingUsernamesDoesNotLiftABlock(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	const attacker = "203.0.113.66"
	for range maxFailures {
		th.fail(attacker, "bob")
	}
	if _, blocked := th.blocked(attacker, "bob"); !blocked {
		t.Fatal("bob is not blocked from the attacker's address")
	}
	t.Run("10,000 usernames from the same address", func(t *testing.T) {
		for i := range 10000 {
			th.fail(attacker, fmt.Sprintf("user-%d", i))
		}
		if _, blocked := th.blocked(attacker, "bob"); !blocked {
			t.Fatal("the spray lifted bob's block")
		}
		if _, blocked := th.blocked(attacker, "someone-new"); !blocked {
			t.Fatal("the spraying address may still try new usernames")
		}
		if st := th.addrs[attacker]; len(st.users) > maxAddressFailures+1 {
			t.Fatalf("one address tracks %d usernames", len(st.users))
		}
	})
	t.Run("10,000 usernames from 10,000 addresses", func(t *testing.T) {
		for i := range maxTracked + 5 {
			th.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("user-%d", i))
		}
		if _, blocked := th.blocked(attacker, "bob"); !blocked {
			t.Fatal("filling the table lifted the block")
		}
		if len(th.addrs) > maxTracked {
			t.Fatalf("tracking %d addresses, more than %d", len(th.addrs), maxTracked)
		}
	})
	t.Run("signing in to another account does not reset the address", func(t *testing.T) {
		th.succeed(attacker, "mallory")
		if _, blocked := th.blocked(attacker, "anyone"); !blocked {
			t.Fatal("a successful sign-in reset the address's count")
		}
	})
}

func TestThrottleCountsIPv6PerSlash64(t *testing.T) {
	now := time.Now()
	th := newThrottle(func() time.Time { return now })
	for i := range maxFailures {
		th.fail(fmt.Sprintf("2001:db8:1:2::%x", i+1), "bob")
	}
	if _, blocked := th.blocked("2001:db8:1:2:ffff::1", "bob"); !blocked {
		t.Fatal("rotating addresses inside one /64 escapes the throttle")
	}
	if _, blocked := th.blocked("2001:db8:1:3::1", "bob"); blocked {
		t.Fatal("a neighbouring /64 is blocked")
	}
}

func TestThrottleCountsAgainAfterAnAddressWasForgotten(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	th.fail("192.0.2.9", "bob")
	now = now.Add(failureWindow + time.Minute)
	for range maxFailures {
		th.fail("192.0.2.9", "bob")
	}
	if _, blocked := th.blocked("192.0.2.9", "bob"); !blocked {
		t.Fatal("failures after an expired one are not counted")
	}
}
