package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/jackc/pgx/v5"
)

// panelCheck is what the development panels showed once the run was over:
// each replica keeps issues' records in memory, checked against versions
// on every read, so every replica must show what the database records
// after a replica was killed and PostgreSQL's connections cut.
type panelCheck struct {
	issues, reads, stale int
	samples              []string
}

// checkPanels reads, through the proxy and once per replica (it takes
// turns), the panel of every user's issue and of each tenant's shared
// issue, and compares the branches and pull requests gitrelay recorded that
// it shows with gitrelay's records in the database.
func (w *world) checkPanels(ctx context.Context) (panelCheck, error) {
	var pc panelCheck
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		return pc, err
	}
	defer conn.Close(ctx)
	seen := map[string]bool{}
	for _, u := range w.users {
		for _, issue := range []string{u.issue, u.t.project + "-1"} {
			if seen[issue] {
				continue
			}
			seen[issue] = true
			pc.issues++
			want, err := recordsOf(ctx, conn, issue)
			if err != nil {
				return pc, err
			}
			for range w.replicas {
				pc.reads++
				a := w.do(ctx, u, "GET", "/issues/"+issue+"/development", nil)
				got := shownRecords(a.body)
				if a.err == nil && a.status == http.StatusOK && slices.Equal(got, want) {
					continue
				}
				pc.stale++
				if len(pc.samples) < 5 {
					pc.samples = append(pc.samples, fmt.Sprintf("%s answered %d %v: shows %v, records %v", issue, a.status, a.err, got, want))
				}
			}
		}
	}
	return pc, nil
}

// recordsOf lists the branches and pull requests gitrelay recorded on the
// issue, sorted.
func recordsOf(ctx context.Context, conn *pgx.Conn, issue string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT 'branch ' || repository_id || '/' || name FROM branch_records WHERE issue_key = $1
		UNION ALL SELECT 'pull request ' || repository_id || '#' || number FROM pull_request_records WHERE issue_key = $1`, issue)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	slices.Sort(out)
	return out, err
}

// shownRecords lists the branches and pull requests gitrelay recorded that
// a panel answer shows (not those only the index found), sorted.
func shownRecords(body map[string]any) []string {
	out := []string{}
	for _, list := range []struct{ key, kind string }{{"branches", "branch"}, {"pull_requests", "pull request"}} {
		items, _ := body[list.key].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			if m["origin"] != "gitrelay" {
				continue
			}
			if list.kind == "branch" {
				out = append(out, fmt.Sprintf("branch %v/%v", m["repository_id"], m["name"]))
			} else {
				out = append(out, fmt.Sprintf("pull request %v#%v", m["repository_id"], m["number"]))
			}
		}
	}
	slices.Sort(out)
	return out
}
