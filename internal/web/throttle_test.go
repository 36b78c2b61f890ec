package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestThrottleLimitsFailuresPerUserAndAddress(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	fromA := httptest.NewRequest("POST", "/login", nil)
	fromA.RemoteAddr = "192.0.2.1:4000"
	fromB := httptest.NewRequest("POST", "/login", nil)
	fromB.RemoteAddr = "198.51.100.7:5000"
	a, b := throttleKey(fromA, "Bob"), throttleKey(fromB, "bob")

	for i := 0; i < maxFailures; i++ {
		if _, blocked := th.blocked(a); blocked {
			t.Fatalf("blocked after %d failures, want %d allowed", i, maxFailures)
		}
		th.fail(a)
		now = now.Add(time.Second)
	}
	until, blocked := th.blocked(a)
	if !blocked {
		t.Fatal("not blocked after the maximum of failures")
	}
	if want := time.Date(2026, 11, 21, 12, 15, 0, 0, time.UTC); !until.Equal(want) {
		t.Errorf("blocked until %v, want %v (the first failure plus the window)", until, want)
	}
	if _, blocked := th.blocked(b); blocked {
		t.Fatal("another address is locked out too: an attacker could lock a user out")
	}
	if _, blocked := th.blocked(throttleKey(fromA, "carol")); blocked {
		t.Fatal("another username from the same address is blocked")
	}
	now = until.Add(time.Second)
	if _, blocked := th.blocked(a); blocked {
		t.Fatal("still blocked after the window")
	}
	th.fail(a)
	th.succeed(a)
	if len(th.failures) != 0 {
		t.Fatalf("a successful sign-in did not forget the failures: %v", th.failures)
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	now := time.Now()
	th := newThrottle(func() time.Time { return now })
	for i := 0; i < maxTracked*2; i++ {
		th.fail(throttleKey(httptest.NewRequest("POST", "/login", nil), string(rune('a'+i%26))+time.Duration(i).String()))
	}
	if len(th.failures) > maxTracked {
		t.Fatalf("tracking %d keys, more than %d", len(th.failures), maxTracked)
	}
}
