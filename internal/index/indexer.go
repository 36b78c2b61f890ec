// Package index reads every repository of every integration, so that an
// issue lists all the work on it — branches, commits and pull requests
// from every repository — and not only what gitrelay created.
//
// Branches and commits are read with git itself: per repository a bare,
// blob-less partial clone under the data directory, brought up to date
// with `git fetch --prune`. A poll first asks for the refs (one GET of
// info/refs, what `git ls-remote` does) and fetches nothing when they are
// unchanged; otherwise it fetches and walks the commits reachable from the
// new tips and from none of the previous ones, so every commit is read
// once, and keeps the branches each indexed commit is on right (rebranch).
// Git never talks to a host itself, nor holds a credential: see gateway.
//
// Work is shared between replicas through the database: PollDue claims due
// repositories under a lease (store.ClaimDueRepositories), so that no
// repository is read twice at once and a replica that dies mid-read only
// delays it until the lease ends.
//
// Each repository's clone lives in one replica's data directory, its
// holder: the replica that claimed it first. Only the holder claims it
// while the holder lives (its heartbeat, Beat, is recent), so a repository
// is cloned once across the replicas and every read after the first is an
// incremental fetch. A repository whose holder is gone is taken over by
// the first replica to claim it, which clones it; the gone replica, if it
// comes back, removes its stale clone (RemoveOrphanClones). The data
// directory's id (Replica) is kept in the directory, so a restarted
// replica keeps its clones.
package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Store is what the index keeps in the database (store.DB implements it).
type Store interface {
	IndexIntegrations(ctx context.Context) ([]relay.IndexKey, error)
	SyncIndexRepositories(ctx context.Context, tenantID, integrationID string, repos []relay.Repository, now time.Time) ([]string, error)
	ReadableRepositoryKeys(ctx context.Context, replica string, now time.Time, goneAfter time.Duration) ([]relay.IndexKey, error)
	ClaimDueRepositories(ctx context.Context, c relay.IndexClaim) ([]relay.IndexState, error)
	BeatIndexReplica(ctx context.Context, replica string, now time.Time, forgetAfter time.Duration) error
	IndexReplicas(ctx context.Context, now time.Time, goneAfter time.Duration) (live, gone []string, err error)
	HoldersOfDueRepositories(ctx context.Context, replica string, now time.Time, goneAfter time.Duration) ([]string, error)
	SaveIndex(ctx context.Context, u relay.IndexUpdate, hooks ...TxHook) (bool, error)
	CommitBranches(ctx context.Context, k relay.IndexKey, shas []string) (map[string][]string, error)
	FailIndex(ctx context.Context, k relay.IndexKey, owner, reason string, now, next time.Time) error
}

// TxHook runs in the database transaction that saves a read, after what
// the read saves (it is the store's TxHook): what it writes commits with
// the read or not at all.
type TxHook = func(ctx context.Context, tx *sql.Tx) error

// Access is what the index asks the action path for (action.Service
// implements it): the repositories an integration includes, and how to
// read one with git as the integration account.
type Access interface {
	IndexRepositories(ctx context.Context, tenantID, integrationID string) ([]relay.Repository, error)
	GitRemote(ctx context.Context, tenantID, integrationID string, repo relay.Repository) (relay.GitRemote, error)
}

// Poller polls the repositories that are due. It is the unit of work the
// job queue's poll jobs run: safe to call from any number of replicas at
// once.
type Poller interface {
	PollDue(ctx context.Context) (int, error)
}

// Defaults of Config.
const (
	DefaultLease         = 10 * time.Minute
	DefaultBatch         = 8
	DefaultMaxFetchBytes = 2 << 30
	// MinPoll and MaxPoll bound the time between two polls of a
	// repository: a repository that changed minutes ago is polled every
	// minute, one dormant for a month once a day.
	MinPoll = time.Minute
	MaxPoll = 24 * time.Hour
	// failureRetry is the first wait after a failed read; it grows with
	// the failure's age, up to MaxFailureRetry.
	failureRetry    = 5 * time.Minute
	MaxFailureRetry = 6 * time.Hour
	// HeartbeatEvery is how often a serving replica calls Beat, and
	// DefaultGoneAfter how long after its last heartbeat it is gone: long
	// enough for a restart (a rolling update) to keep its clones, short
	// enough that its repositories wait little for another replica.
	HeartbeatEvery   = 15 * time.Second
	DefaultGoneAfter = 2 * time.Minute
	// forgetAfter is when a gone replica's row is deleted; its id in a
	// repository's holder then means gone all the same.
	forgetAfter = 24 * time.Hour
)

