package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/jackc/pgx/v5"
)

// drain lets background work finish after the load, without host faults:
// writes left pending by the killed replica are reconciled (a replica
// restarted once they are older than the host timeout reconciles them at
// start-up), and the devinfo queue empties. It is true when both happened
// within the drain time.
func (w *world) drain(ctx context.Context) (bool, error) {
	w.sim.ClearFaults()
	deadline := time.Now().Add(w.cfg.drain)
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(ctx)
	count := func(table string) (int, error) {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
		return n, err
	}
	time.Sleep(w.cfg.hostTimeout + time.Second)
	for restarts := 0; ; restarts++ {
		n, err := count("pending_host_writes")
		if err != nil {
			return false, err
		}
		if n == 0 {
			break
		}
		if restarts == 3 || time.Now().After(deadline) {
			return false, nil
		}
		w.log.Info("reconciling", "pending", n)
		b := w.proxy.backends[0]
		b.takeDown()
		if err := w.replicas[0].stop(); err != nil {
			w.stopErrs = append(w.stopErrs, fmt.Sprintf("replica 0 (restarted to reconcile): %v", err))
		}
		r, err := startReplica(ctx, w.cfg.gitrelay, w.env, 0, w.logDir, 10+restarts)
		if err != nil {
			return false, err
		}
		w.replicas[0] = r
		b.bringUp(r.url)
		for range 40 {
			if n, err := count("pending_host_writes"); err != nil || n == 0 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for {
		n, err := count("devinfo_queue")
		if err != nil {
			return false, err
		}
		if n == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		w.log.Info("devinfo queue", "left", n)
		time.Sleep(time.Second)
	}
}

// deletion is a branch deletion the audit trail records as done.
type deletion struct{ tenant, repo, ref string }

// report is a soak's outcome.
type report struct {
	cfg                           config
	rows                          map[string]*row
	samples                       map[string]int
	notRun                        int
	loadTime, total               time.Duration
	drained                       bool
	stopErrs                      []string
	killed, restarted, terminated string
	logs                          string

	hostWrites, writesWithoutAudit  int
	pendingLeft, queueLeft          int
	duplicateBranches, duplicatePRs int
	devinfoExpected, devinfoPushes  int
	devinfoDuplicates, devinfoNever int
	devinfoTakenOver                int
	neverSamples, dupSamples        []string
	unauditedSamples                []string
	writesAuditedRefused            int
	devinfoFailures                 []string
	refusedSamples                  []string
	panels                          panelCheck
}

func (w *world) verify(ctx context.Context, killedAt time.Time) (*report, error) {
	rep := &report{rows: w.stats.rows, samples: w.stats.samples}
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pending_host_writes").Scan(&rep.pendingLeft); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM devinfo_queue").Scan(&rep.queueLeft); err != nil {
		return nil, err
	}
	// What the pusher gave up on, with its reason: the first clue when an
	// entity never reached Jira.
	failures, err := conn.Query(ctx, "SELECT entity_type, entity_id, reason FROM devinfo_failures ORDER BY occurred_at LIMIT 5")
	if err != nil {
		return nil, err
	}
	for failures.Next() {
		var typ, id, reason string
		if err := failures.Scan(&typ, &id, &reason); err != nil {
			return nil, err
		}
		rep.devinfoFailures = append(rep.devinfoFailures, typ+" "+id+": "+reason)
	}
	if err := failures.Err(); err != nil {
		return nil, err
	}

	// Every write the host received has an audit row: per action,
	// repository and ref, at least as many rows (other than refusals,
	// which never reach the host) as writes.
	audited := map[string]int{} // every row
	sent := map[string]int{}    // rows that say the host was asked
	refusals := map[string][]string{}
	var deleted []deletion
	rows, err := conn.Query(ctx, `SELECT tenant_id, action, repository, ref, outcome, error_code FROM audit_events
		WHERE action IN ('branch.create', 'branch.delete', 'pull_request.create')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tenant, action, repo, ref, outcome, code string
		if err := rows.Scan(&tenant, &action, &repo, &ref, &outcome, &code); err != nil {
			return nil, err
		}
		k := action + " " + repo + " " + ref
		audited[k]++
		if outcome == "refused" {
			refusals[k] = append(refusals[k], code)
		} else {
			sent[k]++
		}
		if action == "branch.delete" && outcome == "success" {
			deleted = append(deleted, deletion{tenant, repo, ref})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	written := map[string]int{}
	statuses := map[string][]int{}
	for _, wr := range w.sim.Writes() {
		action := map[hostsim.Op]string{hostsim.OpCreateBranch: "branch.create", hostsim.OpDeleteBranch: "branch.delete",
			hostsim.OpCreatePullRequest: "pull_request.create"}[wr.Op]
		if action == "" {
			continue
		}
		k := action + " " + wr.Repo + " " + wr.Ref
		rep.hostWrites++
		written[k]++
		statuses[k] = append(statuses[k], wr.Status)
	}
	for k, n := range written {
		if missing := n - audited[k]; missing > 0 {
			rep.writesWithoutAudit += missing
			if len(rep.unauditedSamples) < 5 {
				rep.unauditedSamples = append(rep.unauditedSamples,
					fmt.Sprintf("%s: %d writes (answered %v), %d audit rows", k, n, statuses[k], audited[k]))
			}
		}
		// A refusal means nothing was sent to the host: more writes than
		// rows saying otherwise is a write audited as refused.
		if wrong := min(n-sent[k], len(refusals[k])); wrong > 0 {
			rep.writesAuditedRefused += wrong
			if len(rep.refusedSamples) < 5 {
				rep.refusedSamples = append(rep.refusedSamples,
					fmt.Sprintf("%s: %d writes (answered %v), %d rows say sent, refusals %v", k, n, statuses[k], sent[k], refusals[k]))
			}
		}
	}

	// No branch or pull request twice: in gitrelay's records, and no two
	// open pull requests from one branch to another at the host.
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM branch_records
		GROUP BY tenant_id, integration_id, repository_id, name HAVING count(*) > 1) d`).Scan(&rep.duplicateBranches); err != nil {
		return nil, err
	}
	var dupNumbers, dupPairs int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM pull_request_records
		GROUP BY tenant_id, integration_id, repository_id, number HAVING count(*) > 1) d`).Scan(&dupNumbers); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM pull_request_records
		GROUP BY tenant_id, integration_id, repository_id, source_branch, target_branch HAVING count(*) > 1) d`).Scan(&dupPairs); err != nil {
		return nil, err
	}
	rep.duplicatePRs = dupNumbers + dupPairs
	repoIDs := map[string]int64{}
	for _, t := range w.tenants {
		for _, r := range t.repos {
			repoIDs[r.FullName()] = r.ID
			open := map[string]int{}
			for _, pr := range w.sim.PullRequests(r.FullName()) {
				if pr.Open {
					open[pr.Source+" → "+pr.Target]++
				}
			}
			for _, n := range open {
				if n > 1 {
					rep.duplicatePRs++
				}
			}
		}
	}

	if err := w.verifyDevinfo(ctx, conn, rep, deleted, repoIDs, killedAt); err != nil {
		return nil, err
	}
	return rep, nil
}

