package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The soak at reduced size (20 users × 10 actions, 3 replicas, host
// faults, one replica killed and restarted, PostgreSQL's connections
// terminated) breaks no invariant. Its verdict rests on counts, never on
// how fast anything ran: faults hit every n-th request, the kill and the
// termination happen after a number of actions, and the checks compare
// what the host, Jira and the database hold at the end.
func TestSoakAtReducedSizeHoldsEveryInvariant(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs real servers for about a minute")
	}
	adminURL := os.Getenv(storetest.EnvDatabaseURL)
	if adminURL == "" {
		if os.Getenv(storetest.EnvRequirePostgres) == "1" {
			t.Fatalf("%s not set", storetest.EnvDatabaseURL)
		}
		t.Skipf("%s not set", storetest.EnvDatabaseURL)
	}
	bin := filepath.Join(t.TempDir(), "gitrelay")
	if out, err := exec.Command("go", "build", "-o", bin, "../gitrelay").CombinedOutput(); err != nil {
		t.Fatalf("building gitrelay: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-gitrelay", bin, "-database-url", adminURL,
		"-users", "20", "-actions", "10", "-users-per-site", "5"}, &stdout, &stderr)
	t.Logf("\n%s", stdout.String())
	if code != 0 {
		t.Fatalf("soak exited %d, want 0\n%s", code, stderr.String())
	}
}

// A report with any broken invariant fails, and one where every check
// held passes.
func TestReportViolations(t *testing.T) {
	held := func() *report {
		return &report{rows: map[string]*row{actCreateBranch: {attempted: 3, succeeded: 2, lostKilled: 1}},
			killed: "replica 2 killed", restarted: "replica 2 restarted", terminated: "4 PostgreSQL connections terminated"}
	}
	if v := held().violations(); len(v) != 0 {
		t.Fatalf("violations of a clean run: %v", v)
	}
	for name, breakIt := range map[string]func(r *report){
		"a 5xx from gitrelay":         func(r *report) { r.rows[actPanel] = &row{attempted: 1, unexpected: 1, gitrelay5xx: 1} },
		"an unexpected refusal":       func(r *report) { r.rows[actPanel] = &row{attempted: 1, unexpected: 1} },
		"a write without audit":       func(r *report) { r.writesWithoutAudit = 1 },
		"a write audited as refused":  func(r *report) { r.writesAuditedRefused = 1 },
		"a write left pending":        func(r *report) { r.pendingLeft = 1 },
		"a duplicate branch":          func(r *report) { r.duplicateBranches = 1 },
		"a duplicate pull request":    func(r *report) { r.duplicatePRs = 1 },
		"a change pushed twice":       func(r *report) { r.devinfoDuplicates = 1 },
		"an entity never pushed":      func(r *report) { r.devinfoNever = 1 },
		"a stale panel":               func(r *report) { r.panels.stale = 1 },
		"no kill":                     func(r *report) { r.killed = "" },
		"no restart":                  func(r *report) { r.restarted = "restart FAILED: x" },
		"no termination":              func(r *report) { r.terminated = "terminating FAILED: x" },
		"a replica that did not stop": func(r *report) { r.stopErrs = []string{"replica 1: exit status 1"} },
	} {
		r := held()
		breakIt(r)
		if v := r.violations(); len(v) != 1 {
			t.Errorf("%s: violations %v, want exactly one", name, v)
		}
	}
}

// Answers are classified by who failed: the killed replica, the host (an
// expected refusal), or gitrelay.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		a    answer
		want outcome
	}{
		{answer{status: 201}, outcomeSucceeded},
		{answer{status: 204}, outcomeSucceeded},
		{answer{status: 409, code: "branch_exists"}, outcomeExpected},
		{answer{status: 409, code: "pull_request_exists"}, outcomeExpected},
		{answer{status: 429, code: "rate_limited"}, outcomeExpected},
		{answer{status: 502, code: "host_error"}, outcomeExpected},
		{answer{status: 504, code: "host_timeout"}, outcomeExpected},
		{answer{status: 502, proxy: proxyLostKilled}, outcomeLostKilled},
		{answer{status: 502, proxy: proxyLostLive}, outcomeUnexpected},
		{answer{status: 500, code: "internal"}, outcomeUnexpected},
		{answer{status: 503, code: "busy"}, outcomeUnexpected},
		{answer{status: 403, code: "forbidden"}, outcomeUnexpected},
		{answer{status: 502, code: "internal"}, outcomeUnexpected},
	} {
		if got := classify(c.a); got != c.want {
			t.Errorf("classify(%+v) = %d, want %d", c.a, got, c.want)
		}
	}
}

// A change pushed twice is the killed replica's only when the first push
// came before the kill and the second no sooner than the killed replica's
// claim could end; anything else is a duplicate.
func TestTakenOverFromKilled(t *testing.T) {
	kill := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	later := kill.Add(jira.ClaimTakeover)
	for _, c := range []struct {
		name string
		at   []time.Time
		want bool
	}{
		{"before the kill, again once the claim ended", []time.Time{kill.Add(-time.Second), later}, true},
		{"in either order", []time.Time{later.Add(time.Minute), kill.Add(-time.Millisecond)}, true},
		{"again before the claim could end", []time.Time{kill.Add(-time.Second), later.Add(-time.Second)}, false},
		{"first after the kill", []time.Time{kill.Add(time.Second), later.Add(time.Minute)}, false},
		{"three times", []time.Time{kill.Add(-time.Second), later, later.Add(time.Second)}, false},
	} {
		if got := takenOverFromKilled(c.at, kill); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if takenOverFromKilled([]time.Time{kill.Add(-time.Second), later}, time.Time{}) {
		t.Error("a run without a kill excused a second push")
	}
}
