// Package action is gitrelay's action path. Every write a user asks for
// reads top-down the same way:
//
//	authorize → choose identity → record pending → call host → complete audit
//
// (Service.begin is that prologue, shared by every action.) authorize checks the feature switch, View Development Tools on the issue's
// project, the integration's project association and that the integration
// includes the repository (again once the host has named it, before any
// write); choose identity applies
// relay.ChooseIdentity (integration account or the user's own PAT, never a
// fallback when Require User PAT is on); the host is called through the
// adapter registry; and every attempt, refused, failed or successful, is
// audited with the identity that acted. Before each host write the attempt
// is durably recorded as pending (write-ahead), and completed after the
// call; attempts left pending by a process that died in between are
// completed by ReconcilePending, which asks the host what happened.
//
// The package performs no I/O of its own: storage, hosts, secrets and the
// directory come in through relay's interfaces.
package action

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Config is what a Service needs.
type Config struct {
	Store     relay.Store
	Hosts     relay.Hosts
	Sealer    relay.Sealer
	Directory relay.Directory
	Links     relay.Links
	// Now defaults to time.Now.
	Now func() time.Time
	// HostTimeout bounds each host call (default 20s).
	HostTimeout time.Duration
	Logger      *slog.Logger
	// Observe, when set, sees every audit event (for metrics).
	Observe func(relay.AuditEvent)
	// Events, when set, hears about every branch and pull request created
	// or deleted through gitrelay (to tell the issue tracker).
	Events EventSink
}

// EventSink hears about what gitrelay created or deleted, after it is
// recorded. Implementations must not block for long: queue and return.
type EventSink interface {
	BranchCreated(ctx context.Context, b relay.BranchRecord)
	BranchDeleted(ctx context.Context, b relay.BranchRecord)
	PullRequestCreated(ctx context.Context, pr relay.PullRequestRecord)
}

// Service performs user and administrator actions.
type Service struct {
	store       relay.Store
	hosts       relay.Hosts
	sealer      relay.Sealer
	dir         relay.Directory
	links       relay.Links
	now         func() time.Time
	hostTimeout time.Duration
	log         *slog.Logger
	observe     func(relay.AuditEvent)
	events      EventSink
	repoSyncs   repositorySyncs
	// replica names this process's leases (see repositoryReadLeases).
	replica string
	// indexNow starts the reads a re-index request made due (OnReindex).
	indexNow func(ctx context.Context, tenantID, integrationID, repositoryID string) error
	// rateBudget tells an integration account's rate budget
	// (UseRateBudget).
	rateBudget func(tenantID, integrationID string) (IndexBudget, bool)
	// webhooks gives integrations' webhooks to register (UseWebhooks).
	webhooks Webhooks
}

