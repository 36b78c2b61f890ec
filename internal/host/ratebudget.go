package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultIndexRateShare is the share of an account's remaining rate limit
// that indexing reads may spend (--index-rate-share).
const DefaultIndexRateShare = 0.5

type indexingKey struct{}

// ForIndexing marks ctx's requests as indexing reads: background reads
// that spend at most the RateBudget's share of the account's remaining
// rate limit and wait for its reset rather than fail. Requests without the
// mark (users' actions) never wait for the budget. integration names the
// integration whose account reads (such as "tenant/integration id"), so
// that StateOf can tell its budget.
func ForIndexing(ctx context.Context, integration string) context.Context {
	return context.WithValue(ctx, indexingKey{}, integration)
}

func indexing(ctx context.Context) (integration string, ok bool) {
	integration, ok = ctx.Value(indexingKey{}).(string)
	return integration, ok
}

// RateBudget keeps, per account (a host origin and a credential), the rate
// limit the host last reported — GitHub's X-RateLimit-*, GitLab's
// RateLimit-*, Retry-After from any host — and holds indexing reads back
// so that they spend at most Share of what remained when the window
// began, and nothing while the host asks to wait. Users' actions are
// never held, and keep the rest.
//
// It is safe for concurrent use and keeps no credential: accounts are
// known by a digest.
type RateBudget struct {
	share float64
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	accounts map[string]*rateState
	// named maps an integration (ForIndexing) to its account's key.
	named map[string]string
}

type rateState struct {
	origin    string
	limit     int
	remaining int
	// floor is what indexing leaves to users in the current window:
	// (1 - share) of the remaining budget first seen in it; -1 until an
	// answer of the window says what remains.
	floor int
	reset time.Time
	// until is when a host's Retry-After (or an exhausted limit) ends.
	until time.Time
}

