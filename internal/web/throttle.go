package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/store"
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
// A window starts at the first failure it counts and lasts failureWindow.
// IPv6 clients are counted per /64, the block one subscriber gets. The
// counts live in the database, so every replica enforces the same limits:
// failures on one count on all. The table stays bounded: rows whose window
// has passed are deleted, and an address past its limit adds no usernames.
// Nothing clears another address's or username's count, so spraying cannot
// lift a block.
const (
	maxFailures        = 10
	maxAddressFailures = 100
	failureWindow      = 15 * time.Minute
)

// throttleStore keeps the counts (the pages' Store).
type throttleStore interface {
	SignInFailures(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration) (store.SignInFailures, error)
	RecordSignInFailure(ctx context.Context, tenantID, address, username string, now time.Time, window time.Duration, addressLimit int) error
	ForgetSignInFailures(ctx context.Context, tenantID, address, username string) error
}

type throttle struct {
	store  throttleStore
	tenant string
	now    func() time.Time
}

func newThrottle(s throttleStore, tenant string, now func() time.Time) *throttle {
	return &throttle{store: s, tenant: tenant, now: now}
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

// userKey is what a username is counted under: a digest of it
// lower-cased, never empty (the store keeps "" for the address's own
// count). The name as typed is not stored: people type their password into
// the username field, and the row would keep it in the clear.
func userKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return "u:" + hex.EncodeToString(sum[:])
}

// blocked reports whether username may not try from addr now, and until
// when.
func (t *throttle) blocked(ctx context.Context, addr, username string) (time.Time, bool, error) {
	f, err := t.store.SignInFailures(ctx, t.tenant, addrKey(addr), userKey(username), t.now(), failureWindow)
	if err != nil {
		return time.Time{}, false, err
	}
	if f.Address >= maxAddressFailures {
		return f.AddressSince.Add(failureWindow), true, nil
	}
	if f.User >= maxFailures {
		return f.UserSince.Add(failureWindow), true, nil
	}
	return time.Time{}, false, nil
}

// fail records a wrong password for username from addr.
func (t *throttle) fail(ctx context.Context, addr, username string) error {
	return t.store.RecordSignInFailure(ctx, t.tenant, addrKey(addr), userKey(username), t.now(), failureWindow, maxAddressFailures)
}

// succeed forgets the failures of username from addr. The address's own
// count stays: signing in to one account must not reset a spray.
func (t *throttle) succeed(ctx context.Context, addr, username string) error {
	return t.store.ForgetSignInFailures(ctx, t.tenant, addrKey(addr), userKey(username))
}
