package index_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

const secretToken = "ghp_indexSecret0123456789abcdefXYZ"

// access is the action path's part, for one GitHub integration against
// the simulator: its repositories, and the git remote its adapter builds.
type access struct {
	adapter host.Adapter
	cfg     relay.HostConfig
	cred    relay.Credential
	repos   []relay.Repository
	opened  int
}

func (a *access) IndexRepositories(context.Context, string, string) ([]relay.Repository, error) {
	return a.repos, nil
}

func (a *access) GitRemote(_ context.Context, _, _ string, repo relay.Repository) (relay.GitRemote, error) {
	a.opened++
	return a.adapter.(host.GitReader).GitRemote(a.cfg, repo, a.cred)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type world struct {
	sim   *hostsim.Sim
	git   *hostsim.Git
	db    *store.DB
	ix    *index.Indexer
	clock *clock
	argv  string // where the git wrapper logs each run's arguments and environment
	data  string
	// ixAccess, gitPath and http are what the indexer was given.
	ixAccess *access
	gitPath  string
	http     *http.Client
	hostURL  string
	// batch is Config.Batch of the indexers made next (0: the default).
	batch int
	// configure changes the configuration of every indexer made.
	configure []func(*index.Config)
}

// newWorld serves one repository, acme/widgets, on GitHub and indexes it
// into db with an indexer configured as configure says.
func newWorld(t *testing.T, db *store.DB, configure ...func(*index.Config)) *world {
	t.Helper()
	return newWorldOn(t, db, github.KindCloud, configure...)
}

// newWorldOn is newWorld on a host of kind (github or codecommit).
func newWorldOn(t *testing.T, db *store.DB, kind relay.Kind, configure ...func(*index.Config)) *world {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (scripts/ensure-git installs it)")
	}
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	g := sim.Git(t.TempDir())
	var srv *httptest.Server
	if kind == codecommit.Kind {
		srv = httptest.NewServer(g.Wrap(hostsim.LayoutCodeCommit, sim.CodeCommit()))
	} else {
		srv = httptest.NewServer(g.Wrap(hostsim.LayoutOwnerRepo, sim.GitHub()))
	}
	t.Cleanup(srv.Close)
	r := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Readers: []string{"indexer"}})
	scopes := []string{"repo"}
	if kind == codecommit.Kind {
		scopes = []string{"codecommit:GitPull"}
	}
	sim.AddToken(hostsim.Token{Value: secretToken, Login: "indexer", Scopes: scopes})

	ctx := context.Background()
	in := relay.Integration{ID: "i1", TenantID: "t1", Kind: kind, Name: string(kind), Enabled: true,
		Account: relay.Account{Login: "indexer"}, CreatedAt: time.Unix(1_700_000_000, 0), UpdatedAt: time.Unix(1_700_000_000, 0)}
	if err := db.CreateIntegration(ctx, in, []byte("sealed"), relay.AuditEvent{Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}

	// The git wrapper records what each git run was given, to show that
	// no credential is among it.
	dir := t.TempDir()
	argv := filepath.Join(dir, "argv.log")
	real, _ := exec.LookPath("git")
	wrapper := filepath.Join(dir, "git")
	script := "#!/bin/sh\n{ echo \"ARGS: $*\"; env; } >> '" + argv + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	allow, err := host.ParseAllowlist("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	acc := &access{adapter: github.Cloud(github.WithAPIURL(srv.URL + "/")), cfg: relay.HostConfig{Kind: github.KindCloud},
		cred: relay.TokenCredential(secretToken), repos: []relay.Repository{
			{ID: "1", Name: "widgets", FullName: r.FullName(), DefaultBranch: "main", WebURL: srv.URL + "/acme/widgets"}}}
	if kind == codecommit.Kind {
		// The integration's access key is the token's pair; its git
		// passwords are dated by the real clock, as the simulator's is.
		id, secret := hostsim.AccessKeyPair(secretToken)
		acc = &access{adapter: codecommit.New(), cred: relay.AccessKeyCredential(id, secret),
			cfg: relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1", "endpoint": srv.URL, "sts_endpoint": srv.URL}},
			repos: []relay.Repository{{ID: "widgets", Name: "widgets", FullName: r.FullName(), DefaultBranch: "main",
				WebURL: "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/widgets/browse?region=eu-west-1"}}}
	}
	w := &world{sim: sim, git: g, db: db, clock: c, argv: argv, ixAccess: acc, gitPath: wrapper, hostURL: srv.URL,
		http:      host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: allow}, Timeout: time.Minute}),
		configure: configure}
	w.data = t.TempDir()
	w.ix = w.indexer(t, w.data)
	return w
}