// Config configures an Indexer.
type Config struct {
	Store  Store
	Access Access
	// HTTP is gitrelay's outbound client (host.NewHTTPClient), with a
	// timeout long enough for a first clone.
	HTTP *http.Client
	// DataDir holds the clones, under DataDir/index.
	DataDir string
	// Git is the git binary (default: "git" on PATH).
	Git string
	// KnownProjects tells which project keys a tenant knows (nil: any
	// upper-case key counts).
	KnownProjects func(ctx context.Context, tenantID string) (func(project string) bool, error)
	Now           func() time.Time
	Log           *slog.Logger
	// Owner names this process's leases (default: a random id).
	Owner string
	// Replica names the data directory holding the clones (default: the
	// id kept in DataDir/index/replica, made on first start). Processes
	// sharing a data directory are one replica: they share its clones.
	Replica string
	// GoneAfter is how long after its last heartbeat a replica is gone,
	// and its repositories are read by others (default DefaultGoneAfter).
	GoneAfter time.Duration
	// Lease is how long a claimed repository stays this process's.
	Lease time.Duration
	// Batch is how many repositories one PollDue claims.
	Batch int
	// MaxFetchBytes caps what one read of a repository receives.
	MaxFetchBytes int64
	// Paused tells whether the integration's account (BudgetName) has
	// spent its indexing share of the host's rate limit: its pull requests
	// are then not read until the budget's reset (nil: never).
	Paused func(integration string) bool
	// Tell, when set, is given what a read is about to save that names
	// issues (the new commits, the branches that changed, the pull
	// requests listed) and returns what to write in the transaction that
	// saves it (nil: nothing): Jira's development information is queued
	// there, so that the issue tracker is told of what the index saved
	// exactly when it is saved. An error, from Tell or from its hook,
	// fails the read: nothing of it is saved, and the next poll reads it
	// again.
	Tell func(ctx context.Context, s relay.IndexState, commits []relay.IndexedCommit, branches []relay.IndexedBranch, prs []relay.IndexedPullRequest) (TxHook, error)
}

