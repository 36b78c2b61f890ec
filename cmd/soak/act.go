package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"
)

// Actions a user takes.
const (
	actPanel        = "panel read"
	actCreateBranch = "create branch"
	actSharedBranch = "create shared branch"
	actCreatePR     = "create pull request"
	actSharedPR     = "create shared pull request"
	actDeleteBranch = "delete branch"
	actSavePAT      = "save PAT"
)

var actionOrder = []string{actPanel, actCreateBranch, actSharedBranch, actCreatePR, actSharedPR, actDeleteBranch, actSavePAT}

// expectedRefusals are answers a user must be ready for under these
// faults: another user was first (the shared branch and pull request),
// or the host failed, limited or did not answer. Anything else is not
// expected.
var expectedRefusals = map[int][]string{
	http.StatusConflict:        {"branch_exists", "pull_request_exists"},
	http.StatusTooManyRequests: {"rate_limited"},
	http.StatusBadGateway:      {"host_error"},
	http.StatusGatewayTimeout:  {"host_timeout"},
}

// act takes the user's next action, chosen by their own random sequence.
func (w *world) act(ctx context.Context, u *user) {
	t := u.t
	roll := u.rng.IntN(100)
	switch {
	case roll < 35:
		issue := u.issue
		if roll < 8 {
			issue = t.project + "-1"
		}
		start := time.Now()
		w.record(actPanel, w.do(ctx, u, "GET", "/issues/"+issue+"/development", nil), start, nil)
	case roll < 55:
		w.createBranch(ctx, u)
	case roll < 63:
		start := time.Now()
		a := w.do(ctx, u, "POST", "/issues/"+t.project+"-1/branches", map[string]any{
			"integration_id": t.integrationID, "repository_id": fmt.Sprint(t.repos[0].ID), "name": sharedBranch(t)})
		w.record(actSharedBranch, a, start, func() {
			u.shared = true
			w.sim.Commit(t.repos[0].FullName(), sharedBranch(t))
		})
	case roll < 75:
		var b *ownBranch
		for _, c := range u.branches {
			if !c.hasPR {
				b = c
				break
			}
		}
		switch {
		case b != nil:
			start := time.Now()
			a := w.do(ctx, u, "POST", "/issues/"+u.issue+"/pull-requests", map[string]any{
				"integration_id": t.integrationID, "repository_id": fmt.Sprint(b.repo.ID), "source": b.name})
			// Whatever the answer, the branch is not proposed again: a
			// lost answer may hide a pull request made.
			b.hasPR = true
			w.record(actCreatePR, a, start, nil)
		case u.shared:
			start := time.Now()
			a := w.do(ctx, u, "POST", "/issues/"+t.project+"-1/pull-requests", map[string]any{
				"integration_id": t.integrationID, "repository_id": fmt.Sprint(t.repos[0].ID), "source": sharedBranch(t)})
			w.record(actSharedPR, a, start, nil)
		default:
			w.createBranch(ctx, u)
		}
	case roll < 87:
		if len(u.branches) == 0 {
			w.createBranch(ctx, u)
			return
		}
		i := u.rng.IntN(len(u.branches))
		b := u.branches[i]
		// Used once: a failed deletion may have deleted it all the same.
		u.branches = slices.Delete(u.branches, i, i+1)
		start := time.Now()
		var a answer
		if t.jira {
			a = w.do(ctx, u, "DELETE", "/issues/"+u.issue+"/branches", map[string]any{
				"integration_id": t.integrationID, "repository_id": fmt.Sprint(b.repo.ID), "name": b.name})
		} else {
			q := url.Values{"integration_id": {t.integrationID}, "repository_id": {fmt.Sprint(b.repo.ID)}, "name": {b.name}}
			a = w.do(ctx, u, "DELETE", "/issues/"+u.issue+"/branches?"+q.Encode(), nil)
		}
		w.record(actDeleteBranch, a, start, nil)
	case roll < 95:
		start := time.Now()
		w.record(actSavePAT, w.do(ctx, u, "PUT", "/me/tokens/"+t.integrationID, map[string]any{"token": u.pat}), start, nil)
	default:
		start := time.Now()
		w.record(actPanel, w.do(ctx, u, "GET", "/issues/"+u.issue+"/development", nil), start, nil)
	}
}

func sharedBranch(t *tenant) string { return t.project + "-1-shared" }

func (w *world) createBranch(ctx context.Context, u *user) {
	t := u.t
	u.nextBranch++
	b := &ownBranch{repo: t.repos[u.rng.IntN(len(t.repos))], name: fmt.Sprintf("%s-b%d", u.issue, u.nextBranch)}
	start := time.Now()
	a := w.do(ctx, u, "POST", "/issues/"+u.issue+"/branches", map[string]any{
		"integration_id": t.integrationID, "repository_id": fmt.Sprint(b.repo.ID), "name": b.name})
	w.record(actCreateBranch, a, start, func() {
		// The developer pushes work before proposing it: the simulated
		// GitHub refuses a pull request from a branch with no commits of
		// its own, as GitHub does. Only this user deletes the branch.
		w.sim.Commit(b.repo.FullName(), b.name)
		u.branches = append(u.branches, b)
	})
}

// record classifies an answer; ok runs on success.
func (w *world) record(action string, a answer, start time.Time, ok func()) {
	took := time.Since(start)
	kind := classify(a)
	if kind == outcomeSucceeded && ok != nil {
		ok()
	}
	w.stats.add(action, kind, took, a)
}

type outcome int

const (
	outcomeSucceeded outcome = iota
	outcomeExpected
	outcomeLostKilled
	outcomeUnexpected
)

func classify(a answer) outcome {
	switch {
	case a.err != nil:
		return outcomeUnexpected
	case a.proxy == proxyLostKilled:
		return outcomeLostKilled
	case a.proxy != "":
		return outcomeUnexpected
	case a.status >= 200 && a.status < 300:
		return outcomeSucceeded
	case slices.Contains(expectedRefusals[a.status], a.code):
		return outcomeExpected
	}
	return outcomeUnexpected
}

// stats are the answers per action.
type stats struct {
	mu      sync.Mutex
	rows    map[string]*row
	samples map[string]int // unexpected answers by kind
}

type row struct {
	attempted, succeeded, expected, lostKilled, unexpected, gitrelay5xx int
	latencies                                                           []time.Duration
}

func newStats() *stats { return &stats{rows: map[string]*row{}, samples: map[string]int{}} }

func (s *stats) add(action string, kind outcome, took time.Duration, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rows[action]
	if r == nil {
		r = &row{}
		s.rows[action] = r
	}
	r.attempted++
	r.latencies = append(r.latencies, took)
	switch kind {
	case outcomeSucceeded:
		r.succeeded++
	case outcomeExpected:
		r.expected++
	case outcomeLostKilled:
		r.lostKilled++
	default:
		r.unexpected++
		// A 5xx gitrelay answered itself, or a request it lost although
		// its replica was not killed.
		if a.err == nil && a.status >= 500 {
			r.gitrelay5xx++
		}
		s.samples[describe(action, a)]++
	}
}

func describe(action string, a answer) string {
	if a.err != nil {
		return fmt.Sprintf("%s: %v", action, a.err)
	}
	if a.proxy != "" {
		return fmt.Sprintf("%s: %d from the proxy, %s", action, a.status, a.proxy)
	}
	return fmt.Sprintf("%s: %d %s", action, a.status, a.code)
}

// percentile is the p-th percentile (0 < p ≤ 100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}