// indexer starts an indexer of the world keeping its clones in data: a
// replica of its own, or the same one again on a data directory used
// before.
func (w *world) indexer(t *testing.T, data string) *index.Indexer {
	t.Helper()
	cfg := index.Config{
		Store:   w.db,
		Access:  w.ixAccess,
		HTTP:    w.http,
		DataDir: data,
		Git:     w.gitPath,
		Now:     w.clock.now,
		Batch:   w.batch,
		KnownProjects: func(context.Context, string) (func(string) bool, error) {
			return func(p string) bool { return p == "ABC" }, nil
		},
	}
	for _, f := range w.configure {
		f(&cfg)
	}
	ix, err := index.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	return ix
}

func (w *world) commit(t *testing.T, branch string, messages ...string) string {
	t.Helper()
	var changes []hostsim.Change
	for _, m := range messages {
		changes = append(changes, hostsim.Change{Message: m, AuthorName: "Bob Dev", AuthorEmail: "bob@example.com"})
	}
	sha, err := w.git.Commit("acme/widgets", branch, changes...)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

func (w *world) poll(t *testing.T) {
	t.Helper()
	if _, err := w.ix.PollDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (w *world) issue(t *testing.T, key string) relay.IssueIndex {
	t.Helper()
	idx, err := w.db.IssueIndex(context.Background(), "t1", key, []string{"i1"})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func (w *world) state(t *testing.T) relay.IndexState {
	t.Helper()
	states, err := w.db.IndexStates(context.Background(), "t1", "i1", w.clock.now())
	if err != nil || len(states) != 1 {
		t.Fatalf("got states %v, %v; want one", states, err)
	}
	return states[0]
}

func TestIndexReadsPushedWorkIncrementallyAndNothingWhenUnchanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		w.commit(t, "main", "Set up", "ABC-1 Start the login page", "UTF-8 everywhere")
		login := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Sign in\n\nAlso touches ABC-1.")

		if err := w.ix.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		w.poll(t)

		s := w.state(t)
		if s.Failure != "" || s.LastCheckedAt.IsZero() || s.DiskBytes == 0 {
			t.Fatalf("after the first read got state %+v, want read, without failure, with a clone on disk", s)
		}
		// The first commit, the three on main, the branch's one.
		if s.Commits != 5 {
			t.Errorf("the first read walked %d commits, want 5", s.Commits)
		}
		one := w.issue(t, "ABC-1")
		if len(one.Commits) != 2 || one.Commits[0].SHA != login || one.Commits[0].Message != "ABC-2 Sign in" ||
			one.Commits[0].AuthorEmail != "bob@example.com" || one.Commits[0].Branches[0] != "feature/ABC-2-sign-in" {
			t.Errorf("ABC-1 got commits %+v, want the branch's commit (first line, author, branch) then main's", one.Commits)
		}
		two := w.issue(t, "ABC-2")
		if len(two.Branches) != 1 || two.Branches[0].Name != "feature/ABC-2-sign-in" || two.Branches[0].SHA != login ||
			two.Branches[0].Message != "ABC-2 Sign in" {
			t.Errorf("ABC-2 got branches %+v, want feature/ABC-2-sign-in with its last commit", two.Branches)
		}
		if utf := w.issue(t, "UTF-8"); len(utf.Commits) != 0 {
			t.Errorf("a key of a project the tenant does not know was indexed: %+v", utf.Commits)
		}

		t.Run("an unchanged repository costs one refs request and no fetch", func(t *testing.T) {
			w.git.ResetStats()
			w.clock.add(index.MaxPoll)
			w.poll(t)
			if got := w.git.Stats("acme/widgets"); got.Refs != 1 || got.ListRefs != 0 || got.Fetches != 0 {
				t.Errorf("got git requests %+v, want exactly one refs request", got)
			}
			if got := w.state(t); !got.LastCheckedAt.Equal(w.clock.now()) || got.Commits != 5 {
				t.Errorf("got state %+v, want checked now and nothing walked", got)
			}
		})

		t.Run("a push is read from the previous tips only", func(t *testing.T) {
			w.clock.add(index.MaxPoll)
			more := w.commit(t, "feature/ABC-2-sign-in", "ABC-2 Remember me")
			w.poll(t)
			if got := w.state(t).Commits; got != 6 {
				t.Errorf("after pushing one commit the index walked %d in all, want 6 (one more)", got)
			}
			two := w.issue(t, "ABC-2")
			if len(two.Commits) != 2 || two.Commits[0].SHA != more {
				t.Errorf("ABC-2 got commits %+v, want the new commit first", two.Commits)
			}
			if len(two.Branches) != 1 || two.Branches[0].SHA != more || two.Branches[0].Message != "ABC-2 Remember me" {
				t.Errorf("ABC-2's branch got %+v, want it at the new commit", two.Branches)
			}
			if next := w.state(t).NextPollAt; !next.Equal(w.clock.now().Add(index.MinPoll)) {
				t.Errorf("a repository that just changed is next polled at %v, want in %v", next, index.MinPoll)
			}
		})

		t.Run("a deleted branch leaves the issue", func(t *testing.T) {
			w.clock.add(index.MaxPoll)
			if err := w.git.DeleteBranch("acme/widgets", "feature/ABC-2-sign-in"); err != nil {
				t.Fatal(err)
			}
			w.poll(t)
			if two := w.issue(t, "ABC-2"); len(two.Branches) != 0 {
				t.Errorf("ABC-2 still lists branches %+v", two.Branches)
			}
		})

		t.Run("the credential is never on disk, in git's arguments or its environment", func(t *testing.T) {
			log, err := os.ReadFile(w.argv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(log, []byte("ARGS: ")) {
				t.Fatal("the git wrapper recorded nothing")
			}
			if bytes.Contains(log, []byte(secretToken)) {
				t.Error("a git run's arguments or environment hold the credential")
			}
			_ = filepath.WalkDir(w.data, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				b, _ := os.ReadFile(path)
				if bytes.Contains(b, []byte(secretToken)) {
					t.Errorf("file %s holds the credential", strings.TrimPrefix(path, w.data))
				}
				return nil
			})
		})

		t.Run("a repository no longer included loses its index and clone", func(t *testing.T) {
			clone := w.ix.ClonePath(relay.IndexKey{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1"})
			if _, err := os.Stat(clone); err != nil {
				t.Fatalf("no clone at the expected place: %v", err)
			}
			if err := w.ix.DiscoverIntegration(ctx, "t1", "i1"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SyncIndexRepositories(ctx, "t1", "i1", nil, w.clock.now()); err != nil {
				t.Fatal(err)
			}
			if err := w.ix.RemoveOrphanClones(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(clone); !os.IsNotExist(err) {
				t.Errorf("the clone of a removed repository remains (%v)", err)
			}
			if one := w.issue(t, "ABC-1"); len(one.Commits) != 0 {
				t.Errorf("the removed repository's commits remain: %+v", one.Commits)
			}
		})
	})
}

func TestIndexRecordsAFailingRepositoryWithItsReason(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		if err := w.ix.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		w.sim.RevokeToken(secretToken)
		w.poll(t)
		s := w.state(t)
		if !strings.Contains(s.Failure, "refused the integration's credential") || !s.FailingSince.Equal(w.clock.now()) {
			t.Errorf("got state %+v, want the refusal as the reason, failing since now", s)
		}
		if strings.Contains(s.Failure, secretToken) {
			t.Error("the failure names the credential")
		}
		if !s.NextPollAt.After(w.clock.now()) {
			t.Errorf("a failing repository is due again at once (%v)", s.NextPollAt)
		}
	})
}

// Git's HTTP obeys the egress policy: a repository on a refused address
// is not read, git never runs, and the reason names the address class.
func TestIndexRefusesWhatTheEgressPolicyRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		strict, err := index.New(index.Config{
			Store: db, Access: w.ixAccess, DataDir: t.TempDir(), Git: w.gitPath, Now: w.clock.now,
			// The default policy: loopback refused.
			HTTP: host.NewHTTPClient(host.ClientConfig{Timeout: time.Minute}),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer strict.Close()
		if err := strict.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := strict.PollDue(ctx); err != nil {
			t.Fatal(err)
		}
		s := w.state(t)
		if !strings.Contains(s.Failure, "loopback") {
			t.Errorf("got failure %q, want the egress refusal naming the loopback class", s.Failure)
		}
		if log, _ := os.ReadFile(w.argv); len(log) != 0 {
			t.Errorf("git ran although the host was refused:\n%s", log)
		}
		if got := w.git.Stats("acme/widgets"); got.Refs+got.Fetches+got.Refused != 0 {
			t.Errorf("the refused host received %+v", got)
		}
	})
}