// Indexer reads repositories into the index.
type Indexer struct {
	c   Config
	git git
	gw  *gateway
	dir string

	// locks keeps one read per clone in this process (the lease keeps it
	// across replicas).
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

var _ Poller = (*Indexer)(nil)

// New starts an Indexer (its gateway listens on a loopback port); Close it.
func New(c Config) (*Indexer, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Owner == "" {
		c.Owner = relay.NewID()
	}
	if c.GoneAfter <= 0 {
		c.GoneAfter = DefaultGoneAfter
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.MaxFetchBytes <= 0 {
		c.MaxFetchBytes = DefaultMaxFetchBytes
	}
	if c.Git == "" {
		c.Git = "git"
	}
	path, err := exec.LookPath(c.Git)
	if err != nil {
		return nil, fmt.Errorf("index: git is not installed (%w); install git or turn indexing off", err)
	}
	dir := filepath.Join(c.DataDir, "index")
	home := filepath.Join(dir, ".home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if c.Replica == "" {
		if c.Replica, err = replicaID(dir); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	} else if !validReplicaID(c.Replica) {
		return nil, fmt.Errorf("index: replica id %q is not lower-case letters and digits", c.Replica)
	}
	gw, err := newGateway(c.HTTP)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return &Indexer{c: c, git: git{path: path, home: home}, gw: gw, dir: dir, locks: map[string]*sync.Mutex{}}, nil
}

// Close stops the gateway.
func (x *Indexer) Close() error { return x.gw.Close() }

// Replica is the id of this replica's data directory: the holder its
// claims record.
func (x *Indexer) Replica() string { return x.c.Replica }

// replicaFile holds the data directory's replica id, under DataDir/index.
const replicaFile = "replica"

// replicaID reads the id kept in dir, making one on first use. It is
// written aside and linked into place, so that processes starting at once
// on one directory agree on the first written.
func replicaID(dir string) (string, error) {
	path := filepath.Join(dir, replicaFile)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			id := strings.TrimSpace(string(b))
			if !validReplicaID(id) {
				return "", fmt.Errorf("%s does not hold a replica id; remove it and a new one is made (the clones are then read again)", path)
			}
			return id, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if err := writeNew(path, relay.NewID()+"\n"); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

// writeNew writes a file that must not exist yet, whole or not at all
// (fs.ErrExist when it does): written aside, then linked into place. On a
// file system without hard links it is created in place.
func writeNew(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// validReplicaID: lower-case letters and digits, so that the id names a
// job queue as it is.
func validReplicaID(id string) bool {
	if id == "" || len(id) > 40 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Beat records that this replica is alive (its heartbeat): while it
// beats, no other replica claims the repositories it holds. A serving
// replica calls it every HeartbeatEvery, whatever its reads are doing.
func (x *Indexer) Beat(ctx context.Context) error {
	return x.c.Store.BeatIndexReplica(ctx, x.c.Replica, x.c.Now(), forgetAfter)
}

// Replicas lists the replicas alive (a heartbeat within GoneAfter) and
// those gone but not forgotten, by id.
func (x *Indexer) Replicas(ctx context.Context) (live, gone []string, err error) {
	return x.c.Store.IndexReplicas(ctx, x.c.Now(), x.c.GoneAfter)
}

// DueElsewhere lists the live replicas, other than this one, holding
// repositories due and not being read: this replica may not read them,
// their holders should (after a webhook made them due, for one).
func (x *Indexer) DueElsewhere(ctx context.Context) ([]string, error) {
	return x.c.Store.HoldersOfDueRepositories(ctx, x.c.Replica, x.c.Now(), x.c.GoneAfter)
}

// Dir is where the clones live.
func (x *Indexer) Dir() string { return x.dir }

// ClonePath is where the clone of a repository lives: a digest of its key,
// so that no name from a host becomes a path.
func (x *Indexer) ClonePath(k relay.IndexKey) string {
	sum := sha256.Sum256([]byte(k.TenantID + "\x00" + k.IntegrationID + "\x00" + k.RepositoryID))
	return filepath.Join(x.dir, hex.EncodeToString(sum[:16])+".git")
}

// Discover makes the index's repositories those the integrations include:
// new repositories are due at once; repositories no longer included, and
// integrations removed, lose their index, and their clones here (every
// replica's RemoveOrphanClones removes its own).
func (x *Indexer) Discover(ctx context.Context) error {
	ins, err := x.c.Store.IndexIntegrations(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range ins {
		if err := x.DiscoverIntegration(ctx, in.TenantID, in.IntegrationID); err != nil {
			errs = append(errs, fmt.Errorf("integration %s: %w", in.IntegrationID, err))
		}
	}
	return errors.Join(errs...)
}

// DiscoverIntegration is Discover for one integration.
func (x *Indexer) DiscoverIntegration(ctx context.Context, tenantID, integrationID string) error {
	repos, err := x.c.Access.IndexRepositories(ctx, tenantID, integrationID)
	if err != nil {
		return err
	}
	removed, err := x.c.Store.SyncIndexRepositories(ctx, tenantID, integrationID, repos, x.c.Now())
	if err != nil {
		return err
	}
	for _, id := range removed {
		x.removeClone(relay.IndexKey{TenantID: tenantID, IntegrationID: integrationID, RepositoryID: id})
	}
	return nil
}

// RemoveOrphanClones deletes the clones this replica may no longer read:
// of repositories the index no longer holds (a deleted integration or Jira
// site), and of those another live replica holds (it took them over while
// this one was gone). Clones of repositories no replica holds, or whose
// holder is gone, stay: this replica may claim them, and then fetches
// rather than clones. Each is deleted under its clone's lock, so never
// under a read.
func (x *Indexer) RemoveOrphanClones(ctx context.Context) error {
	keys, err := x.c.Store.ReadableRepositoryKeys(ctx, x.c.Replica, x.c.Now(), x.c.GoneAfter)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, k := range keys {
		keep[filepath.Base(x.ClonePath(k))] = true
	}
	entries, err := os.ReadDir(x.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".git") && !keep[name] {
			x.removeCloneDir(filepath.Join(x.dir, name))
		}
	}
	return nil
}

func (x *Indexer) removeClone(k relay.IndexKey) { x.removeCloneDir(x.ClonePath(k)) }

func (x *Indexer) removeCloneDir(dir string) {
	l := x.lock(dir)
	l.Lock()
	defer l.Unlock()
	_ = os.RemoveAll(dir)
	_ = os.RemoveAll(dir + ".tmp")
}

func (x *Indexer) lock(dir string) *sync.Mutex {
	x.mu.Lock()
	defer x.mu.Unlock()
	l := x.locks[dir]
	if l == nil {
		l = &sync.Mutex{}
		x.locks[dir] = l
	}
	return l
}

// PollDue claims up to Config.Batch due repositories this replica may
// read (those it holds, that none holds, or whose holder is gone) and
// reads each, and returns how many it claimed. A failed read is recorded on its
// repository (reason, since when) and retried later; it does not fail the
// poll.
func (x *Indexer) PollDue(ctx context.Context) (int, error) {
	due, err := x.c.Store.ClaimDueRepositories(ctx, relay.IndexClaim{Owner: x.c.Owner, Replica: x.c.Replica, Now: x.c.Now(),
		Lease: x.c.Lease, GoneAfter: x.c.GoneAfter, Limit: x.c.Batch})
	if err != nil {
		return 0, err
	}
	for _, s := range due {
		if err := x.read(ctx, s); err != nil {
			if ctx.Err() != nil {
				return len(due), ctx.Err()
			}
			now := x.c.Now()
			since := s.FailingSince
			if since.IsZero() {
				since = now
			}
			wait := min(max(failureRetry, now.Sub(since)/4), MaxFailureRetry)
			if ferr := x.c.Store.FailIndex(ctx, s.IndexKey, x.c.Owner, reason(err), now, now.Add(wait)); ferr != nil {
				return len(due), ferr
			}
			x.c.Log.Info("index: read failed", "integration", s.IntegrationID, "repository", s.FullName, "reason", reason(err))
		}
	}
	return len(due), nil
}

// reason is what the administrator's status shows for a failed read:
// gitrelay's own messages as they are, git's first line of complaint.
func reason(err error) string {
	var re *relay.Error
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}

// NextPoll is when a repository is polled again, by how recently it
// changed: a fortieth of the time since its last change, between MinPoll
// and MaxPoll.
func NextPoll(now, lastChanged time.Time) time.Time {
	if lastChanged.IsZero() {
		return now.Add(MaxPoll)
	}
	return now.Add(min(max(now.Sub(lastChanged)/40, MinPoll), MaxPoll))
}

// read polls one claimed repository.
func (x *Indexer) read(ctx context.Context, s relay.IndexState) error {
	// Every read is an indexing read, held to the integration's share of
	// the host's rate limit (host.RateBudget).
	ctx = host.ForIndexing(ctx, BudgetName(s.TenantID, s.IntegrationID))
	repo := relay.Repository{ID: s.RepositoryID, FullName: s.FullName, WebURL: s.WebURL}
	remote, err := x.c.Access.GitRemote(ctx, s.TenantID, s.IntegrationID, repo)
	if err != nil {
		return err
	}
	refs, err := readRefs(ctx, x.c.HTTP, remote)
	if err != nil {
		return err
	}
	now := x.c.Now()
	dir := x.ClonePath(s.IndexKey)
	d := digest(refs)
	update := relay.IndexUpdate{IndexKey: s.IndexKey, Owner: x.c.Owner, Tips: refs, TipsDigest: d, CheckedAt: now, DueAt: s.NextPollAt}
	known := func(string) bool { return true }
	if x.c.KnownProjects != nil {
		if known, err = x.c.KnownProjects(ctx, s.TenantID); err != nil {
			return err
		}
	}
	if err := x.readPullRequests(ctx, s, known); err != nil {
		return err
	}
	if d == s.TipsDigest && cloned(dir) {
		// Nothing changed: one request, nothing fetched (and the pull
		// requests' one conditional request).
		update.NextPollAt = NextPoll(now, s.LastChangedAt)
		update.DiskBytes = s.DiskBytes
		_, err := x.c.Store.SaveIndex(ctx, update)
		return err
	}
	l := x.lock(dir)
	l.Lock()
	defer l.Unlock()
	if err := x.sync(ctx, remote, dir); err != nil {
		return err
	}
	// Walk from the branches that moved or appeared, stopping at every
	// previous tip: each commit is read once, and the branches it is on
	// are those of the walk that reach it (no other branch does).
	oldHeads, newHeads := heads(s.Tips), heads(refs)
	var from, not []string
	var changed []string
	walkedHeads := map[string]string{}
	for name, sha := range newHeads {
		if oldHeads[name] != sha {
			from = append(from, sha)
			changed = append(changed, name)
			walkedHeads[name] = sha
		}
	}
	for name, sha := range oldHeads {
		not = append(not, sha)
		if _, kept := newHeads[name]; !kept {
			changed = append(changed, name)
		}
	}
	slices.Sort(from)
	from = slices.Compact(from)
	slices.Sort(not)
	if not, err = x.git.present(ctx, dir, slices.Compact(not)); err != nil {
		return gitFailure(err)
	}
	on := newReach(walkedHeads)
	fresh := map[string]bool{}
	err = x.git.walk(ctx, dir, from, not, func(c walked) error {
		update.Walked++
		branches := on.visit(c.sha, c.parents)
		keys := Keys(c.message, known)
		if len(keys) == 0 {
			return nil
		}
		first, _, _ := strings.Cut(c.message, "\n")
		fresh[c.sha] = true
		update.Commits = append(update.Commits, relay.IndexedCommit{SHA: c.sha, Message: first, AuthorName: c.authorName,
			AuthorEmail: c.authorEmail, At: c.at, Branches: on.branches(branches), IssueKeys: keys})
		return nil
	})
	if err != nil {
		return gitFailure(err)
	}
	// The commits indexed before are on the branches that reach them now.
	if update.Rebranched, err = x.rebranch(ctx, s.IndexKey, dir, oldHeads, newHeads, fresh); err != nil {
		return err
	}
	// The rows of the branches that changed are replaced: those whose name
	// names an issue get their last commit.
	slices.Sort(changed)
	update.ChangedBranches = slices.Compact(changed)
	var tipShas []string
	type named struct{ name, sha string }
	var keyed []named
	for _, name := range update.ChangedBranches {
		sha, ok := refs["refs/heads/"+name]
		if ok && len(Keys(name, known)) > 0 {
			keyed = append(keyed, named{name, sha})
			tipShas = append(tipShas, sha)
		}
	}
	tips, err := x.git.tips(ctx, dir, tipShas)
	if err != nil {
		return gitFailure(err)
	}
	for _, b := range keyed {
		t := tips[b.sha]
		for _, key := range Keys(b.name, known) {
			update.Branches = append(update.Branches, relay.IndexedBranch{Name: b.name, IssueKey: key, SHA: b.sha,
				Message: t.message, Author: t.author, CommitAt: t.at, UpdatedAt: now})
		}
	}
	// A repository cloned again on this replica with refs it had already
	// read elsewhere has not changed.
	update.Changed = d != s.TipsDigest
	update.NextPollAt = NextPoll(now, s.LastChangedAt)
	if update.Changed {
		update.NextPollAt = NextPoll(now, now)
	}
	update.DiskBytes = diskUsage(dir)
	hooks, err := x.tell(ctx, s, update.Commits, update.Branches, nil)
	if err != nil {
		return err
	}
	_, err = x.c.Store.SaveIndex(ctx, update, hooks...)
	return err
}

// tell asks Config.Tell what to write in the transaction that saves what
// a read found naming issues (nothing when nothing does).
func (x *Indexer) tell(ctx context.Context, s relay.IndexState, commits []relay.IndexedCommit, branches []relay.IndexedBranch, prs []relay.IndexedPullRequest) ([]TxHook, error) {
	if x.c.Tell == nil || len(commits)+len(branches)+len(prs) == 0 {
		return nil, nil
	}
	hook, err := x.c.Tell(ctx, s, commits, branches, prs)
	if err != nil || hook == nil {
		return nil, err
	}
	return []TxHook{hook}, nil
}

// heads are the branches of refs: name → tip.
func heads(refs map[string]string) map[string]string {
	out := map[string]string{}
	for ref, sha := range refs {
		if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			out[name] = sha
		}
	}
	return out
}

// sync clones the repository, or fetches into its clone, through the
// gateway.
func (x *Indexer) sync(ctx context.Context, remote relay.GitRemote, dir string) error {
	url, run, closeRun := x.gw.open(remote, x.c.MaxFetchBytes)
	defer closeRun()
	var err error
	if cloned(dir) {
		err = x.git.fetch(ctx, url, remote.URL, dir)
	} else {
		err = x.git.clone(ctx, url, remote.URL, dir)
	}
	if gwErr := run.failure(); gwErr != nil {
		return gwErr
	}
	if err != nil {
		return gitFailure(err)
	}
	return nil
}

// gitFailure words a git failure for the administrator.
func gitFailure(err error) error {
	var ge *gitError
	if errors.As(err, &ge) {
		return relay.Errorf(relay.EHostError, "git could not read the repository: %s", redactGateway(ge.msg))
	}
	return err
}

// redactGateway replaces the run's loopback address in git's words by what
// it stands for.
func redactGateway(msg string) string {
	for {
		i := strings.Index(msg, "http://127.0.0.1:")
		if i < 0 {
			return msg
		}
		end := strings.IndexAny(msg[i:], " '\"")
		if end < 0 {
			end = len(msg) - i
		}
		msg = msg[:i] + "the repository" + msg[i+end:]
	}
}
