package jira

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/jobs"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// Queued operations.
const (
	opUpsertBranch      = "upsert_branch"
	opUpsertPullRequest = "upsert_pull_request"
	opDeleteBranch      = "delete_branch"
)

// Jira's limits on one bulk request.
const (
	maxEntitiesPerRepository = 400 // of each type
	maxEntitiesPerRequest    = 1000
	maxEntityIDLength        = 1024
)

// branchOp and pullRequestOp are the queued payloads: what gitrelay knew
// when the action happened. Repository URLs and head commits are looked up
// when the push is sent.
type branchOp struct {
	IssueKey      string    `json:"issue_key"`
	IntegrationID string    `json:"integration_id"`
	RepositoryID  string    `json:"repository_id"`
	Repository    string    `json:"repository"`
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	Login         string    `json:"login"`
	At            time.Time `json:"at"`
}

type pullRequestOp struct {
	IssueKey      string    `json:"issue_key"`
	IntegrationID string    `json:"integration_id"`
	RepositoryID  string    `json:"repository_id"`
	Repository    string    `json:"repository"`
	Number        int       `json:"number"`
	Title         string    `json:"title"`
	URL           string    `json:"url"`
	Source        string    `json:"source"`
	Target        string    `json:"target"`
	Login         string    `json:"login"`
	At            time.Time `json:"at"`
}

// Store is what the Jira integration keeps; *store.DB implements it.
type Store interface {
	Integration(ctx context.Context, tenantID, id string) (relay.Integration, error)

	PutJiraInstallation(ctx context.Context, in store.JiraInstallation, sealedSystemToken []byte) error
	JiraInstallation(ctx context.Context, tenantID string) (store.JiraInstallation, error)
	JiraInstallationsByCloud(ctx context.Context, cloudID string) ([]store.JiraInstallation, error)
	JiraSystemToken(ctx context.Context, tenantID string) ([]byte, time.Time, error)
	DeleteJiraTenant(ctx context.Context, tenantID string) error

	PutJiraGrant(ctx context.Context, g store.JiraGrant) error
	JiraGrant(ctx context.Context, tenantID, accountID string) (store.JiraGrant, error)
	DeleteJiraGrant(ctx context.Context, tenantID, accountID string) error

	EnqueueDevinfo(ctx context.Context, op store.DevinfoOp, minSequence int64, hooks ...store.TxHook) (store.DevinfoOp, error)
	EnqueueDevinfoTx(ctx context.Context, tx *sql.Tx, op store.DevinfoOp, minSequence int64) (store.DevinfoOp, error)
	DueDevinfo(ctx context.Context, now time.Time, limit int) ([]store.DevinfoOp, error)
	DueDevinfoTenants(ctx context.Context, now time.Time) ([]string, error)
	ClaimDevinfo(ctx context.Context, tenantID string, now time.Time, lease time.Duration, limit int) ([]store.DevinfoOp, error)
	ReleaseDevinfo(ctx context.Context, tenantID string, ids []string) error
	QueuedDevinfo(ctx context.Context, tenantID string, limit int) ([]store.DevinfoOp, error)
	CompleteDevinfo(ctx context.Context, tenantID string, ids []string, failures []store.DevinfoFailure) error
	RetryDevinfo(ctx context.Context, tenantID string, ids []string, at time.Time, reason string) error
	DevinfoFailures(ctx context.Context, tenantID string, limit int) ([]store.DevinfoFailure, error)
}

// HostReader reads from the git host what development information shows:
// a repository and its branches' heads, as the integration account (it
// never acts for a user here). *action.Service implements it, so that only
// the action path opens credentials.
type HostReader interface {
	BranchHeads(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error)
}

// HostReaderFunc is a HostReader, for wiring a pusher before the action
// service it reports for exists.
type HostReaderFunc func(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error)

// BranchHeads calls f.
func (f HostReaderFunc) BranchHeads(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error) {
	return f(ctx, tenantID, integrationID, repositoryID, names)
}

// DevinfoConfig is what the development information pusher needs.
type DevinfoConfig struct {
	Store Store
	// Sealer opens the Jira app's system token.
	Sealer relay.Sealer
	// Hosts reads a branch's head commit and its repository's web URL.
	Hosts      HostReader
	HTTPClient *http.Client
	// PublicURL is gitrelay's public URL, for createPullRequestUrl.
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
	// Interval between sweeps of the queue for ops due again (default
	// 10s); a new event is pushed at once.
	Interval time.Duration
}

// Devinfo queues every branch and pull request created or deleted through
// gitrelay for Jira tenants and pushes the queue to Jira's development
// information API. It is the store's RecordHooks: each change is queued in
// the transaction that records it and completes its audit row, so a
// completed write is never left untold (its EventSink methods queue in a
// transaction of their own, for callers outside the action path).
//
// The queue (devinfo_queue) is the ordered outbox; background jobs
// (UseJobs) push it. Each queued op enqueues, in the same transaction, a
// devinfo_push job for its tenant, of which at most one is queued or
// running at a time across every replica; the job claims the tenant's due
// ops (ClaimDevinfo) and pushes them, so each op reaches Jira once and in
// the tenant's order. A devinfo_sweep job, every Interval on one replica,
// enqueues the push of tenants whose ops came due again (retries after a
// failure or Retry-After, ops queued while their tenant's push was ending,
// claims left by a process that died).
type Devinfo struct {
	store     Store
	sealer    relay.Sealer
	hosts     HostReader
	jira      *client
	publicURL string
	log       *slog.Logger
	now       func() time.Time
	interval  time.Duration
	jobs      *jobs.Runner
}

