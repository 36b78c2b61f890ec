package directory

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// AuthenticateTokenChecked is AuthenticateToken for a request that reads
// the database anyway and does nothing before (the development panel, an
// action on an issue; project is the project). When this process
// authenticated the same token less than a minute ago, its user is taken
// from then, and the database check of the token (still the user's,
// unexpired) and of the user's grant on project is made by the request's
// first database statement (relay.TokenCheck, carried by the returned
// context) instead of by a statement of its own: nothing that decides is
// taken from memory, and a token revoked on any replica is refused by
// the next request. Otherwise the token is looked up as by
// AuthenticateToken.
//
// The principal's fields other than tenant and user (name, display name,
// administrator) may be up to a minute old: callers must not decide with
// them.
func (d *Service) AuthenticateTokenChecked(ctx context.Context, token, project string) (context.Context, relay.Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return ctx, relay.Principal{}, errInvalidToken()
	}
	hash := HashToken(token)
	now := d.now()
	if p, ok := d.recent.get(hash, now); ok {
		return relay.WithTokenCheck(ctx, &relay.TokenCheck{Hash: hash, TenantID: p.TenantID, UserID: p.UserID,
			Project: project, Now: now}), p, nil
	}
	p, until, err := d.authenticate(ctx, hash, now)
	if err != nil {
		d.recent.forget(hash)
		return ctx, relay.Principal{}, err
	}
	d.recent.put(hash, p, until)
	return ctx, p, nil
}

// recentTokens remembers whose each API token was when it last
// authenticated from the database, until its next use is due to be
// recorded (lastUsedEvery) or it expires. Only token hashes are kept.
type recentTokens struct {
	mu sync.Mutex
	m  map[string]recentToken
}

type recentToken struct {
	p     relay.Principal
	until time.Time
}

// maxRecentTokens bounds recentTokens; when full it starts over.
const maxRecentTokens = 4096

func (r *recentTokens) get(hash []byte, now time.Time) (relay.Principal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.m[string(hash)]
	if !ok || !now.Before(t.until) {
		return relay.Principal{}, false
	}
	return t.p, true
}

func (r *recentTokens) put(hash []byte, p relay.Principal, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxRecentTokens {
		r.m = map[string]recentToken{}
	}
	r.m[string(hash)] = recentToken{p: p, until: until}
}

func (r *recentTokens) forget(hash []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, string(hash))
}
