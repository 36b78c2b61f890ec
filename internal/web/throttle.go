package web

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Sign-in throttling, per client address (as clientip tells it: the
// direct peer, or the client behind a trusted proxy):
//
//   - after maxFailures wrong passwords for one username from one address
//     within failureWindow, that username is refused from there until the
//     window has passed. Keying on the address as well means an attacker
//     elsewhere cannot lock a user out of their own account;
//   - after maxAddressFailures wrong passwords from one address, whatever
//     the usernames, the address is refused altogether for the window: an
//     attacker spraying usernames is stopped rather than diluted.
//
// IPv6 clients are counted per /64, the block one subscriber gets. Memory
// is bounded (maxTracked addresses); when full, the least recently failing
// address that is not blocked is forgotten first. Nothing ever clears the
// whole table, so filling it cannot lift a block. The state is per
// process: with several replicas each enforces its own limit, which still
// caps guessing at a few attempts per minute.
const (
	maxFailures        = 10
	maxAddressFailures = 100
	failureWindow      = 15 * time.Minute
	// maxTracked bounds memory under a flood of distinct addresses.
	maxTracked = 10000
	// evictScan bounds the search for an unblocked address to forget.
	evictScan = 64
)

type throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	addrs map[string]*addrState
	// lru orders addresses by their last failure, most recent first.
	lru *list.List
}

type addrState struct {
	key string
	// all are the address's failures within the window, oldest first, at
	// most maxAddressFailures of them.
	all []time.Time
	// users are the failures per username, at most maxFailures each.
	users map[string][]time.Time
	elem  *list.Element
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, addrs: map[string]*addrState{}, lru: list.New()}
}

// addrKey is what an address is counted under: itself, or its /64 for
// IPv6.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// blocked reports whether username may not try from addr now, and until
// when.
func (t *throttle) blocked(addr, username string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.addrs[addrKey(addr)]
	if st == nil {
		return time.Time{}, false
	}
	t.prune(st)
	if len(st.all) >= maxAddressFailures {
		return st.all[0].Add(failureWindow), true
	}
	if fs := st.users[strings.ToLower(username)]; len(fs) >= maxFailures {
		return fs[0].Add(failureWindow), true
	}
	return time.Time{}, false
}

// fail records a wrong password for username from addr.
func (t *throttle) fail(addr, username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key, user, now := addrKey(addr), strings.ToLower(username), t.now()
	st := t.addrs[key]
	if st != nil {
		// Pruning forgets an address whose failures all expired.
		t.prune(st)
		st = t.addrs[key]
	}
	if st == nil {
		if len(t.addrs) >= maxTracked {
			t.evict()
		}
		st = &addrState{key: key, users: map[string][]time.Time{}}
		st.elem = t.lru.PushFront(st)
		t.addrs[key] = st
	} else {
		t.lru.MoveToFront(st.elem)
	}
	st.all = appendCapped(st.all, now, maxAddressFailures)
	st.users[user] = appendCapped(st.users[user], now, maxFailures)
	if len(st.users) > maxAddressFailures {
		// Only reachable past the address limit: forget the username that
		// failed least recently, keeping the address's own count.
		oldest, at := "", now
		for u, fs := range st.users {
			if last := fs[len(fs)-1]; u != user && !last.After(at) {
				oldest, at = u, last
			}
		}
		delete(st.users, oldest)
	}
}

// succeed forgets the failures of username from addr. The address's own
// count stays: signing in to one account must not reset a spray.
func (t *throttle) succeed(addr, username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.addrs[addrKey(addr)]
	if st == nil {
		return
	}
	delete(st.users, strings.ToLower(username))
	t.prune(st)
}

// prune drops st's failures outside the window, and st itself when none is
// left. Callers hold mu.
func (t *throttle) prune(st *addrState) {
	cutoff := t.now().Add(-failureWindow)
	st.all = recent(st.all, cutoff)
	for u, fs := range st.users {
		if fs = recent(fs, cutoff); len(fs) == 0 {
			delete(st.users, u)
		} else {
			st.users[u] = fs
		}
	}
	if len(st.all) == 0 && len(st.users) == 0 {
		t.lru.Remove(st.elem)
		delete(t.addrs, st.key)
	}
}

// evict makes room for one address: first addresses whose failures have
// all expired, then the least recently failing address that is not
// blocked, and only when the oldest evictScan are all blocked, the oldest.
// Callers hold mu.
func (t *throttle) evict() {
	for e := t.lru.Back(); e != nil && len(t.addrs) >= maxTracked; e = t.lru.Back() {
		st := e.Value.(*addrState)
		if newest := st.all[len(st.all)-1]; newest.After(t.now().Add(-failureWindow)) {
			break
		}
		t.lru.Remove(e)
		delete(t.addrs, st.key)
	}
	if len(t.addrs) < maxTracked {
		return
	}
	victim := t.lru.Back()
	e := victim
	for i := 0; e != nil && i < evictScan; i, e = i+1, e.Prev() {
		if !isBlocked(e.Value.(*addrState)) {
			victim = e
			break
		}
	}
	st := victim.Value.(*addrState)
	t.lru.Remove(victim)
	delete(t.addrs, st.key)
}

func isBlocked(st *addrState) bool {
	if len(st.all) >= maxAddressFailures {
		return true
	}
	for _, fs := range st.users {
		if len(fs) >= maxFailures {
			return true
		}
	}
	return false
}

func recent(fs []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(fs) && !fs[i].After(cutoff) {
		i++
	}
	return fs[i:]
}

func appendCapped(fs []time.Time, t time.Time, limit int) []time.Time {
	fs = append(fs, t)
	if len(fs) > limit {
		fs = append(fs[:0], fs[len(fs)-limit:]...)
	}
	return fs
}