// pushTimeout bounds one devinfo_push job, far shorter than the job
// engine's default: a replica killed mid-push holds its claim on the
// tenant's ops until the claim ends, and Jira must not wait minutes for
// the changes it held. A job stops taking new batches after half of it;
// the sweep enqueues the rest.
const pushTimeout = 2 * time.Minute

// claimLease is how long a push holds its claim on a tenant's ops: longer
// than a push job may run, so a claim never ends while its push still
// runs, and short enough that a push whose process died is taken over
// soon after.
const claimLease = pushTimeout + 30*time.Second

// ClaimTakeover is the least time after a replica died mid-push before
// another replica may push the ops it held again: their claim was made at
// most pushTimeout before, and lasts claimLease. An op Jira had accepted
// from the dead push and whose acceptance was not yet recorded is then
// pushed a second time, at the same updateSequenceId, which Jira ignores.
const ClaimTakeover = claimLease - pushTimeout

// DevinfoPushArgs is the job pushing one tenant's due ops to Jira.
type DevinfoPushArgs struct {
	TenantID string `json:"tenant_id"`
	// Swept marks the push the sweep enqueues. It is unique apart from
	// the one a queued op enqueues, and per minute, so that a push job
	// left running by a process that died (which the job engine gives up
	// on only after its longest job's timeout) does not keep the sweep
	// from taking over the tenant's ops once their claim ended. The claim
	// keeps concurrent pushes from sending the same ops.
	Swept bool `json:"swept,omitempty"`
}

// Kind names the job.
func (DevinfoPushArgs) Kind() string { return "devinfo_push" }

// DevinfoSweepArgs is the periodic job enqueueing the push of every tenant
// with due ops.
type DevinfoSweepArgs struct{}

// Kind names the job.
func (DevinfoSweepArgs) Kind() string { return "devinfo_sweep" }

type devinfoPushWorker struct {
	river.WorkerDefaults[DevinfoPushArgs]
	d *Devinfo
}

// Timeout bounds the job (pushTimeout).
func (w *devinfoPushWorker) Timeout(*river.Job[DevinfoPushArgs]) time.Duration { return pushTimeout }

// Work pushes the tenant's due ops until none is left due, or half its
// time is spent (the sweep enqueues the rest).
func (w *devinfoPushWorker) Work(ctx context.Context, j *river.Job[DevinfoPushArgs]) error {
	start := time.Now()
	for time.Since(start) < pushTimeout/2 {
		n, err := w.d.PushTenant(ctx, j.Args.TenantID)
		if err != nil || n == 0 {
			return err
		}
	}
	return nil
}

type devinfoSweepWorker struct {
	river.WorkerDefaults[DevinfoSweepArgs]
	d *Devinfo
}

