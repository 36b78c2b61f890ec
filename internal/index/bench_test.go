package index_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// benchSize reads a benchmark's size from the environment (the figures in
// docs/performance.md name the sizes they were taken at).
func benchSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchWorld is repos repositories of commits commits each (one in ten
// naming an issue), served over git by the simulator, and an indexer.
func benchWorld(b *testing.B, db *store.DB, repos, commits int) (*index.Indexer, *hostsim.Git, *clock) {
	b.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	sim := hostsim.New()
	b.Cleanup(sim.Close)
	g := sim.Git(b.TempDir())
	srv := httptest.NewServer(g.Wrap(hostsim.LayoutOwnerRepo, sim.GitHub()))
	b.Cleanup(srv.Close)
	sim.AddToken(hostsim.Token{Value: secretToken, Login: "indexer", Scopes: []string{"repo"}})
	ctx := context.Background()
	in := relay.Integration{ID: "i1", TenantID: "t1", Kind: github.KindCloud, Name: "GitHub", Enabled: true,
		Account: relay.Account{Login: "indexer"}, CreatedAt: time.Unix(1_700_000_000, 0), UpdatedAt: time.Unix(1_700_000_000, 0)}
	if err := db.CreateIntegration(ctx, in, []byte("sealed"), relay.AuditEvent{Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess}); err != nil {
		b.Fatal(err)
	}
	var list []relay.Repository
	for i := range repos {
		r := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: fmt.Sprintf("repo%03d", i), Private: true, Readers: []string{"indexer"}})
		changes := make([]hostsim.Change, commits)
		for j := range changes {
			msg := fmt.Sprintf("Change %d of %s", j, r.Name)
			if j%10 == 0 {
				msg = fmt.Sprintf("ABC-%d %s", j/10+1, msg)
			}
			changes[j] = hostsim.Change{Message: msg, File: fmt.Sprintf("f%d", j%50)}
		}
		if _, err := g.Commit(r.FullName(), "main", changes...); err != nil {
			b.Fatal(err)
		}
		list = append(list, relay.Repository{ID: strconv.FormatInt(r.ID, 10), Name: r.Name, FullName: r.FullName(), WebURL: srv.URL + "/" + r.FullName()})
	}
	allow, _ := host.ParseAllowlist("127.0.0.0/8")
	c := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	ix, err := index.New(index.Config{
		Store:   db,
		Access:  &access{adapter: github.Cloud(github.WithAPIURL(srv.URL + "/")), repos: list},
		HTTP:    host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: allow}, Timeout: 10 * time.Minute}),
		DataDir: b.TempDir(), Now: c.now, Batch: 4,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ix.Close() })
	if err := ix.Discover(ctx); err != nil {
		b.Fatal(err)
	}
	return ix, g, c
}

func pollAll(b *testing.B, ix *index.Indexer) {
	b.Helper()
	for {
		n, err := ix.PollDue(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// peakRSS is this process's peak resident memory (VmHWM), in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkFirstIndex: the first index of BENCH_INDEX_REPOS repositories ×
// BENCH_INDEX_COMMITS commits (default 20 × 5,000), one in ten naming an
// issue. Reports commits per second, clone bytes per commit and the peak
// RSS of gitrelay's process (git's own processes come and go beside it).
func BenchmarkFirstIndex(b *testing.B) {
	repos, commits := benchSize("BENCH_INDEX_REPOS", 20), benchSize("BENCH_INDEX_COMMITS", 5000)
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ix, _, _ := benchWorld(b, db, repos, commits)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			pollAll(b, ix)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		states, err := db.IndexStates(context.Background(), "t1", "i1", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		var walked, disk int64
		for _, s := range states {
			walked += s.Commits
			disk += s.DiskBytes
			if s.Failure != "" {
				b.Fatalf("%s failed: %s", s.FullName, s.Failure)
			}
		}
		b.ReportMetric(float64(walked)/elapsed.Seconds(), "commits/s")
		b.ReportMetric(float64(disk)/float64(max(walked, 1)), "clone-bytes/commit")
		dbBytes, stored, err := db.IndexedCommitBytes(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(dbBytes)/float64(max(stored, 1)), "db-bytes/indexed-commit")
		b.ReportMetric(float64(stored), "indexed-commits")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	})
}

// BenchmarkUnchangedPoll: a poll of BENCH_POLL_REPOS (default 200)
// unchanged repositories: one refs request each and no fetch.
func BenchmarkUnchangedPoll(b *testing.B) {
	repos := benchSize("BENCH_POLL_REPOS", 200)
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ix, g, c := benchWorld(b, db, repos, 10)
		pollAll(b, ix)
		g.ResetStats()
		b.ResetTimer()
		for range b.N {
			c.add(index.MaxPoll)
			pollAll(b, ix)
		}
		b.StopTimer()
		var refs, fetches int
		for i := range repos {
			s := g.Stats(fmt.Sprintf("acme/repo%03d", i))
			refs += s.Refs + s.ListRefs
			fetches += s.Fetches
		}
		if fetches != 0 || refs != repos*b.N {
			b.Fatalf("an unchanged poll made %d refs requests and %d fetches, want %d and none", refs, fetches, repos*b.N)
		}
		b.ReportMetric(float64(refs)/float64(b.N), "refs-requests/poll")
		b.ReportMetric(float64(fetches)/float64(b.N), "fetches/poll")
	})
}

