package action

import (
	"context"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// MaxReconcileAttempts bounds how often reconciliation asks about one
// write whose outcome the host would not tell (unreachable, busy, refused
// credential) before completing it as unknown.
const MaxReconcileAttempts = 5

// reconcileBatch bounds the writes one ReconcilePending pass looks at.
const reconcileBatch = 500

// Reconciled counts what one ReconcilePending pass did.
type Reconciled struct {
	Succeeded, Failed, Unknown int
	// Deferred writes are asked about again on the next pass.
	Deferred int
}

// ReconcilePending completes host writes left pending (see writeAhead) for
// longer than olderThan, normally the host timeout: by then the process
// that sent them is gone, or its call has timed out. For each it asks the
// host whether the branch, pull request or webhook (reconcileHook) is
// there, and completes the
// attempt as succeeded (restoring the record that lists it on the issue),
// failed, or, when the host cannot tell, unknown with the reason, after
// MaxReconcileAttempts tries. It reads with the identity that acted when
// that was the requester's own token, otherwise with the integration
// account; it never opens one user's token for another.
func (s *Service) ReconcilePending(ctx context.Context, olderThan time.Duration) (Reconciled, error) {
	ctx, span := startSpan(ctx, "action.reconcile_pending")
	defer span.End()
	var r Reconciled
	ws, err := s.store.PendingHostWrites(ctx, s.now().Add(-olderThan), reconcileBatch)
	if err != nil {
		return r, err
	}
	for _, w := range ws {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		outcome, err := s.reconcile(ctx, w)
		if err != nil {
			return r, err
		}
		switch outcome {
		case relay.OutcomeSuccess:
			r.Succeeded++
		case relay.OutcomeFailed:
			r.Failed++
		case relay.OutcomeUnknown:
			r.Unknown++
		default:
			r.Deferred++
		}
	}
	return r, nil
}

// reconcile settles one pending write and returns its outcome, or
// OutcomePending when it was deferred. Errors are the store's.
func (s *Service) reconcile(ctx context.Context, w relay.HostWrite) (string, error) {
	ev := w.Event
	ev.Completes = true
	in, err := s.store.Integration(ctx, ev.TenantID, ev.IntegrationID)
	if relay.ErrorCode(err) == relay.ENotFound {
		return s.unknown(ctx, ev, "The integration was deleted before the outcome could be checked on the host.")
	}
	if err != nil {
		return "", err
	}
	hc, err := s.reader(ctx, ev, in)
	if err != nil {
		return s.deferOrUnknown(ctx, w, "The host could not be asked: "+relay.ErrorMessage(err))
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	repo, err := hc.Repository(hctx, w.RepositoryID)
	if err != nil {
		return s.deferOrUnknown(ctx, w, "The host could not be asked about repository "+ev.Repository+": "+relay.ErrorMessage(err))
	}
	if ev.Action == relay.ActionWebhookRegister {
		return s.reconcileHook(ctx, w, hc, repo)
	}
	var (
		exists bool
		rerr   error
		branch relay.Branch
		pr     relay.PullRequest
	)
	switch ev.Action {
	case relay.ActionBranchCreate, relay.ActionBranchDelete:
		branch, rerr = hc.Branch(hctx, repo, ev.Ref)
	case relay.ActionPullRequestCreate:
		pr, rerr = hc.FindPullRequest(hctx, repo, ev.Ref, w.Target)
	default:
		return s.unknown(ctx, ev, "gitrelay cannot check this action on the host.")
	}
	switch {
	case rerr == nil:
		exists = true
	case relay.ErrorCode(rerr) != relay.ENotFound:
		return s.deferOrUnknown(ctx, w, "The host could not tell whether the write happened: "+relay.ErrorMessage(rerr))
	}

	p := relay.Principal{TenantID: ev.TenantID, UserID: ev.UserID, Username: ev.Username}
	switch {
	case ev.Action == relay.ActionBranchCreate && exists:
		ev.Detail = "Completed after an interruption: the branch exists on the host."
		rec := relay.BranchRecord{ID: relay.NewID(), TenantID: ev.TenantID, IssueKey: ev.IssueKey, IntegrationID: in.ID,
			RepositoryID: repo.ID, Repository: repo.FullName, Name: branch.Name, URL: branch.URL,
			ActedAs: relay.ActedAs{Via: ev.Via, Login: ev.Login}, CreatedBy: ev.Username, CreatedAt: ev.At}
		if err := s.store.RecordBranch(ctx, rec, s.succeed(ev)); err != nil {
			return "", err
		}
		if s.events != nil {
			s.events.BranchCreated(ctx, rec)
		}
		return relay.OutcomeSuccess, nil
	case ev.Action == relay.ActionBranchDelete && !exists:
		ev.Detail = "Completed after an interruption: the branch no longer exists on the host."
		if err := s.store.ForgetBranch(ctx, p.TenantID, in.ID, repo.ID, ev.Ref, s.succeed(ev)); err != nil {
			return "", err
		}
		if s.events != nil {
			s.events.BranchDeleted(ctx, relay.BranchRecord{TenantID: p.TenantID, IssueKey: ev.IssueKey, IntegrationID: in.ID,
				RepositoryID: repo.ID, Repository: repo.FullName, Name: ev.Ref, ActedAs: relay.ActedAs{Via: ev.Via, Login: ev.Login},
				CreatedBy: ev.Username, CreatedAt: ev.At})
		}
		return relay.OutcomeSuccess, nil
	case ev.Action == relay.ActionPullRequestCreate && exists:
		ev.Detail = "Completed after an interruption: the pull request is open on the host."
		rec := relay.PullRequestRecord{ID: relay.NewID(), TenantID: ev.TenantID, IssueKey: ev.IssueKey, IntegrationID: in.ID,
			RepositoryID: repo.ID, Repository: repo.FullName, Number: pr.Number, Title: pr.Title, URL: pr.URL,
			Source: ev.Ref, Target: w.Target, Draft: pr.Draft, ActedAs: relay.ActedAs{Via: ev.Via, Login: ev.Login},
			CreatedBy: ev.Username, CreatedAt: ev.At}
		if err := s.store.RecordPullRequest(ctx, rec, s.succeed(ev)); err != nil {
			return "", err
		}
		if s.events != nil {
			s.events.PullRequestCreated(ctx, rec)
		}
		return relay.OutcomeSuccess, nil
	}
	what := map[string]string{
		relay.ActionBranchCreate:      "the branch does not exist on the host",
		relay.ActionBranchDelete:      "the branch still exists on the host",
		relay.ActionPullRequestCreate: "no open pull request from " + ev.Ref + " to " + w.Target + " exists on the host",
	}[ev.Action]
	ev.Outcome, ev.ErrorCode = relay.OutcomeFailed, ""
	ev.Detail = "Interrupted before the host answered; " + what + ", so the write did not happen."
	s.emit(ev)
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return "", err
	}
	return relay.OutcomeFailed, nil
}

// reader is a client to ask the host about ev: the requester's own token
// when it acted (and still opens), otherwise the integration account.
func (s *Service) reader(ctx context.Context, ev relay.AuditEvent, in relay.Integration) (relay.HostClient, error) {
	if ev.Via == relay.ViaUserToken {
		p := relay.Principal{TenantID: ev.TenantID, UserID: ev.UserID, Username: ev.Username}
		tok, err := s.store.UserToken(ctx, p.TenantID, p.UserID, in.ID)
		if err == nil {
			act, err := s.identity(ctx, p, in, &tok, ev.IssueKey)
			if err == nil && act.Via == relay.ViaUserToken {
				return act.client, nil
			}
		}
	}
	return s.integrationClient(ctx, in)
}

// deferOrUnknown counts an attempt that could not learn w's outcome, and
// completes it as unknown once MaxReconcileAttempts are spent.
func (s *Service) deferOrUnknown(ctx context.Context, w relay.HostWrite, reason string) (string, error) {
	if w.Attempts+1 >= MaxReconcileAttempts {
		ev := w.Event
		ev.Completes = true
		return s.unknown(ctx, ev, fmt.Sprintf("%s (asked %d times)", reason, w.Attempts+1))
	}
	if err := s.store.DeferHostWrite(ctx, w.Event.TenantID, w.Event.ID, reason); err != nil {
		return "", err
	}
	return relay.OutcomePending, nil
}

// unknown completes ev as unknown, with the reason.
func (s *Service) unknown(ctx context.Context, ev relay.AuditEvent, reason string) (string, error) {
	ev.Outcome, ev.ErrorCode, ev.Detail = relay.OutcomeUnknown, "", reason
	s.emit(ev)
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return "", err
	}
	return relay.OutcomeUnknown, nil
}

// BranchHeads reads, as the integration account, a repository and the
// heads of the named branches; a branch missing on the host is absent
// from the map. It is for telling the issue tracker about branches, never
// for acting, and lets the tracker's code do without credentials.
func (s *Service) BranchHeads(ctx context.Context, tenantID, integrationID, repositoryID string, names []string) (relay.Repository, map[string]relay.Branch, error) {
	ctx, span := startSpan(ctx, "action.branch_heads")
	defer span.End()
	in, err := s.store.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return relay.Repository{}, nil, err
	}
	hc, err := s.integrationClient(ctx, in)
	if err != nil {
		return relay.Repository{}, nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	repo, err := hc.Repository(hctx, repositoryID)
	if err != nil {
		return relay.Repository{}, nil, err
	}
	heads := make(map[string]relay.Branch, len(names))
	for _, name := range names {
		b, err := hc.Branch(hctx, repo, name)
		switch {
		case err == nil:
			heads[name] = b
		case relay.ErrorCode(err) != relay.ENotFound:
			return relay.Repository{}, nil, err
		}
	}
	return repo, heads, nil
}
