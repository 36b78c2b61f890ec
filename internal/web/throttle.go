package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sign-in throttling: after maxFailures wrong passwords for one username
// from one address within failureWindow, further attempts from there are
// refused until the window has passed. Keying on the address as well means
// an attacker elsewhere cannot lock a user out of their own account. The
// state is per process: with several replicas each enforces its own limit,
// which still caps guessing at a few attempts per minute.
const (
	maxFailures   = 10
	failureWindow = 15 * time.Minute
	// maxTracked bounds memory under a flood of distinct usernames.
	maxTracked = 10000
)

type throttle struct {
	mu       sync.Mutex
	now      func() time.Time
	failures map[string][]time.Time
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, failures: map[string][]time.Time{}}
}

func throttleKey(r *http.Request, username string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return strings.ToLower(username) + "\x00" + host
}

// blocked reports whether key may not try now, and until when.
func (t *throttle) blocked(key string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	recent := t.recent(key)
	if len(recent) < maxFailures {
		return time.Time{}, false
	}
	return recent[0].Add(failureWindow), true
}

// fail records a wrong password.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) >= maxTracked {
		t.sweep()
	}
	t.failures[key] = append(t.recent(key), t.now())
}

// succeed forgets the failures of key.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

// recent returns key's failures still inside the window. Callers hold mu.
func (t *throttle) recent(key string) []time.Time {
	cutoff := t.now().Add(-failureWindow)
	fs := t.failures[key]
	i := 0
	for i < len(fs) && !fs[i].After(cutoff) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.failures, key)
	} else {
		t.failures[key] = fs
	}
	return fs
}

// sweep drops expired entries, and if the map is still full, all of them:
// forgetting failures is safer than growing without bound. Callers hold mu.
func (t *throttle) sweep() {
	for k := range t.failures {
		t.recent(k)
	}
	if len(t.failures) >= maxTracked {
		clear(t.failures)
	}
}