// BenchmarkIssuePanelRead: reading the index for an issue with 500
// commits, in an index of BENCH_PANEL_COMMITS (default 100,000) commits
// that name issues.
func BenchmarkIssuePanelRead(b *testing.B) {
	total := benchSize("BENCH_PANEL_COMMITS", 100_000)
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		in := relay.Integration{ID: "i1", TenantID: "t1", Kind: github.KindCloud, Name: "GitHub", Enabled: true,
			CreatedAt: time.Unix(1_700_000_000, 0), UpdatedAt: time.Unix(1_700_000_000, 0)}
		if err := db.CreateIntegration(ctx, in, []byte("sealed"), relay.AuditEvent{Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
		if _, err := db.SyncIndexRepositories(ctx, "t1", "i1", []relay.Repository{{ID: "1", FullName: "acme/big", WebURL: "https://git.example/acme/big"}}, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
		const batch = 5000
		at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for done := 0; done < total; done += batch {
			if _, err := db.ClaimDueRepositories(ctx, relay.IndexClaim{Owner: "bench", Replica: "bench", Now: time.Now(), Lease: time.Hour, Limit: 1}); err != nil {
				b.Fatal(err)
			}
			u := relay.IndexUpdate{IndexKey: relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1"}, Owner: "bench",
				Tips: map[string]string{}, CheckedAt: at, NextPollAt: time.Unix(0, 0)}
			for i := done; i < min(done+batch, total); i++ {
				key := fmt.Sprintf("ABC-%d", i%(total/500)+1) // 500 commits per issue
				u.Commits = append(u.Commits, relay.IndexedCommit{SHA: fmt.Sprintf("%040x", i), Message: key + " change", AuthorName: "Dev",
					AuthorEmail: "dev@example.com", At: at.Add(time.Duration(i) * time.Second), Branches: []string{"main"}, IssueKeys: []string{key}})
			}
			if ok, err := db.SaveIndex(ctx, u); err != nil || !ok {
				b.Fatalf("save: %v %v", ok, err)
			}
		}
		b.ResetTimer()
		for range b.N {
			idx, err := db.IssueIndex(ctx, "t1", "ABC-1", []string{"i1"})
			if err != nil || len(idx.Commits) != 500 {
				b.Fatalf("got %d commits, %v; want 500", len(idx.Commits), err)
			}
		}
	})
}

// BenchmarkBranchCreatedRead: after the first index of BENCH_INDEX_REPOS
// repositories × BENCH_INDEX_COMMITS commits (default 20 × 5,000), a
// branch is created at the tip of main in every repository and each is
// read: the branch adds itself to every indexed commit of main (a walk of
// each repository's history from every branch, and the commits' rows
// rewritten). Reports the read's time per repository.
func BenchmarkBranchCreatedRead(b *testing.B) {
	repos, commits := benchSize("BENCH_INDEX_REPOS", 20), benchSize("BENCH_INDEX_COMMITS", 5000)
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ix, g, c := benchWorld(b, db, repos, commits)
		pollAll(b, ix)
		b.ResetTimer()
		var spent time.Duration
		for i := range b.N {
			b.StopTimer()
			for r := range repos {
				name := fmt.Sprintf("acme/repo%03d", r)
				if _, err := g.Commit(name, fmt.Sprintf("topic-%d", i)); err != nil {
					b.Fatal(err)
				}
			}
			c.add(index.MaxPoll)
			b.StartTimer()
			start := time.Now()
			pollAll(b, ix)
			spent += time.Since(start)
		}
		b.StopTimer()
		idx, err := db.IssueIndex(context.Background(), "t1", "ABC-1", []string{"i1"})
		if err != nil {
			b.Fatal(err)
		}
		for _, cm := range idx.Commits {
			if !slices.Contains(cm.Branches, fmt.Sprintf("topic-%d", b.N-1)) {
				b.Fatalf("commit %s lists %v, without the branch created last", cm.SHA, cm.Branches)
			}
		}
		b.ReportMetric(float64(spent.Milliseconds())/float64(b.N*repos), "ms/repository")
	})
}
