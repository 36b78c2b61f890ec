package relay

import (
	"context"
	"sync"
	"time"
)

// MsgAPITokenInvalid is the answer to an API token that does not
// authenticate.
const MsgAPITokenInvalid = "The API token is not valid: it was revoked, has expired or never existed. Create a new one (User settings, API tokens)."

// TokenCheck is the database check of an API token that a request makes
// together with its first database read, instead of as a statement of its
// own before it: on PostgreSQL each statement is a network round trip,
// and the requests made all day (the development panel, an action) read
// the database anyway.
//
// The request's principal was resolved from the token earlier (by the
// process that saw the token authenticate less than a minute ago), but it
// is not trusted until the check says that the token still exists for
// that user, is unexpired, and (for the project the request names) whether
// the user has View Development Tools there. The store makes the check
// with whichever statement the request sends first, and refuses every
// statement of a request whose check failed: nothing is read for, decided
// for or written for a revoked token, on any replica.
type TokenCheck struct {
	Hash     []byte
	TenantID string
	UserID   string
	// Project is the project the request names ("" when none); the check
	// reads the user's View Development Tools grant on it too.
	Project string
	// Now is the time the token must not have expired by.
	Now time.Time

	mu      sync.Mutex
	done    bool
	valid   bool
	granted bool
}

type tokenCheckKey struct{}

// WithTokenCheck returns ctx carrying c: the request's database reads
// make the check.
func WithTokenCheck(ctx context.Context, c *TokenCheck) context.Context {
	return context.WithValue(ctx, tokenCheckKey{}, c)
}

// TokenCheckFrom returns the request's token check, nil when it has none
// (its principal was authenticated from the database already, or it is
// not an API token's).
func TokenCheckFrom(ctx context.Context) *TokenCheck {
	c, _ := ctx.Value(tokenCheckKey{}).(*TokenCheck)
	return c
}

// Pending reports whether the check is still to be made.
func (c *TokenCheck) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.done
}

// Settle makes the check with read unless it is made already, and
// returns its error: an unauthenticated error when the token does not
// authenticate (any longer).
func (c *TokenCheck) Settle(read func() (valid, granted bool, err error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		valid, granted, err := read()
		if err != nil {
			return err
		}
		c.done, c.valid, c.granted = true, valid, granted
	}
	return c.errLocked()
}

// Record keeps the result of a check made within another read, and
// returns the same error as Settle.
func (c *TokenCheck) Record(valid, granted bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done {
		c.done, c.valid, c.granted = true, valid, granted
	}
	return c.errLocked()
}

func (c *TokenCheck) errLocked() error {
	if !c.valid {
		return Errorf(EUnauthenticated, "%s", MsgAPITokenInvalid)
	}
	return nil
}

// Granted answers whether the user has View Development Tools on project
// as read by the check: ok is false when the check is not made, failed,
// or read another user's or project's grant.
func (c *TokenCheck) Granted(tenantID, userID, project string) (granted, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.done || !c.valid || c.Project == "" || c.Project != project || c.TenantID != tenantID || c.UserID != userID {
		return false, false
	}
	return c.granted, true
}