// verifyDevinfo checks that every change gitrelay recorded for a Jira
// site reached Jira exactly once: each live branch and each pull request
// of a Jira tenant was accepted by Jira, each branch deleted was deleted
// in Jira, and no change (an entity at one updateSequenceId) was accepted
// twice. The one exception is an op the killed replica was pushing: when
// Jira accepted it before the kill and the replica died before recording
// that, the op is pushed again once the replica's claim ran out (no sooner
// than jira.ClaimTakeover after the kill), at the same updateSequenceId,
// which Jira ignores; those are counted apart.
func (w *world) verifyDevinfo(ctx context.Context, conn *pgx.Conn, rep *report, deleted []deletion, repoIDs map[string]int64, killedAt time.Time) error {
	clouds := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT tenant_id, cloud_id FROM jira_installations")
	if err != nil {
		return err
	}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return err
		}
		clouds[t] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}

	changes := map[string][]time.Time{} // cloud type repo entity seq → accepted pushes
	entities := map[string]bool{}       // cloud type repo entity
	for _, p := range w.fake.Pushes() {
		if p.Status != 202 {
			continue
		}
		rep.devinfoPushes++
		if p.Method == "DELETE" {
			// /ex/jira/{cloud}/rest/devinfo/0.10/repository/{repo}/branch/{entity}?_updateSequenceId=N
			path, query, _ := strings.Cut(p.Path, "?")
			_, rest, _ := strings.Cut(path, "/repository/")
			repo, entity, _ := strings.Cut(rest, "/branch/")
			q, _ := url.ParseQuery(query)
			k := p.CloudID + " delete " + repo + " " + entity
			changes[k+" "+q.Get("_updateSequenceId")] = append(changes[k+" "+q.Get("_updateSequenceId")], p.At)
			entities[k] = true
			continue
		}
		var body struct {
			Repositories []struct {
				ID       string `json:"id"`
				Branches []struct {
					ID  string `json:"id"`
					Seq int64  `json:"updateSequenceId"`
				} `json:"branches"`
				PullRequests []struct {
					ID  string `json:"id"`
					Seq int64  `json:"updateSequenceId"`
				} `json:"pullRequests"`
			} `json:"repositories"`
		}
		if err := json.Unmarshal(p.Body, &body); err != nil {
			return fmt.Errorf("a devinfo push Jira accepted is not JSON: %w", err)
		}
		for _, r := range body.Repositories {
			for _, b := range r.Branches {
				k := p.CloudID + " branch " + r.ID + " " + b.ID
				changes[k+" "+strconv.FormatInt(b.Seq, 10)] = append(changes[k+" "+strconv.FormatInt(b.Seq, 10)], p.At)
				entities[k] = true
			}
			for _, pr := range r.PullRequests {
				k := p.CloudID + " pull_request " + r.ID + " " + pr.ID
				changes[k+" "+strconv.FormatInt(pr.Seq, 10)] = append(changes[k+" "+strconv.FormatInt(pr.Seq, 10)], p.At)
				entities[k] = true
			}
		}
	}
	for k, at := range changes {
		if len(at) < 2 {
			continue
		}
		if takenOverFromKilled(at, killedAt) {
			rep.devinfoTakenOver++
			continue
		}
		rep.devinfoDuplicates++
		if len(rep.dupSamples) < 5 {
			rep.dupSamples = append(rep.dupSamples, fmt.Sprintf("%s pushed %d times", k, len(at)))
		}
	}
	expect := func(k string) {
		rep.devinfoExpected++
		if !entities[k] {
			rep.devinfoNever++
			if len(rep.neverSamples) < 5 {
				rep.neverSamples = append(rep.neverSamples, k)
			}
		}
	}
	repoEntity := func(integration, repoID string) string { return jira.EntityID(integration + "/" + repoID) }
	rows, err = conn.Query(ctx, "SELECT tenant_id, integration_id, repository_id, name FROM branch_records")
	if err != nil {
		return err
	}
	for rows.Next() {
		var t, integ, repo, name string
		if err := rows.Scan(&t, &integ, &repo, &name); err != nil {
			return err
		}
		if c, ok := clouds[t]; ok {
			expect(c + " branch " + repoEntity(integ, repo) + " " + jira.EntityID(name))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = conn.Query(ctx, "SELECT tenant_id, integration_id, repository_id, number FROM pull_request_records")
	if err != nil {
		return err
	}
	for rows.Next() {
		var t, integ, repo string
		var number int64
		if err := rows.Scan(&t, &integ, &repo, &number); err != nil {
			return err
		}
		if c, ok := clouds[t]; ok {
			expect(c + " pull_request " + repoEntity(integ, repo) + " " + strconv.FormatInt(number, 10))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range deleted {
		c, ok := clouds[d.tenant]
		if !ok {
			continue
		}
		var integ string
		for _, t := range w.tenants {
			if t.installation == d.tenant {
				integ = t.integrationID
			}
		}
		expect(c + " delete " + repoEntity(integ, strconv.FormatInt(repoIDs[d.repo], 10)) + " " + jira.EntityID(d.ref))
	}
	return nil
}

// takenOverFromKilled says whether the accepted pushes of one change (at)
// are a push of the killed replica and one pushing it again once that
// replica's claim ran out: the first before the kill, one more, no sooner
// than the claim could end.
func takenOverFromKilled(at []time.Time, killedAt time.Time) bool {
	if len(at) != 2 || killedAt.IsZero() {
		return false
	}
	first, second := at[0], at[1]
	if second.Before(first) {
		first, second = at[1], at[0]
	}
	return first.Before(killedAt) && !second.Before(killedAt.Add(jira.ClaimTakeover))
}

// violations lists every invariant the run broke.
func (r *report) violations() []string {
	var v []string
	var fivexx, unexpected int
	for _, row := range r.rows {
		fivexx += row.gitrelay5xx
		unexpected += row.unexpected - row.gitrelay5xx
	}
	add := func(bad bool, format string, args ...any) {
		if bad {
			v = append(v, fmt.Sprintf(format, args...))
		}
	}
	add(fivexx > 0, "%d answers were 5xx from gitrelay itself (or lost on a replica that was not killed)", fivexx)
	add(unexpected > 0, "%d answers were neither a success nor an expected refusal", unexpected)
	add(r.writesWithoutAudit > 0, "%d host writes have no audit row", r.writesWithoutAudit)
	add(r.writesAuditedRefused > 0, "%d host writes are audited as refused, which says nothing was sent", r.writesAuditedRefused)
	add(r.pendingLeft > 0, "%d host writes are still pending after draining: reconciliation did not complete them", r.pendingLeft)
	add(r.duplicateBranches > 0, "%d duplicate branches", r.duplicateBranches)
	add(r.duplicatePRs > 0, "%d duplicate pull requests", r.duplicatePRs)
	add(r.devinfoDuplicates > 0, "%d devinfo changes were pushed to Jira more than once", r.devinfoDuplicates)
	add(r.devinfoNever > 0, "%d devinfo entities never reached Jira", r.devinfoNever)
	add(r.panels.stale > 0, "%d panel reads did not show what gitrelay recorded", r.panels.stale)
	add(!strings.Contains(r.killed, "killed"), "no replica was killed: the load ended first")
	add(!strings.Contains(r.restarted, "restarted"), "the killed replica was not restarted: %s", r.restarted)
	add(!strings.Contains(r.terminated, "terminated") || strings.Contains(r.terminated, "FAILED"), "PostgreSQL's connections were not terminated: %s", r.terminated)
	for _, e := range r.stopErrs {
		v = append(v, "a replica did not stop cleanly: "+e)
	}
	return v
}

func (r *report) print(out io.Writer) {
	c := r.cfg
	fmt.Fprintf(out, "gitrelay soak: %d replicas, %d users (%d in Jira sites) × %d actions, host latency %v, faults %v, seed %d\n",
		c.replicas, c.users, c.jiraUsers, c.actions, c.latency, c.faults, c.seed)
	fmt.Fprintf(out, "load %v, whole run %v; %s; %s; %s\n\n", r.loadTime.Round(time.Millisecond), r.total.Round(time.Second),
		orNone(r.killed), orNone(r.restarted), orNone(r.terminated))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "action\tattempted\tsucceeded\trefused as expected\tlost with killed replica\tunexpected\t5xx from gitrelay\tp50\tp99\t")
	var all row
	for _, name := range actionOrder {
		x := r.rows[name]
		if x == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%v\t%v\t\n", name, x.attempted, x.succeeded, x.expected, x.lostKilled, x.unexpected,
			x.gitrelay5xx, ms(percentile(x.latencies, 50)), ms(percentile(x.latencies, 99)))
		all.attempted += x.attempted
		all.succeeded += x.succeeded
		all.expected += x.expected
		all.lostKilled += x.lostKilled
		all.unexpected += x.unexpected
		all.gitrelay5xx += x.gitrelay5xx
		all.latencies = append(all.latencies, x.latencies...)
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t%d\t%v\t%v\t\n", all.attempted, all.succeeded, all.expected, all.lostKilled, all.unexpected,
		all.gitrelay5xx, ms(percentile(all.latencies, 50)), ms(percentile(all.latencies, 99)))
	tw.Flush()
	if r.loadTime > 0 {
		fmt.Fprintf(out, "%.0f actions/s; %d actions not run (time bound)\n", float64(all.attempted)/r.loadTime.Seconds(), r.notRun)
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "invariant\tfound\twant")
	fmt.Fprintf(tw, "5xx from gitrelay itself (killed replica's in-flight requests excepted)\t%d\t0\n", all.gitrelay5xx)
	fmt.Fprintf(tw, "other unexpected answers\t%d\t0\n", all.unexpected-all.gitrelay5xx)
	fmt.Fprintf(tw, "host writes without an audit row (of %d writes)\t%d\t0\n", r.hostWrites, r.writesWithoutAudit)
	fmt.Fprintf(tw, "host writes audited as refused (nothing sent)\t%d\t0\n", r.writesAuditedRefused)
	fmt.Fprintf(tw, "duplicate branches\t%d\t0\n", r.duplicateBranches)
	fmt.Fprintf(tw, "duplicate pull requests\t%d\t0\n", r.duplicatePRs)
	fmt.Fprintf(tw, "devinfo changes pushed more than once (%d accepted pushes)\t%d\t0\n", r.devinfoPushes, r.devinfoDuplicates)
	fmt.Fprintf(tw, "devinfo entities never pushed (of %d)\t%d\t0\n", r.devinfoExpected, r.devinfoNever)
	fmt.Fprintf(tw, "panel reads not showing the records (%d issues × each replica)\t%d\t0\n", r.panels.issues, r.panels.stale)
	tw.Flush()
	fmt.Fprintf(out, "\nafter draining (%v): %d host writes still pending, %d devinfo operations still queued\n", r.drained, r.pendingLeft, r.queueLeft)
	if r.devinfoTakenOver > 0 {
		fmt.Fprintf(out, "%d devinfo changes the killed replica was pushing were pushed again once its claim ran out (the same updateSequenceId, which Jira ignores)\n", r.devinfoTakenOver)
	}
	for _, s := range slices.Sorted(maps.Keys(r.samples)) {
		fmt.Fprintf(out, "unexpected: %s (%d)\n", s, r.samples[s])
	}
	for _, s := range r.unauditedSamples {
		fmt.Fprintln(out, "host writes without an audit row:", s)
	}
	for _, s := range r.refusedSamples {
		fmt.Fprintln(out, "host writes audited as refused:", s)
	}
	for _, s := range r.dupSamples {
		fmt.Fprintln(out, "pushed more than once:", s)
	}
	for _, s := range r.neverSamples {
		fmt.Fprintln(out, "never pushed:", s)
	}
	for _, s := range r.panels.samples {
		fmt.Fprintln(out, "panel not showing the records:", s)
	}
	for _, s := range r.devinfoFailures {
		fmt.Fprintln(out, "devinfo failure recorded by gitrelay:", s)
	}
	if r.logs != "" {
		fmt.Fprintln(out, "replica logs:", r.logs)
	}
	if v := r.violations(); len(v) > 0 {
		fmt.Fprintln(out, "\nFAILED:")
		for _, s := range v {
			fmt.Fprintln(out, "  -", s)
		}
	} else {
		fmt.Fprintln(out, "\nPASSED: every invariant held")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func orNone(s string) string {
	if s == "" {
		return "not reached"
	}
	return s
}
