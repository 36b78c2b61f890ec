package hostsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"
)

// MergePullRequest merges an open pull request: it is closed and marked
// merged, as of the simulator's clock. It panics for an unknown repository.
func (s *Sim) MergePullRequest(fullName string, number int) {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustRepo(fullName).prs {
		if p.Number == number && p.Open {
			p.Open, p.Merged = false, true
			p.UpdatedAt = s.clock().UTC()
			ev = pullRequestChanged(fullName, p, "merged")
		}
	}
}

// EditPullRequest changes a pull request's title and description, as of
// the simulator's clock. It panics for an unknown repository.
func (s *Sim) EditPullRequest(fullName string, number int, title, body string) {
	var ev *HookEvent
	defer s.emitLater(&ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustRepo(fullName).prs {
		if p.Number == number {
			p.Title, p.Body = title, body
			p.UpdatedAt = s.clock().UTC()
			ev = pullRequestChanged(fullName, p, "edited")
		}
	}
}

// NotModified is how many list requests the simulator answered 304 Not
// Modified because the client's If-None-Match named the current list.
func (s *Sim) NotModified() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notModified
}

// byUpdated orders pull requests most recently updated first (ties: the
// higher number first), as hosts do for sort=updated / order_by=updated_at.
func byUpdated(list []PR) {
	slices.SortStableFunc(list, func(a, b PR) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return b.Number - a.Number
	})
}

// updatedAt renders a pull request time as the hosts' JSON does.
func updatedAt(t time.Time) string {
	if t.IsZero() {
		return "2026-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339)
}

// conditional reports whether a front-end answers list requests for op
// with an ETag and honours If-None-Match, as GitHub and GitLab do
// for pull request lists. Gitea, Azure DevOps and CodeCommit do not.
func conditional(fe frontEnd, op Op) bool {
	if op != OpListPullRequests {
		return false
	}
	switch fe.(type) {
	case *gitHub, *gitLab:
		return true
	}
	return false
}

// serveConditional serves r; for a conditional list it computes the
// answer's ETag and answers 304 Not Modified, without a body, when the
// request's If-None-Match names it. Such a 304 does not count against the
// token's rate limit, as on GitHub.
func (s *Sim) serveConditional(fe frontEnd, w http.ResponseWriter, r *http.Request, op Op) {
	if r.Method != http.MethodGet || !conditional(fe, op) {
		fe.serve(w, r)
		return
	}
	rec := httptest.NewRecorder()
	fe.serve(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	sum := sha256.Sum256(rec.Body.Bytes())
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		s.mu.Lock()
		s.notModified++
		if fp := Fingerprint(fe.token(r)); s.used[fp] > 0 {
			s.used[fp]--
		}
		s.mu.Unlock()
		w.Header().Del("Content-Length")
		w.Header().Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rec.Body.Bytes())
}

// matchesETag compares If-None-Match with etag weakly (W/ prefixes
// ignored), as RFC 9110 asks for GET.
func matchesETag(header, etag string) bool {
	weak := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for v := range strings.SplitSeq(header, ",") {
		if strings.TrimSpace(v) == "*" || weak(v) == weak(etag) {
			return true
		}
	}
	return false
}

// mergedAt is a merged pull request's merge time, or nil (JSON null).
func mergedAt(p PR) any {
	if !p.Merged {
		return nil
	}
	return updatedAt(p.UpdatedAt)
}

// glTime renders a time as GitLab does (milliseconds, UTC).
func glTime(t time.Time) string {
	if t.IsZero() {
		return glCreatedAt
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// azTime renders a time as Azure DevOps does (seven fractional digits).
func azTime(t time.Time) string {
	if t.IsZero() {
		return "2026-01-01T00:00:00.0000000Z"
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// OpenPullRequest opens a pull request as a developer does on the host
// (not through gitrelay), as of the simulator's clock, and delivers its
// webhook. It panics for an unknown repository or a refused pull request.
func (s *Sim) OpenPullRequest(fullName string, p PR) PR {
	out, f := s.createPRAnyDraft(fullName, p)
	if f.kind != failNone {
		panic(fmt.Sprintf("hostsim: pull request refused (%v)", f.kind))
	}
	return out
}