// Work enqueues a push for every tenant with due, unclaimed ops.
func (w *devinfoSweepWorker) Work(ctx context.Context, _ *river.Job[DevinfoSweepArgs]) error {
	tenants, err := w.d.store.DueDevinfoTenants(ctx, w.d.now())
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := w.d.jobs.Enqueue(ctx, DevinfoPushArgs{TenantID: t, Swept: true}, jobs.OnePerArgsPer(time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

// UseJobs makes r push the queue: it registers the push and sweep jobs,
// and every op queued from now on enqueues its tenant's push. Call it
// before r starts.
func (d *Devinfo) UseJobs(r *jobs.Runner) {
	d.jobs = r
	jobs.Register(r, &devinfoPushWorker{d: d})
	jobs.Register(r, &devinfoSweepWorker{d: d})
	r.Every(d.interval, DevinfoSweepArgs{})
}

// Nudge looks at once for ops due (after the hourly trigger has stored a
// fresh system token, which waiting ops may need).
func (d *Devinfo) Nudge(ctx context.Context) {
	if d.jobs == nil {
		return
	}
	if err := d.jobs.Enqueue(ctx, DevinfoSweepArgs{}, jobs.OnePerArgs()); err != nil {
		d.log.ErrorContext(ctx, "looking for development information due for Jira", "err", err)
	}
}

var _ action.EventSink = (*Devinfo)(nil)

// NewDevinfo builds the queue and its pusher.
func NewDevinfo(c DevinfoConfig) *Devinfo {
	d := &Devinfo{store: c.Store, sealer: c.Sealer, hosts: c.Hosts,
		jira: &client{http: c.HTTPClient}, publicURL: strings.TrimRight(c.PublicURL, "/"), log: c.Logger,
		now: c.Now, interval: c.Interval}
	if d.jira.http == nil {
		d.jira.http = defaultHTTPClient()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.interval <= 0 {
		d.interval = 10 * time.Second
	}
	return d
}

// BranchCreated queues the branch for Jira.
func (d *Devinfo) BranchCreated(ctx context.Context, b relay.BranchRecord) {
	d.enqueue(ctx, b.TenantID, opUpsertBranch, branchOp{IssueKey: b.IssueKey, IntegrationID: b.IntegrationID,
		RepositoryID: b.RepositoryID, Repository: b.Repository, Name: b.Name, URL: b.URL, Login: b.ActedAs.Login, At: b.CreatedAt})
}

// BranchDeleted queues the branch's removal from Jira.
func (d *Devinfo) BranchDeleted(ctx context.Context, b relay.BranchRecord) {
	d.enqueue(ctx, b.TenantID, opDeleteBranch, branchOp{IssueKey: b.IssueKey, IntegrationID: b.IntegrationID,
		RepositoryID: b.RepositoryID, Repository: b.Repository, Name: b.Name, Login: b.ActedAs.Login, At: b.CreatedAt})
}

// PullRequestCreated queues the pull request for Jira.
func (d *Devinfo) PullRequestCreated(ctx context.Context, pr relay.PullRequestRecord) {
	d.enqueue(ctx, pr.TenantID, opUpsertPullRequest, pullRequestOp{IssueKey: pr.IssueKey, IntegrationID: pr.IntegrationID,
		RepositoryID: pr.RepositoryID, Repository: pr.Repository, Number: pr.Number, Title: pr.Title, URL: pr.URL,
		Source: pr.Source, Target: pr.Target, Login: pr.ActedAs.Login, At: pr.CreatedAt})
}

var _ store.RecordHooks = (*Devinfo)(nil)

// Wants says which tenants' records are queued for Jira: those of Jira
// installations (the built-in directory has no Jira to tell).
func (d *Devinfo) Wants(tenantID string) bool { return tenantID != relay.LocalTenant }

// BranchRecorded queues the branch for Jira, in the transaction that
// records it (see store.RecordHooks).
func (d *Devinfo) BranchRecorded(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error {
	return d.enqueueTx(ctx, tx, b.TenantID, opUpsertBranch, branchOp{IssueKey: b.IssueKey, IntegrationID: b.IntegrationID,
		RepositoryID: b.RepositoryID, Repository: b.Repository, Name: b.Name, URL: b.URL, Login: b.ActedAs.Login, At: b.CreatedAt})
}

// BranchForgotten queues the branch's removal from Jira, in the
// transaction that forgets it.
func (d *Devinfo) BranchForgotten(ctx context.Context, tx *sql.Tx, b relay.BranchRecord) error {
	return d.enqueueTx(ctx, tx, b.TenantID, opDeleteBranch, branchOp{IssueKey: b.IssueKey, IntegrationID: b.IntegrationID,
		RepositoryID: b.RepositoryID, Repository: b.Repository, Name: b.Name, Login: b.ActedAs.Login, At: b.CreatedAt})
}

// PullRequestRecorded queues the pull request for Jira, in the
// transaction that records it.
func (d *Devinfo) PullRequestRecorded(ctx context.Context, tx *sql.Tx, pr relay.PullRequestRecord) error {
	return d.enqueueTx(ctx, tx, pr.TenantID, opUpsertPullRequest, pullRequestOp{IssueKey: pr.IssueKey, IntegrationID: pr.IntegrationID,
		RepositoryID: pr.RepositoryID, Repository: pr.Repository, Number: pr.Number, Title: pr.Title, URL: pr.URL,
		Source: pr.Source, Target: pr.Target, Login: pr.ActedAs.Login, At: pr.CreatedAt})
}

// enqueueTx queues an op per payload, in order, and the job that pushes
// them, in tx.
func (d *Devinfo) enqueueTx(ctx context.Context, tx *sql.Tx, tenantID, op string, payloads ...any) error {
	if !d.Wants(tenantID) || len(payloads) == 0 {
		return nil
	}
	for _, payload := range payloads {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		if _, err := d.store.EnqueueDevinfoTx(ctx, tx, store.DevinfoOp{TenantID: tenantID, Op: op, Payload: b, CreatedAt: d.now()}, d.now().UnixMilli()); err != nil {
			return err
		}
	}
	if d.jobs != nil {
		return d.jobs.EnqueueTx(ctx, tx, DevinfoPushArgs{TenantID: tenantID}, jobs.OnePerArgs())
	}
	return nil
}

func (d *Devinfo) enqueue(ctx context.Context, tenantID, op string, payload any) {
	if tenantID == relay.LocalTenant {
		// The built-in directory has no Jira to tell.
		return
	}
	b, err := json.Marshal(payload)
	if err == nil {
		// The action already happened at the host: the queue must take it
		// even when the request that caused it is being cancelled.
		ctx = context.WithoutCancel(ctx)
		var hooks []store.TxHook
		if d.jobs != nil {
			// The op and the job that pushes it commit together.
			hooks = append(hooks, func(ctx context.Context, tx *sql.Tx) error {
				return d.jobs.EnqueueTx(ctx, tx, DevinfoPushArgs{TenantID: tenantID}, jobs.OnePerArgs())
			})
		}
		_, err = d.store.EnqueueDevinfo(ctx, store.DevinfoOp{TenantID: tenantID, Op: op, Payload: b, CreatedAt: d.now()}, d.now().UnixMilli(), hooks...)
	}
	if err != nil {
		d.log.ErrorContext(ctx, "queueing development information for Jira", "tenant", tenantID, "op", op, "err", err)
	}
}

// pushBatch is how many queued ops one push takes.
const pushBatch = 500

// PushOnce pushes one batch of the tenant whose oldest due op is the
// oldest (see PushTenant); the jobs push by tenant, tests and tools
// drain the queue with it.
func (d *Devinfo) PushOnce(ctx context.Context) (int, error) {
	ops, err := d.store.DueDevinfo(ctx, d.now(), 1)
	if err != nil || len(ops) == 0 {
		return 0, err
	}
	return d.PushTenant(ctx, ops[0].TenantID)
}

// PushTenant claims one batch of the tenant's due ops, sends it, and
// returns how many ops it handled (sent, postponed or recorded as
// failed): none when nothing is due or another push holds the tenant's
// claim.
func (d *Devinfo) PushTenant(ctx context.Context, tenant string) (handled int, err error) {
	now := d.now()
	ops, err := d.store.ClaimDevinfo(ctx, tenant, now, claimLease, pushBatch)
	if err != nil || len(ops) == 0 {
		return 0, err
	}
	defer func() {
		if err != nil {
			// Stopped before telling Jira (shutdown, database error): the
			// ops go back to the queue at once rather than when the claim
			// ends. Ops already completed or postponed are unaffected.
			if rerr := d.store.ReleaseDevinfo(context.WithoutCancel(ctx), tenant, opIDs(ops)); rerr != nil {
				d.log.ErrorContext(ctx, "releasing development information not pushed", "tenant", tenant, "err", rerr)
			}
		}
	}()
	inst, err := d.store.JiraInstallation(ctx, tenant)
	if relay.ErrorCode(err) == relay.ENotFound {
		// Uninstalled meanwhile: nobody to tell.
		return len(ops), d.store.CompleteDevinfo(ctx, tenant, opIDs(ops), nil)
	}
	if err != nil {
		return 0, err
	}
	token, err := d.systemToken(ctx, tenant)
	if err != nil {
		return len(ops), d.store.RetryDevinfo(ctx, tenant, opIDs(ops), now.Add(5*time.Minute),
			"Jira has not sent a current system token yet; waiting for the next trigger")
	}
	var upserts, deletes []store.DevinfoOp
	for _, op := range ops {
		if op.Op == opDeleteBranch {
			deletes = append(deletes, op)
		} else {
			upserts = append(upserts, op)
		}
	}
	if err := d.pushUpserts(ctx, inst, token, upserts); err != nil {
		return 0, err
	}
	if err := d.pushDeletes(ctx, inst, token, deletes); err != nil {
		return 0, err
	}
	return len(ops), nil
}

func (d *Devinfo) systemToken(ctx context.Context, tenant string) (string, error) {
	sealed, _, err := d.store.JiraSystemToken(ctx, tenant)
	if err != nil {
		return "", err
	}
	b, err := d.sealer.Open(sealed, store.JiraSystemTokenOwner(tenant))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Devinfo wire types (Jira's development information API).
type devRepository struct {
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	URL              string           `json:"url"`
	UpdateSequenceID int64            `json:"updateSequenceId"`
	Commits          []any            `json:"commits"`
	Branches         []devBranch      `json:"branches"`
	PullRequests     []devPullRequest `json:"pullRequests"`
}

type devAuthor struct {
	Name string `json:"name"`
}

type devCommit struct {
	ID               string    `json:"id"`
	IssueKeys        []string  `json:"issueKeys"`
	UpdateSequenceID int64     `json:"updateSequenceId"`
	Hash             string    `json:"hash"`
	Message          string    `json:"message"`
	Author           devAuthor `json:"author"`
	FileCount        int       `json:"fileCount"`
	URL              string    `json:"url"`
	AuthorTimestamp  string    `json:"authorTimestamp"`
	DisplayID        string    `json:"displayId"`
}

type devBranch struct {
	ID                   string    `json:"id"`
	IssueKeys            []string  `json:"issueKeys"`
	UpdateSequenceID     int64     `json:"updateSequenceId"`
	Name                 string    `json:"name"`
	LastCommit           devCommit `json:"lastCommit"`
	URL                  string    `json:"url"`
	CreatePullRequestURL string    `json:"createPullRequestUrl"`
}

type devPullRequest struct {
	ID                string    `json:"id"`
	IssueKeys         []string  `json:"issueKeys"`
	UpdateSequenceID  int64     `json:"updateSequenceId"`
	Status            string    `json:"status"`
	Title             string    `json:"title"`
	Author            devAuthor `json:"author"`
	CommentCount      int       `json:"commentCount"`
	SourceBranch      string    `json:"sourceBranch"`
	SourceBranchURL   string    `json:"sourceBranchUrl,omitempty"`
	DestinationBranch string    `json:"destinationBranch"`
	LastUpdate        string    `json:"lastUpdate"`
	Reviewers         []any     `json:"reviewers"`
	URL               string    `json:"url"`
	DisplayID         string    `json:"displayId"`
}

type devBulk struct {
	Repositories       []*devRepository  `json:"repositories"`
	PreventTransitions bool              `json:"preventTransitions"`
	OperationType      string            `json:"operationType"`
	Properties         map[string]string `json:"properties"`
}

type devEntityFailure struct {
	ID            string `json:"id"`
	ErrorMessages []struct {
		Message string `json:"message"`
	} `json:"errorMessages"`
}

type devBulkAnswer struct {
	FailedDevinfoEntities map[string]struct {
		ErrorMessages []struct {
			Message string `json:"message"`
		} `json:"errorMessages"`
		Branches     []devEntityFailure `json:"branches"`
		PullRequests []devEntityFailure `json:"pullRequests"`
		Commits      []devEntityFailure `json:"commits"`
	} `json:"failedDevinfoEntities"`
	UnknownIssueKeys []string `json:"unknownIssueKeys"`
}

// entry is a queued op turned into a devinfo entity.
type entry struct {
	op     store.DevinfoOp
	repoID string
	branch *devBranch
	pr     *devPullRequest
	commit *devCommit // indexed commits only (devinfo_index.go)
	keys   []string
}

// repoKey identifies a repository of an integration.
type repoKey struct{ integration, repository string }

func (d *Devinfo) pushUpserts(ctx context.Context, inst store.JiraInstallation, token string, ops []store.DevinfoOp) error {
	if len(ops) == 0 {
		return nil
	}
	// Group by repository, so that each repository is looked up once.
	groups := map[repoKey][]store.DevinfoOp{}
	var order []repoKey
	repos := map[string]*devRepository{}
	var entries []entry
	for _, op := range ops {
		if op.Op == opUpsertIndexed {
			es, repo, err := d.indexedEntries(op)
			if err != nil {
				if err := d.fail(ctx, inst.TenantID, []store.DevinfoOp{op}, "the queued entry cannot be read"); err != nil {
					return err
				}
				continue
			}
			repos[repo.ID] = repo
			entries = append(entries, es...)
			continue
		}
		var k repoKey
		var probe struct {
			IntegrationID string `json:"integration_id"`
			RepositoryID  string `json:"repository_id"`
		}
		_ = json.Unmarshal(op.Payload, &probe)
		k = repoKey{probe.IntegrationID, probe.RepositoryID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], op)
	}
	for _, k := range order {
		es, repo, err := d.entries(ctx, inst.TenantID, k, groups[k])
		if err != nil {
			if e, ok := relay.AsError(err); ok && e.Code == relay.ENotFound {
				// The integration or repository is gone: Jira cannot be
				// told anything useful about it any more.
				if err := d.fail(ctx, inst.TenantID, groups[k], e.Message); err != nil {
					return err
				}
				continue
			}
			d.log.WarnContext(ctx, "looking up a repository for Jira", "tenant", inst.TenantID, "err", err)
			if err := d.retry(ctx, inst.TenantID, groups[k], 0, "reading the repository from the host failed: "+relay.ErrorMessage(err)); err != nil {
				return err
			}
			continue
		}
		repos[repo.ID] = repo
		entries = append(entries, es...)
	}
	for _, chunk := range chunks(entries) {
		if err := d.sendBulk(ctx, inst, token, repos, chunk); err != nil {
			return err
		}
	}
	return nil
}

// entries builds the devinfo entities of one repository's ops, reading the
// repository's web URL and the branches' head commits from the host.
func (d *Devinfo) entries(ctx context.Context, tenant string, k repoKey, ops []store.DevinfoOp) ([]entry, *devRepository, error) {
	var names []string
	for _, op := range ops {
		if op.Op == opUpsertBranch {
			var b branchOp
			if err := json.Unmarshal(op.Payload, &b); err != nil {
				return nil, nil, fmt.Errorf("queued branch: %w", err)
			}
			names = append(names, b.Name)
		}
	}
	repo, heads, err := d.hosts.BranchHeads(ctx, tenant, k.integration, k.repository, names)
	if err != nil {
		return nil, nil, err
	}
	dr := &devRepository{ID: EntityID(k.integration + "/" + repo.ID), Name: repo.FullName, URL: repo.WebURL,
		Commits: []any{}, Branches: []devBranch{}, PullRequests: []devPullRequest{}}
	var out []entry
	for _, op := range ops {
		e := entry{op: op, repoID: dr.ID}
		switch op.Op {
		case opUpsertBranch:
			var b branchOp
			if err := json.Unmarshal(op.Payload, &b); err != nil {
				return nil, nil, fmt.Errorf("queued branch: %w", err)
			}
			head, ok := heads[b.Name]
			if !ok {
				// Deleted before we could tell Jira: the delete that
				// follows in the queue says the rest.
				e.keys = []string{b.IssueKey}
				e.branch = nil
				out = append(out, e)
				continue
			}
			e.keys = []string{b.IssueKey}
			e.branch = d.branchEntity(b, head, op.Sequence)
		case opUpsertPullRequest:
			var p pullRequestOp
			if err := json.Unmarshal(op.Payload, &p); err != nil {
				return nil, nil, fmt.Errorf("queued pull request: %w", err)
			}
			e.keys = []string{p.IssueKey}
			e.pr = &devPullRequest{ID: strconv.Itoa(p.Number), IssueKeys: e.keys, UpdateSequenceID: op.Sequence,
				Status: "OPEN", Title: p.Title, Author: devAuthor{Name: p.Login}, SourceBranch: p.Source,
				DestinationBranch: p.Target, LastUpdate: p.At.UTC().Format(time.RFC3339), Reviewers: []any{},
				URL: p.URL, DisplayID: "#" + strconv.Itoa(p.Number)}
		}
		out = append(out, e)
	}
	return out, dr, nil
}

func (d *Devinfo) branchEntity(b branchOp, head relay.Branch, seq int64) *devBranch {
	url := b.URL
	if url == "" {
		url = head.URL
	}
	at := b.At.UTC().Format(time.RFC3339)
	return &devBranch{
		ID: EntityID(b.Name), IssueKeys: []string{b.IssueKey}, UpdateSequenceID: seq, Name: b.Name, URL: url,
		// gitrelay knows the head commit's id only (it created the branch
		// there); the message says so rather than invent one.
		LastCommit: devCommit{ID: head.SHA, IssueKeys: []string{b.IssueKey}, UpdateSequenceID: seq, Hash: head.SHA,
			Message: "Head of " + b.Name + " when gitrelay created the branch", Author: devAuthor{Name: b.Login},
			URL: url, AuthorTimestamp: at, DisplayID: relay.ShortSHA(head.SHA)},
		CreatePullRequestURL: d.createPullRequestURL(b),
	}
}

// createPullRequestURL opens gitrelay's Create pull request dialog for the
// branch, so that the pull request is created with the right identity.
func (d *Devinfo) createPullRequestURL(b branchOp) string {
	q := url.Values{"create": {"pull-request"}, "integration_id": {b.IntegrationID},
		"repository_id": {b.RepositoryID}, "source": {b.Name}}
	return d.publicURL + "/issues/" + url.PathEscape(b.IssueKey) + "?" + q.Encode()
}

// chunks splits entries into bulk requests within Jira's limits: at most
// maxEntitiesPerRepository of each type per repository and
// maxEntitiesPerRequest entities in all.
func chunks(entries []entry) [][]entry {
	var out [][]entry
	var cur []entry
	type count struct{ branches, prs, commits int }
	counts := map[string]*count{}
	total := 0
	for i, e := range entries {
		c := counts[e.repoID]
		if c == nil {
			c = &count{}
			counts[e.repoID] = c
		}
		// An indexed op's entities (at most indexedOpEntities) stay in one
		// request: the request completes or retries whole ops.
		var full bool
		switch {
		case e.op.Op != opUpsertIndexed:
			full = total >= maxEntitiesPerRequest ||
				(e.branch != nil && c.branches >= maxEntitiesPerRepository) ||
				(e.pr != nil && c.prs >= maxEntitiesPerRepository)
		case i == 0 || entries[i-1].op.ID != e.op.ID:
			need := 1
			for j := i + 1; j < len(entries) && entries[j].op.ID == e.op.ID; j++ {
				need++
			}
			full = len(cur) > 0 && (total+need > maxEntitiesPerRequest || c.branches+need > maxEntitiesPerRepository ||
				c.prs+need > maxEntitiesPerRepository || c.commits+need > maxEntitiesPerRepository)
		}
		if full {
			out = append(out, cur)
			cur, total = nil, 0
			counts = map[string]*count{}
			c = &count{}
			counts[e.repoID] = c
		}
		cur = append(cur, e)
		total++
		if e.branch != nil {
			c.branches++
		}
		if e.pr != nil {
			c.prs++
		}
		if e.commit != nil {
			c.commits++
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (d *Devinfo) sendBulk(ctx context.Context, inst store.JiraInstallation, token string, repos map[string]*devRepository, chunk []entry) error {
	body := devBulk{OperationType: "NORMAL", PreventTransitions: false, Properties: map[string]string{"gitrelay": "1"}}
	byRepo := map[string]*devRepository{}
	var sendable []entry
	var skipped []string
	for _, e := range chunk {
		if e.branch == nil && e.pr == nil && e.commit == nil {
			skipped = append(skipped, e.op.ID)
			continue
		}
		r := byRepo[e.repoID]
		if r == nil {
			src := repos[e.repoID]
			r = &devRepository{ID: src.ID, Name: src.Name, URL: src.URL, Commits: []any{}, Branches: []devBranch{}, PullRequests: []devPullRequest{}}
			byRepo[e.repoID] = r
			body.Repositories = append(body.Repositories, r)
		}
		r.UpdateSequenceID = max(r.UpdateSequenceID, e.op.Sequence)
		switch {
		case e.branch != nil:
			r.Branches = append(r.Branches, *e.branch)
		case e.commit != nil:
			r.Commits = append(r.Commits, *e.commit)
		default:
			r.PullRequests = append(r.PullRequests, *e.pr)
		}
		sendable = append(sendable, e)
	}
	if len(skipped) > 0 {
		if err := d.store.CompleteDevinfo(ctx, inst.TenantID, skipped, nil); err != nil {
			return err
		}
	}
	if len(sendable) == 0 {
		return nil
	}
	var ans devBulkAnswer
	_, err := d.jira.do(ctx, http.MethodPost, strings.TrimRight(inst.APIBaseURL, "/")+"/rest/devinfo/0.10/bulk", token, body, &ans)
	var se *statusError
	switch {
	case err == nil:
		return d.store.CompleteDevinfo(ctx, inst.TenantID, entryIDs(sendable), failuresOf(ans, sendable))
	case errors.As(err, &se) && se.Status == http.StatusRequestEntityTooLarge:
		if len(sendable) == 1 {
			return d.store.CompleteDevinfo(ctx, inst.TenantID, entryIDs(sendable),
				[]store.DevinfoFailure{failure(sendable[0], "Jira refused the entity as too large (413)")})
		}
		half := len(sendable) / 2
		if err := d.sendBulk(ctx, inst, token, repos, sendable[:half]); err != nil {
			return err
		}
		return d.sendBulk(ctx, inst, token, repos, sendable[half:])
	case errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Status >= 500):
		return d.retry(ctx, inst.TenantID, entryOps(sendable), se.RetryAfter, fmt.Sprintf("Jira answered %d; retrying", se.Status))
	case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
		return d.retry(ctx, inst.TenantID, entryOps(sendable), 5*time.Minute,
			fmt.Sprintf("Jira refused the app's system token (%d); waiting for a new one from the next trigger", se.Status))
	case errors.As(err, &se):
		// A 400 will not get better by retrying: record it for the
		// administrators.
		var fs []store.DevinfoFailure
		for _, e := range sendable {
			fs = append(fs, failure(e, fmt.Sprintf("Jira refused the request (%d): %s", se.Status, orUnsaid(se.Said))))
		}
		return d.store.CompleteDevinfo(ctx, inst.TenantID, entryIDs(sendable), fs)
	default:
		return d.retry(ctx, inst.TenantID, entryOps(sendable), 0, "Jira did not answer; retrying")
	}
}

func failuresOf(ans devBulkAnswer, sent []entry) []store.DevinfoFailure {
	var out []store.DevinfoFailure
	byID := map[string]entry{}
	for _, e := range sent {
		switch {
		case e.branch != nil:
			byID[e.repoID+"\x00branch\x00"+e.branch.ID] = e
		case e.commit != nil:
			byID[e.repoID+"\x00commit\x00"+e.commit.ID] = e
		default:
			byID[e.repoID+"\x00pull_request\x00"+e.pr.ID] = e
		}
	}
	repoIDs := make([]string, 0, len(ans.FailedDevinfoEntities))
	for id := range ans.FailedDevinfoEntities {
		repoIDs = append(repoIDs, id)
	}
	sort.Strings(repoIDs)
	for _, repoID := range repoIDs {
		f := ans.FailedDevinfoEntities[repoID]
		for _, m := range f.ErrorMessages {
			out = append(out, store.DevinfoFailure{EntityType: "repository", EntityID: repoID, RepositoryID: repoID, IssueKeys: []string{}, Reason: m.Message})
		}
		for typ, list := range map[string][]devEntityFailure{"branch": f.Branches, "pull_request": f.PullRequests, "commit": f.Commits} {
			for _, ef := range list {
				var msgs []string
				for _, m := range ef.ErrorMessages {
					msgs = append(msgs, m.Message)
				}
				keys := []string{}
				if e, ok := byID[repoID+"\x00"+typ+"\x00"+ef.ID]; ok {
					keys = e.keys
				}
				out = append(out, store.DevinfoFailure{EntityType: typ, EntityID: ef.ID, RepositoryID: repoID, IssueKeys: keys,
					Reason: strings.Join(msgs, "; ")})
			}
		}
	}
	for _, k := range ans.UnknownIssueKeys {
		out = append(out, store.DevinfoFailure{EntityType: "issue_key", EntityID: k, IssueKeys: []string{k},
			Reason: "Jira does not know issue " + k + "; the development information is not shown on it"})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].EntityType < out[j].EntityType })
	return out
}

func failure(e entry, reason string) store.DevinfoFailure {
	f := store.DevinfoFailure{RepositoryID: e.repoID, IssueKeys: e.keys, Reason: reason}
	if e.branch != nil {
		f.EntityType, f.EntityID = "branch", e.branch.ID
	} else if e.pr != nil {
		f.EntityType, f.EntityID = "pull_request", e.pr.ID
	} else if e.commit != nil {
		f.EntityType, f.EntityID = "commit", e.commit.ID
	}
	return f
}

func (d *Devinfo) pushDeletes(ctx context.Context, inst store.JiraInstallation, token string, ops []store.DevinfoOp) error {
	for _, op := range ops {
		var b branchOp
		if err := json.Unmarshal(op.Payload, &b); err != nil {
			return fmt.Errorf("queued branch delete: %w", err)
		}
		repoID := EntityID(b.IntegrationID + "/" + b.RepositoryID)
		u := strings.TrimRight(inst.APIBaseURL, "/") + "/rest/devinfo/0.10/repository/" + url.PathEscape(repoID) +
			"/branch/" + url.PathEscape(EntityID(b.Name)) + "?_updateSequenceId=" + strconv.FormatInt(op.Sequence, 10)
		_, err := d.jira.do(ctx, http.MethodDelete, u, token, nil, nil)
		var se *statusError
		switch {
		case err == nil, errors.As(err, &se) && se.Status == http.StatusNotFound:
			if err := d.store.CompleteDevinfo(ctx, inst.TenantID, []string{op.ID}, nil); err != nil {
				return err
			}
		case errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden):
			if err := d.retry(ctx, inst.TenantID, []store.DevinfoOp{op}, 5*time.Minute,
				fmt.Sprintf("Jira refused the app's system token (%d)", se.Status)); err != nil {
				return err
			}
		case errors.As(err, &se) && se.Status < 500 && se.Status != http.StatusTooManyRequests:
			if err := d.store.CompleteDevinfo(ctx, inst.TenantID, []string{op.ID}, []store.DevinfoFailure{{
				EntityType: "branch", EntityID: EntityID(b.Name), RepositoryID: repoID, IssueKeys: []string{b.IssueKey},
				Reason: fmt.Sprintf("Jira refused the deletion (%d): %s", se.Status, orUnsaid(se.Said))}}); err != nil {
				return err
			}
		default:
			var after time.Duration
			if se != nil {
				after = se.RetryAfter
			}
			if err := d.retry(ctx, inst.TenantID, []store.DevinfoOp{op}, after, "deleting from Jira failed; retrying"); err != nil {
				return err
			}
		}
	}
	return nil
}

// retry postpones ops: after Retry-After when Jira said, otherwise with
// exponential backoff from 10 seconds to an hour.
func (d *Devinfo) retry(ctx context.Context, tenant string, ops []store.DevinfoOp, after time.Duration, reason string) error {
	if len(ops) == 0 {
		return nil
	}
	if after <= 0 {
		after = 10 * time.Second << min(ops[0].Attempts, 9)
		after = min(after, time.Hour)
	}
	return d.store.RetryDevinfo(ctx, tenant, opIDs(ops), d.now().Add(after), reason)
}

func (d *Devinfo) fail(ctx context.Context, tenant string, ops []store.DevinfoOp, reason string) error {
	var fs []store.DevinfoFailure
	for _, op := range ops {
		var probe struct {
			IssueKey      string `json:"issue_key"`
			IntegrationID string `json:"integration_id"`
			RepositoryID  string `json:"repository_id"`
			Name          string `json:"name"`
			Number        int    `json:"number"`
		}
		_ = json.Unmarshal(op.Payload, &probe)
		f := store.DevinfoFailure{EntityType: "branch", EntityID: EntityID(probe.Name),
			RepositoryID: EntityID(probe.IntegrationID + "/" + probe.RepositoryID), IssueKeys: []string{probe.IssueKey}, Reason: reason}
		if op.Op == opUpsertPullRequest {
			f.EntityType, f.EntityID = "pull_request", strconv.Itoa(probe.Number)
		}
		fs = append(fs, f)
	}
	return d.store.CompleteDevinfo(ctx, tenant, opIDs(ops), fs)
}

func opIDs(ops []store.DevinfoOp) []string {
	ids := make([]string, len(ops))
	for i, op := range ops {
		ids[i] = op.ID
	}
	return ids
}

func entryIDs(es []entry) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.op.ID
	}
	return ids
}

func entryOps(es []entry) []store.DevinfoOp {
	ops := make([]store.DevinfoOp, len(es))
	for i, e := range es {
		ops[i] = e.op
	}
	return ops
}

// EntityID turns a name into a valid devinfo entity id: the characters
// [A-Za-z0-9.-_] stay, every other byte (and '~' itself, so that the
// encoding cannot collide) becomes '~' and two hex digits. Ids that would
// exceed Jira's 1024 characters become '~h' and the name's SHA-256.
func EntityID(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('~')
			b.WriteString(hex.EncodeToString([]byte{c}))
		}
	}
	if b.Len() > maxEntityIDLength {
		sum := sha256.Sum256([]byte(name))
		return "~h" + hex.EncodeToString(sum[:])
	}
	return b.String()
}

// orUnsaid is what a Jira error answer said, or a phrase saying it did not.
func orUnsaid(said string) string {
	if said == "" {
		return "no reason given"
	}
	return said
}