// NewRateBudget returns a budget letting indexing spend share (0 < share
// <= 1; otherwise DefaultIndexRateShare) of each account's remaining rate
// limit. now and sleep may be nil (the real clock and a timer).
func NewRateBudget(share float64, now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *RateBudget {
	if !(share > 0 && share <= 1) {
		share = DefaultIndexRateShare
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return &RateBudget{share: share, now: now, sleep: sleep, accounts: map[string]*rateState{}, named: map[string]string{}}
}

// Share is the share of the remaining budget indexing may spend.
func (b *RateBudget) Share() float64 { return b.share }

// accountKey names an account without its credential.
func accountKey(origin, credential string) string {
	sum := sha256.Sum256([]byte(origin + "\x00" + credential))
	return origin + "#" + hex.EncodeToString(sum[:8])
}

// observe records what an answer of the account says about its rate
// limit.
func (b *RateBudget) observe(key, origin string, status int, h http.Header) {
	now := b.now()
	limit, lok := headerInt(h, "X-RateLimit-Limit", "RateLimit-Limit")
	remaining, rok := headerInt(h, "X-RateLimit-Remaining", "RateLimit-Remaining")
	reset, resetOK := resetTime(h, now)
	limited := status == http.StatusTooManyRequests ||
		(status == http.StatusForbidden && (h.Get("Retry-After") != "" || (rok && remaining == 0)))
	if !lok && !rok && !limited {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.accounts[key]
	if st == nil {
		st = &rateState{origin: origin, floor: -1}
		b.accounts[key] = st
	}
	if resetOK && reset.After(now) && !reset.Equal(st.reset) {
		// A new window: the budget indexing may spend starts again from
		// what remains now.
		if reset.After(st.reset) {
			st.floor = -1
		}
		st.reset = reset
	}
	if lok {
		st.limit = limit
	}
	if rok {
		if st.floor < 0 {
			st.floor = int(float64(remaining) * (1 - b.share))
		}
		st.remaining = remaining
	}
	if limited {
		d, _ := RetryAfter(h, now)
		if until := now.Add(d); until.After(st.until) {
			st.until = until
		}
	}
}

// wait holds an indexing read of the account until it may spend, and
// reports an error only when ctx ends first.
func (b *RateBudget) wait(ctx context.Context, key string) error {
	for {
		d := b.hold(key)
		if d <= 0 {
			return nil
		}
		if err := b.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// hold is how long an indexing read of the account must wait now.
func (b *RateBudget) hold(key string) time.Duration {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.accounts[key]
	if st == nil {
		return 0
	}
	if now.Before(st.until) {
		return st.until.Sub(now)
	}
	if !st.reset.IsZero() && !now.Before(st.reset) {
		// The window ended: the next answer tells the new budget.
		st.floor, st.remaining, st.reset = -1, 0, time.Time{}
		return 0
	}
	if st.floor >= 0 && st.remaining <= st.floor && !st.reset.IsZero() {
		return st.reset.Sub(now) + time.Second
	}
	return 0
}

// RateState is an account's budget as last reported, for the
// administrator's view.
type RateState struct {
	Origin    string
	Limit     int
	Remaining int
	// Reserved is what indexing leaves to users in this window.
	Reserved int
	Reset    time.Time
	// PausedUntil is when indexing reads resume (zero: not paused).
	PausedUntil time.Time
}

// StateOf is the budget of the account integration (as named to
// ForIndexing) reads with; ok false before an indexing read of it was
// answered with rate-limit headers.
func (b *RateBudget) StateOf(integration string) (RateState, bool) {
	b.mu.Lock()
	key, ok := b.named[integration]
	b.mu.Unlock()
	if !ok {
		return RateState{}, false
	}
	return b.state(key)
}

// State is the budget of the account with credential (the header value
// the client sends) at origin; ok false when no answer reported one yet.
func (b *RateBudget) State(origin, credential string) (RateState, bool) {
	return b.state(accountKey(origin, credential))
}

func (b *RateBudget) state(key string) (RateState, bool) {
	d := b.hold(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.accounts[key]
	if st == nil {
		return RateState{}, false
	}
	out := RateState{Origin: st.origin, Limit: st.limit, Remaining: st.remaining, Reserved: max(st.floor, 0), Reset: st.reset}
	if d > 0 {
		out.PausedUntil = b.now().Add(d)
	}
	return out, true
}

// States lists every account's budget, by origin.
func (b *RateBudget) States() []RateState {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]RateState, 0, len(b.accounts))
	for _, st := range b.accounts {
		out = append(out, RateState{Origin: st.origin, Limit: st.limit, Remaining: st.remaining, Reserved: max(st.floor, 0), Reset: st.reset})
	}
	slices.SortFunc(out, func(a, c RateState) int { return strings.Compare(a.Origin, c.Origin) })
	return out
}

func headerInt(h http.Header, names ...string) (int, bool) {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			if i, err := strconv.Atoi(v); err == nil && i >= 0 {
				return i, true
			}
		}
	}
	return 0, false
}

// resetTime reads X-RateLimit-Reset or RateLimit-Reset: a Unix time, or
// (IETF RateLimit fields) seconds from now.
func resetTime(h http.Header, now time.Time) (time.Time, bool) {
	for _, n := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		v := strings.TrimSpace(h.Get(n))
		s, err := strconv.ParseInt(v, 10, 64)
		if v == "" || err != nil || s < 0 {
			continue
		}
		if s < 1e9 {
			return now.Add(time.Duration(s) * time.Second), true
		}
		return time.Unix(s, 0), true
	}
	return time.Time{}, false
}

// budgetTransport holds indexing reads by the budget and records every
// answer's rate-limit headers.
type budgetTransport struct {
	base   http.RoundTripper
	budget *RateBudget
	key    string
	origin string
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if integration, ok := indexing(req.Context()); ok {
		t.budget.mu.Lock()
		t.budget.named[integration] = t.key
		t.budget.mu.Unlock()
		if err := t.budget.wait(req.Context(), t.key); err != nil {
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.budget.observe(t.key, t.origin, resp.StatusCode, resp.Header)
	}
	return resp, err
}

// withBudget wraps base with budget for the account auth names (the
// client's own origin when auth is nil).
func withBudget(base http.RoundTripper, budget *RateBudget, auth *Auth) http.RoundTripper {
	if budget == nil {
		return base
	}
	origin, credential := "", ""
	if auth != nil {
		origin, credential = auth.Origin, auth.Value.Reveal()
	}
	return &budgetTransport{base: base, budget: budget, key: accountKey(origin, credential), origin: origin}
}