// New builds a Service.
func New(c Config) *Service {
	s := &Service{
		store: c.Store, hosts: c.Hosts, sealer: c.Sealer, dir: c.Directory, links: c.Links,
		now: c.Now, hostTimeout: c.HostTimeout, log: c.Logger, observe: c.Observe, events: c.Events,
		replica: relay.NewID(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hostTimeout <= 0 {
		s.hostTimeout = 20 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// BranchRequest asks for a branch for an issue.
type BranchRequest struct {
	IntegrationID string
	RepositoryID  string
	// Base defaults to the repository's default branch.
	Base string
	// Name defaults to the branch name template.
	Name string
	// Summary and IssueType feed the template (the tracker passes them).
	Summary   string
	IssueType string
}

// BranchResult is a created branch.
type BranchResult struct {
	Name          string
	URL           string
	RepositoryID  string
	Repository    string
	ActedAs       relay.ActedAs
	AlreadyExists bool
}

// CreateBranch creates a branch for an issue.
func (s *Service) CreateBranch(ctx context.Context, p relay.Principal, issueKey string, req BranchRequest) (BranchResult, error) {
	ctx, span := startSpan(ctx, "action.create_branch")
	defer span.End()
	// Authorize and choose identity.
	a, err := s.begin(ctx, p, issueKey, common{action: relay.ActionBranchCreate,
		integrationID: req.IntegrationID, repositoryID: req.RepositoryID, ref: req.Name,
		required: map[string]string{"repository_id": req.RepositoryID}})
	if err != nil {
		return BranchResult{}, err
	}
	defer a.cancel()

	// Call host.
	repo := a.repo
	base := req.Base
	if base == "" {
		base = repo.DefaultBranch
	}
	name := req.Name
	if name == "" {
		name, err = branchname.Render(
			branchname.Options{Template: a.settings.BranchTemplate, Separator: a.settings.Separator, MaxLength: a.settings.MaxBranchLength},
			branchname.Vars{IssueKey: issueKey, Summary: req.Summary, IssueType: req.IssueType,
				ProjectKey: projectOf(issueKey), DisplayName: p.DisplayName, SourceBranch: base})
		if err != nil {
			return BranchResult{}, s.fail(ctx, a.ev, a.act, err)
		}
	}
	a.ev.Ref = name
	if err := branchname.Validate(name, issueKey, a.settings.MaxBranchLength); err != nil {
		return BranchResult{}, s.fail(ctx, a.ev, a.act, err)
	}
	baseBranch, err := a.act.client.Branch(a.hctx, repo, base)
	if err != nil {
		if relay.ErrorCode(err) == relay.ENotFound {
			err = relay.Errorf(relay.EInvalid, "Base branch %q does not exist in %s. Choose an existing branch.", base, repo.FullName)
		}
		return BranchResult{}, s.fail(ctx, a.ev, a.act, err)
	}
	// Record the attempt as pending, then write.
	if err := s.writeAhead(ctx, a, ""); err != nil {
		return BranchResult{}, err
	}
	created, err := a.act.client.CreateBranch(a.hctx, repo, name, baseBranch.SHA)
	already := false
	if relay.ErrorCode(err) == relay.EBranchExists {
		// A repeated request (a double click, or a retry after the host
		// acted but the answer was lost) finds the branch where it asked
		// for it: that is success, not a conflict.
		existing, gerr := a.act.client.Branch(a.hctx, repo, name)
		if gerr == nil && existing.SHA == baseBranch.SHA {
			created, err, already = existing, nil, true
		} else if gerr == nil {
			err = &relay.Error{Code: relay.EBranchExists, URL: existing.URL,
				Message: "A branch named " + name + " already exists in " + repo.FullName + " at another commit. Choose another name, or use the existing branch."}
		}
	}
	if err != nil {
		return BranchResult{}, s.fail(ctx, a.ev, a.act, err)
	}

	// Audit, together with the record that lists the branch on the issue.
	if already {
		a.ev.Detail = "branch already existed at the requested base"
	}
	rec := relay.BranchRecord{
		ID: relay.NewID(), TenantID: p.TenantID, IssueKey: issueKey, IntegrationID: a.in.ID,
		RepositoryID: repo.ID, Repository: repo.FullName, Name: created.Name, URL: created.URL,
		ActedAs: a.act.ActedAs, CreatedBy: p.Username, CreatedAt: s.now(),
	}
	if err := s.store.RecordBranch(ctx, rec, s.succeed(a.ev)); err != nil {
		return BranchResult{}, s.internal(ctx, a.ev, err)
	}
	if s.events != nil {
		s.events.BranchCreated(ctx, rec)
	}
	return BranchResult{Name: created.Name, URL: created.URL, RepositoryID: repo.ID, Repository: repo.FullName,
		ActedAs: a.act.ActedAs, AlreadyExists: already}, nil
}

// DeleteBranchRequest names a branch to delete.
type DeleteBranchRequest struct {
	IntegrationID string
	RepositoryID  string
	Name          string
}

// DeleteBranch deletes one of the issue's branches.
func (s *Service) DeleteBranch(ctx context.Context, p relay.Principal, issueKey string, req DeleteBranchRequest) error {
	ctx, span := startSpan(ctx, "action.delete_branch")
	defer span.End()
	// Authorize and choose identity.
	a, err := s.begin(ctx, p, issueKey, common{action: relay.ActionBranchDelete,
		integrationID: req.IntegrationID, repositoryID: req.RepositoryID, ref: req.Name,
		required: map[string]string{"name": req.Name, "repository_id": req.RepositoryID},
		authorize: func(in relay.Integration) error {
			return s.issueOwnsBranch(ctx, p.TenantID, issueKey, in.ID, req.RepositoryID, req.Name)
		}})
	if err != nil {
		return err
	}
	defer a.cancel()

	// Call host.
	repo := a.repo
	if req.Name == repo.DefaultBranch {
		return s.fail(ctx, a.ev, a.act, relay.Errorf(relay.EForbidden,
			"%s is the default branch of %s and cannot be deleted from an issue.", req.Name, repo.FullName))
	}
	// Record the attempt as pending, then write.
	if err := s.writeAhead(ctx, a, ""); err != nil {
		return err
	}
	err = a.act.client.DeleteBranch(a.hctx, repo, req.Name)
	if relay.ErrorCode(err) == relay.ENotFound {
		// Already gone at the host: stop listing it, and say so.
		if ferr := s.store.ForgetBranch(ctx, p.TenantID, a.in.ID, repo.ID, req.Name, s.failed(a.ev, err)); ferr != nil {
			return s.internal(ctx, a.ev, ferr)
		}
		return relay.Errorf(relay.ENotFound, "Branch %s does not exist in %s (it may have been deleted already).", req.Name, repo.FullName)
	}
	if err != nil {
		return s.fail(ctx, a.ev, a.act, err)
	}

	// Audit.
	if err := s.store.ForgetBranch(ctx, p.TenantID, a.in.ID, repo.ID, req.Name, s.succeed(a.ev)); err != nil {
		return s.internal(ctx, a.ev, err)
	}
	if s.events != nil {
		s.events.BranchDeleted(ctx, relay.BranchRecord{TenantID: p.TenantID, IssueKey: issueKey, IntegrationID: a.in.ID,
			RepositoryID: repo.ID, Repository: repo.FullName, Name: req.Name, ActedAs: a.act.ActedAs, CreatedBy: p.Username, CreatedAt: s.now()})
	}
	return nil
}

// issueOwnsBranch allows deleting only the issue's own branches: named
// after the whole issue key, and recorded for this issue, integration and
// repository when gitrelay created them. An issue is no vehicle for
// deleting arbitrary branches (main, release branches, another project's).
func (s *Service) issueOwnsBranch(ctx context.Context, tenantID, issueKey, integrationID, repositoryID, name string) error {
	if !branchname.NamesIssue(name, issueKey) {
		return relay.Errorf(relay.EForbidden,
			"Only branches of issue %s (names containing the issue key %s) can be deleted from the issue.", issueKey, issueKey)
	}
	recs, err := s.store.IssueBranches(ctx, tenantID, issueKey)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.IntegrationID == integrationID && r.RepositoryID == repositoryID && r.Name == name {
			return nil
		}
	}
	return relay.Errorf(relay.EForbidden,
		"Branch %s is not listed on issue %s: only branches created for the issue through gitrelay can be deleted from it.", name, issueKey)
}

// PullRequestRequest asks for a pull request for an issue.
type PullRequestRequest struct {
	IntegrationID string
	RepositoryID  string
	Source        string
	// Target defaults to the repository's default branch.
	Target string
	// Title defaults to "KEY summary".
	Title       string
	Description string
	Draft       bool
	Summary     string
}

// PullRequestResult is a created pull request.
type PullRequestResult struct {
	Number     int
	URL        string
	Title      string
	Draft      bool
	Repository string
	ActedAs    relay.ActedAs
	// Note tells about an adjustment, e.g. a draft created as a regular
	// pull request because the repository has no drafts.
	Note string
}

// CreatePullRequest creates a pull request for an issue.
func (s *Service) CreatePullRequest(ctx context.Context, p relay.Principal, issueKey string, req PullRequestRequest) (PullRequestResult, error) {
	ctx, span := startSpan(ctx, "action.create_pull_request")
	defer span.End()
	// Authorize and choose identity.
	a, err := s.begin(ctx, p, issueKey, common{action: relay.ActionPullRequestCreate,
		integrationID: req.IntegrationID, repositoryID: req.RepositoryID, ref: req.Source,
		required: map[string]string{"source": req.Source, "repository_id": req.RepositoryID}})
	if err != nil {
		return PullRequestResult{}, err
	}
	defer a.cancel()

	// Call host.
	repo := a.repo
	npr := relay.NewPullRequest{Source: req.Source, Target: req.Target, Title: req.Title,
		Description: req.Description, Draft: req.Draft}
	if npr.Target == "" {
		npr.Target = repo.DefaultBranch
	}
	if npr.Title == "" {
		npr.Title = strings.TrimSpace(issueKey + " " + req.Summary)
	}
	if npr.Source == npr.Target {
		return PullRequestResult{}, s.fail(ctx, a.ev, a.act, invalid(map[string]string{
			"target": "The target branch must differ from the source branch " + npr.Source + "."}))
	}
	note := ""
	if npr.Draft && !a.act.caps.Drafts {
		npr.Draft = false
		note = "This host has no draft pull requests; it was created as a regular pull request."
	}
	// Record the attempt as pending, then write.
	if err := s.writeAhead(ctx, a, npr.Target); err != nil {
		return PullRequestResult{}, err
	}
	pr, err := a.act.client.CreatePullRequest(a.hctx, repo, npr)
	if relay.ErrorCode(err) == relay.EDraftUnsupported {
		npr.Draft = false
		note = "Draft pull requests are not supported in this repository; it was created as a regular pull request."
		pr, err = a.act.client.CreatePullRequest(a.hctx, repo, npr)
	}
	if e, ok := relay.AsError(err); ok && e.Code == relay.EPullRequestExists {
		e.Message = "A pull request from " + npr.Source + " to " + npr.Target + " already exists in " + repo.FullName + "."
	}
	if err != nil {
		return PullRequestResult{}, s.fail(ctx, a.ev, a.act, err)
	}

	// Audit, with the record that lists the pull request on the issue.
	a.ev.Detail = note
	rec := relay.PullRequestRecord{
		ID: relay.NewID(), TenantID: p.TenantID, IssueKey: issueKey, IntegrationID: a.in.ID,
		RepositoryID: repo.ID, Repository: repo.FullName, Number: pr.Number, Title: pr.Title, URL: pr.URL,
		Source: npr.Source, Target: npr.Target, Draft: pr.Draft, ActedAs: a.act.ActedAs,
		CreatedBy: p.Username, CreatedAt: s.now(),
	}
	if err := s.store.RecordPullRequest(ctx, rec, s.succeed(a.ev)); err != nil {
		return PullRequestResult{}, s.internal(ctx, a.ev, err)
	}
	if s.events != nil {
		s.events.PullRequestCreated(ctx, rec)
	}
	return PullRequestResult{Number: pr.Number, URL: pr.URL, Title: pr.Title, Draft: pr.Draft,
		Repository: repo.FullName, ActedAs: a.act.ActedAs, Note: note}, nil
}

// common is what every action names, for begin.
type common struct {
	action        string // relay.Action*
	integrationID string
	repositoryID  string
	ref           string
	// required maps each required field of the request to its value.
	required map[string]string
	// authorize, when set, is the action's own check. It runs once the
	// issue, integration and identity are settled (so that a user without
	// a required token is told how to set one up), before the host is
	// called.
	authorize func(in relay.Integration) error
}

// attempt is an authorized action, ready to call the host as the chosen
// identity within the host timeout. Its audit event is completed by
// s.fail, s.failed or s.succeed.
type attempt struct {
	ev       relay.AuditEvent
	settings relay.Settings
	in       relay.Integration
	act      *actor
	repo     relay.Repository
	hctx     context.Context
	cancel   context.CancelFunc
}

// switches are the General settings that turn each action off.
var switches = map[string]struct {
	on  func(relay.Settings) bool
	off string
}{
	relay.ActionBranchCreate: {func(s relay.Settings) bool { return s.BranchesEnabled },
		"Creating branches is turned off by your administrator (General settings)."},
	relay.ActionBranchDelete: {func(s relay.Settings) bool { return s.BranchesEnabled },
		"Deleting branches is turned off by your administrator (General settings)."},
	relay.ActionPullRequestCreate: {func(s relay.Settings) bool { return s.PullRequestsEnabled },
		"Creating pull requests is turned off by your administrator (General settings)."},
}

// begin is every action's prologue, in one place so that the actions
// cannot drift apart: the feature switch, the required fields, the issue's
// permission and integration, the included repository (as named, and
// again as the host names it), the identity, the action's own check, and
// the repository read from the host as that identity. Any refusal is
// audited and returned ready for the caller; on success the caller must
// call the attempt's cancel.
func (s *Service) begin(ctx context.Context, p relay.Principal, issueKey string, c common) (*attempt, error) {
	a := &attempt{ev: s.event(p, c.action, issueKey, c.integrationID)}
	a.ev.Repository, a.ev.Ref = c.repositoryID, c.ref

	// What the checks below need, read together: one round trip to the
	// database instead of one per item.
	got, err := s.store.ActionReads(ctx, p.TenantID, p.UserID, c.integrationID)
	if relay.ErrorCode(err) == relay.EUnauthenticated {
		// The request's API token, checked with this read
		// (relay.TokenCheck), no longer authenticates: nobody to audit.
		return nil, err
	}
	if err != nil {
		return nil, s.fail(ctx, a.ev, nil, err)
	}

	// Authorize.
	a.settings = got.Settings
	if sw := switches[c.action]; !sw.on(a.settings) {
		return nil, s.fail(ctx, a.ev, nil, relay.Errorf(relay.EForbidden, "%s", sw.off))
	}
	missing := map[string]string{}
	for field, value := range c.required {
		if value == "" {
			missing[field] = "required"
		}
	}
	if len(missing) > 0 {
		return nil, s.fail(ctx, a.ev, nil, invalid(missing))
	}
	if a.in, err = s.authorizeIssue(ctx, p, issueKey, c.integrationID, got); err != nil {
		return nil, s.fail(ctx, a.ev, nil, err)
	}
	if err := notIncluded(a.in, c.repositoryID, ""); err != nil {
		return nil, s.fail(ctx, a.ev, nil, err)
	}

	// Choose identity.
	if a.act, err = s.identity(ctx, p, a.in, got.Token, issueKey); err != nil {
		return nil, s.fail(ctx, a.ev, a.act, err)
	}
	a.ev.Via, a.ev.Login = a.act.Via, a.act.Login
	if c.authorize != nil {
		if err := c.authorize(a.in); err != nil {
			return nil, s.fail(ctx, a.ev, nil, err)
		}
	}

	// The repository, as the host names it to the acting identity. Host
	// calls are bounded by the host timeout, not by the request: a client
	// that goes away must not cut a write off halfway, leaving the host
	// changed and the audit saying otherwise.
	a.hctx, a.cancel = context.WithTimeout(context.WithoutCancel(ctx), s.hostTimeout)
	if a.repo, err = a.act.client.Repository(a.hctx, c.repositoryID); err != nil {
		a.cancel()
		return nil, s.fail(ctx, a.ev, a.act, err)
	}
	a.ev.Repository = a.repo.FullName
	if err := notIncluded(a.in, a.repo.ID, a.repo.FullName); err != nil {
		a.cancel()
		return nil, s.fail(ctx, a.ev, nil, err)
	}
	return a, nil
}

// writeAhead durably records the attempt as pending just before its host
// write (target: a pull request's target branch), so that the write has
// an audit row even if the process dies during the call. Nothing is sent
// to the host when it cannot be recorded. From here on the attempt's
// event completes that row.
func (s *Service) writeAhead(ctx context.Context, a *attempt, target string) error {
	w := relay.HostWrite{Event: a.ev, RepositoryID: a.repo.ID, Target: target}
	w.Event.Outcome = relay.OutcomePending
	if err := s.store.BeginHostWrite(ctx, w); err != nil {
		s.log.ErrorContext(ctx, "recording a host write before sending it", "action", a.ev.Action, "err", err)
		return s.fail(ctx, a.ev, nil, &relay.Error{Code: relay.EInternal, Err: err,
			Message: "gitrelay could not record the action in its audit trail, so it did not send it to the host. Try again later."})
	}
	a.ev.Completes = true
	return nil
}

// authorizeIssue checks that p may act on issueKey's project and that the
// integration (as read in got) is usable there. It answers not_found for
// integrations the user may not know about, so their existence does not
// leak.
func (s *Service) authorizeIssue(ctx context.Context, p relay.Principal, issueKey, integrationID string, got relay.ActionReads) (relay.Integration, error) {
	project, err := branchname.IssueProject(issueKey)
	if err != nil {
		return relay.Integration{}, err
	}
	ok, err := s.dir.CanViewDevTools(ctx, p, project)
	if err != nil {
		return relay.Integration{}, err
	}
	if !ok {
		return relay.Integration{}, relay.Errorf(relay.EForbidden,
			"You do not have the View Development Tools permission on project %s. Ask a project administrator for it.", project)
	}
	if integrationID == "" {
		return relay.Integration{}, invalid(map[string]string{"integration_id": "required"})
	}
	if !got.Found {
		return relay.Integration{}, relay.Errorf(relay.ENotFound, "%s", relay.MsgIntegrationNotFound)
	}
	in := got.Integration
	if !in.AssociatedWith(project) {
		return relay.Integration{}, relay.Errorf(relay.EForbidden,
			"Integration %s is not associated with project %s. An administrator can associate it in the integration's settings.", in.Name, project)
	}
	if !in.Enabled {
		return relay.Integration{}, relay.Errorf(relay.EForbidden,
			"Integration %s is disabled. An administrator can enable it in the integration's settings.", in.Name)
	}
	return in, nil
}

// actor is the identity chosen for an action and a client acting as it.
type actor struct {
	relay.ActedAs
	client relay.HostClient
	caps   relay.Capabilities
	in     relay.Integration
	token  *relay.UserToken // the user's token when it acts
}

// identity chooses whose credential acts (relay.ChooseIdentity) between
// the integration's and tok, the user's saved token for it (nil: none).
// It opens the integration credential only when it acts: under Require
// User PAT it is not even decrypted. The user's PAT is opened with the
// integration's current origin, so it cannot act anywhere but where it
// was validated.
func (s *Service) identity(ctx context.Context, p relay.Principal, in relay.Integration, tok *relay.UserToken, issueKey string) (*actor, error) {
	caps := s.hosts.Capabilities(in.HostConfig())
	// A PAT is only ever sent to the host it was validated against. A
	// saved token that was validated against another origin than the
	// integration's current one, or that does not open for it (its row was
	// altered), is neither opened for nor sent to any host; and, like any
	// saved but unusable token, it refuses the action rather than letting
	// the integration account act in the user's stead.
	origin := s.hosts.Origin(in.HostConfig())
	var patCred relay.Credential
	var err error
	if tok != nil {
		usable, reason := usableToken(tok, origin, "")
		if usable != nil {
			if patCred, err = relay.OpenCredential(s.sealer, tok.Sealed, relay.UserTokenOwner(p.TenantID, p.UserID, in.ID, origin)); err != nil {
				s.log.WarnContext(ctx, "a saved personal access token does not open for the integration's host",
					"integration", in.ID, "user", p.UserID)
				reason = "gitrelay cannot use the token saved for this server; save it again."
			}
		}
		if reason != "" {
			return &actor{in: in, caps: caps}, s.withLinks(&relay.Error{Code: relay.EUserTokenRequired,
				Message: "Your personal access token for " + in.Name + " cannot be used: " + reason + " Update it in User settings."}, in, issueKey)
		}
	}
	via, err := relay.ChooseIdentity(in, caps, tok, s.now())
	if err != nil {
		return &actor{in: in, caps: caps}, s.withLinks(err, in, issueKey)
	}
	act := &actor{in: in, caps: caps}
	var cred relay.Credential
	if via == relay.ViaUserToken {
		cred = patCred
		act.ActedAs = relay.ActedAs{Via: relay.ViaUserToken, Login: tok.Account.Login}
		act.token = tok
	} else {
		var sealed []byte
		sealed, err = s.store.IntegrationCredential(ctx, p.TenantID, in.ID)
		if err == nil {
			cred, err = relay.OpenCredential(s.sealer, sealed, relay.IntegrationSecretOwner(p.TenantID, in.ID))
		}
		act.ActedAs = relay.ActedAs{Via: relay.ViaIntegration, Login: in.Account.Login}
	}
	if err != nil {
		return act, err
	}
	act.client, err = s.hosts.Client(in.HostConfig(), cred)
	return act, err
}

// withLinks adds the setup and new-token links to user_token_* errors.
func (s *Service) withLinks(err error, in relay.Integration, issueKey string) error {
	e, ok := relay.AsError(err)
	if !ok || !strings.HasPrefix(e.Code, "user_token_") {
		return err
	}
	e.SetupURL = s.links.SetupURL(in.ID, issueKey)
	e.NewTokenURL = s.hosts.NewTokenURL(in.HostConfig(), tokenName(issueKey))
	return e
}

// hostError turns an adapter error into what the user is told, depending on
// whose credential the host refused. A refused user PAT is marked on its
// record, and the integration credential is never tried instead.
func (s *Service) hostError(ctx context.Context, p relay.Principal, act *actor, issueKey string, err error) error {
	e, ok := relay.AsError(err)
	if !ok || act == nil || act.Via == "" {
		return err
	}
	switch e.Code {
	case relay.ECredentialRejected, relay.EScopeMissing:
	default:
		return err
	}
	if act.Via == relay.ViaIntegration {
		what := "rejected the integration account's credential (expired, revoked or invalid)"
		if e.Code == relay.EScopeMissing {
			what = "says the integration account lacks a permission for this action"
		}
		return &relay.Error{Code: relay.EHostError, Err: err,
			Message: "The host " + what + " of " + act.in.Name + ". An administrator must update the integration's credential."}
	}
	status, code := relay.TokenRevoked, relay.EUserTokenRevoked
	msg := "Your personal access token for " + act.in.Name + " was rejected by the host (revoked or invalid). Create a new token and update it in User settings."
	if act.token.Account.ExpiresAt != nil && !s.now().Before(*act.token.Account.ExpiresAt) {
		status, code = relay.TokenExpired, relay.EUserTokenExpired
		msg = "Your personal access token for " + act.in.Name + " has expired. Create a new token and update it in User settings."
	}
	if e.Code == relay.EScopeMissing {
		status, code = relay.TokenInsufficientScope, relay.EUserTokenInsufficientScope
		msg = "Your personal access token for " + act.in.Name + " lacks a permission this action needs"
		if e.Scope != "" {
			msg += " (" + e.Scope + ")"
		}
		msg += ". Create a token with the scopes shown in User settings and update it."
	}
	if serr := s.store.SetUserTokenStatus(ctx, p.TenantID, p.UserID, act.in.ID, status, s.now()); serr != nil {
		s.log.ErrorContext(ctx, "recording token status", "err", serr)
	}
	return s.withLinks(&relay.Error{Code: code, Message: msg, Scope: e.Scope, Err: err}, act.in, issueKey)
}

// event starts an audit event for an attempt.
func (s *Service) event(p relay.Principal, action, issueKey, integrationID string) relay.AuditEvent {
	return relay.AuditEvent{
		ID: relay.NewID(), TenantID: p.TenantID, At: s.now(), UserID: p.UserID, Username: p.Username,
		Action: action, IssueKey: issueKey, IntegrationID: integrationID,
	}
}

func (s *Service) succeed(ev relay.AuditEvent) relay.AuditEvent {
	ev.Outcome = relay.OutcomeSuccess
	s.emit(ev)
	return ev
}

func (s *Service) failed(ev relay.AuditEvent, err error) relay.AuditEvent {
	ev.ErrorCode = relay.ErrorCode(err)
	ev.Outcome = outcomeOf(ev.ErrorCode)
	if ev.Completes && ev.Outcome == relay.OutcomeRefused {
		// The write was sent (its pending row says so): whatever the
		// host answered, it was the host that said no, not gitrelay.
		ev.Outcome = relay.OutcomeFailed
	}
	if ev.Detail == "" {
		ev.Detail = relay.ErrorMessage(err)
	}
	s.emit(ev)
	return ev
}

func (s *Service) emit(ev relay.AuditEvent) {
	if s.observe != nil {
		s.observe(ev)
	}
}

// fail translates err for the user, audits the failed attempt and returns
// the translated error.
func (s *Service) fail(ctx context.Context, ev relay.AuditEvent, act *actor, err error) error {
	if act != nil {
		err = s.hostError(ctx, relay.Principal{TenantID: ev.TenantID, UserID: ev.UserID}, act, ev.IssueKey, err)
	}
	if relay.ErrorCode(err) == relay.EInternal {
		s.log.ErrorContext(ctx, "action failed", "action", ev.Action, "err", err)
	}
	if ev.Completes && errors.Is(err, relay.ErrOutcomeUnknown) {
		// The host may have acted: its pending row stays, and
		// reconciliation completes it once it has asked the host.
		s.log.WarnContext(ctx, "a host write's answer was lost; reconciliation will settle it",
			"action", ev.Action, "audit", ev.ID, "err", err)
		return err
	}
	if aerr := s.store.AppendAudit(ctx, s.failed(ev, err)); aerr != nil {
		s.log.ErrorContext(ctx, "recording audit event", "action", ev.Action, "err", aerr)
	}
	return err
}

// internal reports a failure to record a success that already happened at
// the host.
func (s *Service) internal(ctx context.Context, ev relay.AuditEvent, err error) error {
	s.log.ErrorContext(ctx, "recording a completed action", "action", ev.Action, "err", err)
	return err
}

// outcomeOf classifies an error code for the audit trail: refused by
// gitrelay's policy or validation, or failed at the host.
func outcomeOf(code string) string {
	switch {
	case strings.HasPrefix(code, "user_token_"), strings.HasPrefix(code, "token_"),
		code == relay.EForbidden, code == relay.EPATNotSupported, code == relay.EInvalidBranchName,
		code == relay.EInvalid, code == relay.EUnauthenticated:
		return relay.OutcomeRefused
	}
	return relay.OutcomeFailed
}

func invalid(fields map[string]string) error {
	for k, v := range fields {
		if v == "" {
			delete(fields, k)
		}
	}
	return &relay.Error{Code: relay.EInvalid, Message: "Some fields are missing or invalid.", Fields: fields}
}

func projectOf(issueKey string) string {
	p, _ := branchname.IssueProject(issueKey)
	return p
}

// tokenName is the name pre-filled on the host's new-token page.
func tokenName(issueKey string) string {
	if issueKey == "" {
		return "gitrelay"
	}
	return "gitrelay (" + projectOf(issueKey) + ")"
}

func requireAdmin(p relay.Principal) error {
	if !p.Admin {
		return relay.Errorf(relay.EForbidden, "Only administrators can do this.")
	}
	return nil
}
