package action

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Webhooks gives the action path an integration's webhook as hosts must
// deliver it (webhook.Service implements it).
type Webhooks interface {
	// Hook returns the integration's webhook to register: its URL, the
	// events in the host's names, the proof of its secret (made on first
	// use) and when the secret was made. EInvalid for a host kind without
	// verifiable webhooks, or without a public URL to give the host.
	Hook(ctx context.Context, tenantID, integrationID string) (relay.Hook, error)
}

// UseWebhooks connects the webhook service, which is built after the
// Service.
func (s *Service) UseWebhooks(w Webhooks) { s.webhooks = w }

// What registering did on a repository (WebhookRegistration.Outcome).
const (
	HookRegistered = "registered" // the webhook was created on the host
	HookUpdated    = "updated"    // the host's webhook to gitrelay was set again
	HookAlready    = "already"    // it was registered with the current secret: nothing was sent
	HookFailed     = "failed"     // the host refused, or did not confirm; Reason says why
	HookSkipped    = "skipped"    // not tried: the request's time ran out
)

// WebhookRegistration is what registering the webhook did on one
// repository.
type WebhookRegistration struct {
	RepositoryID string
	Repository   string
	Outcome      string
	// Reason says, for failed and skipped, what happened and what to do.
	// It never holds the secret.
	Reason string
}

// RegisterWebhooksBudget bounds how long one RegisterWebhooks starts
// registrations, so that it answers before the server's write timeout
// (60 s) even for many repositories on a slow host. Repositories not
// reached are skipped; registering again continues, since those done
// answer already at the cost of one read each.
const RegisterWebhooksBudget = 40 * time.Second

// RegisterWebhooks registers the integration's webhook on every
// repository the integration indexes (IndexRepositories), as the
// integration account, and says per repository what happened.
// Administrators only. Each registration is a host write, on the action
// path: a pending audit row before the host call, completed with the
// outcome and, on success, with the record of the registration (which
// secret it carries: a hook registered with the current secret is left
// alone next time). Refusals before any host call are audited and
// returned as errors.
func (s *Service) RegisterWebhooks(ctx context.Context, p relay.Principal, integrationID string) ([]WebhookRegistration, error) {
	ctx, span := startSpan(ctx, "action.register_webhooks")
	defer span.End()
	ev := s.event(p, relay.ActionWebhookRegister, "", integrationID)

	// Authorize.
	if err := requireAdmin(p); err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}
	in, err := s.store.Integration(ctx, p.TenantID, integrationID)
	if err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}
	if !in.Enabled {
		return nil, s.fail(ctx, ev, nil, relay.Errorf(relay.EIntegrationDisabled,
			"Integration %s is disabled: enable it before registering its webhook.", in.Name))
	}
	if s.webhooks == nil {
		return nil, s.fail(ctx, ev, nil, relay.Errorf(relay.ENotFound, "This server receives no webhooks."))
	}
	hook, err := s.webhooks.Hook(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}

	// Choose identity: the integration account, whose host kind must
	// register webhooks.
	ev.Via, ev.Login = relay.ViaIntegration, in.Account.Login
	client, err := s.integrationClient(ctx, in)
	if err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}
	hooks, ok := s.hosts.Hooks(client)
	if !ok {
		return nil, s.fail(ctx, ev, nil, relay.Errorf(relay.EInvalid,
			"gitrelay does not register webhooks on %s; copy the webhook's address and secret into the host.", in.Kind))
	}

	// Every repository the index reads, and those already registered
	// with the current secret.
	repos, err := s.IndexRepositories(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}
	earlier, err := s.store.WebhookRegistrations(ctx, p.TenantID, in.ID)
	if err != nil {
		return nil, s.fail(ctx, ev, nil, err)
	}
	current := map[string]bool{}
	for _, r := range earlier {
		current[r.RepositoryID] = r.SecretAt.Equal(hook.SecretAt)
	}

	// Record pending, call host, complete: once per repository.
	budget, cancel := context.WithTimeout(ctx, RegisterWebhooksBudget)
	defer cancel()
	out := make([]WebhookRegistration, 0, len(repos))
	for _, repo := range repos {
		if budget.Err() != nil {
			out = append(out, WebhookRegistration{RepositoryID: repo.ID, Repository: repo.FullName, Outcome: HookSkipped,
				Reason: "Not tried: registering stopped to answer in time. Register again to continue; repositories already done are left as they are."})
			continue
		}
		h := hook
		h.SecretSet = current[repo.ID]
		out = append(out, s.registerHook(ctx, ev, hooks, in, repo, h))
	}
	return out, nil
}

// registerHook registers h on repo as one host write: the pending row,
// the host call, the row completed with the outcome.
func (s *Service) registerHook(ctx context.Context, ev relay.AuditEvent, hooks relay.HookRegistrar, in relay.Integration, repo relay.Repository, h relay.Hook) WebhookRegistration {
	res := WebhookRegistration{RepositoryID: repo.ID, Repository: repo.FullName, Outcome: HookFailed}
	ev.ID, ev.At, ev.Repository = relay.NewID(), s.now(), repo.FullName

	// Record the attempt as pending, then write.
	a := &attempt{ev: ev, repo: repo}
	if err := s.writeAhead(ctx, a, ""); err != nil {
		res.Reason = relay.ErrorMessage(err)
		return res
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.hostTimeout)
	defer cancel()
	change, err := hooks.EnsureHook(hctx, repo, h)
	if err != nil {
		// Audited as failed, or left pending when the answer was lost.
		err = s.fail(ctx, a.ev, nil, withoutSecret(err, h))
		res.Reason = relay.ErrorMessage(err)
		if errors.Is(err, relay.ErrOutcomeUnknown) {
			res.Reason = "The host did not confirm the change: the connection closed before its answer. gitrelay asks the host within a few minutes and completes the audit trail; register again to be sure."
		}
		return res
	}

	// Audit, with the record of which secret the webhook now carries.
	switch change {
	case relay.HookCreated:
		res.Outcome, a.ev.Detail = HookRegistered, "The webhook was created on the host."
	case relay.HookUpdated:
		res.Outcome, a.ev.Detail = HookUpdated, "The host's webhook to gitrelay was set again."
	default:
		res.Outcome, a.ev.Detail = HookAlready, "The webhook was registered with the current secret; nothing was sent."
	}
	reg := relay.WebhookRegistration{TenantID: in.TenantID, IntegrationID: in.ID, RepositoryID: repo.ID,
		Repository: repo.FullName, SecretAt: h.SecretAt, RegisteredAt: s.now()}
	if err := s.store.RecordWebhookRegistration(ctx, reg, s.succeed(a.ev)); err != nil {
		// The host has it; the pending row stays for reconciliation.
		_ = s.internal(ctx, a.ev, err)
	}
	return res
}

// withoutSecret makes sure err's message cannot carry the webhook's
// secret, whatever the host echoed: adapters remove it, and this is the
// last guard before the audit trail and the answer.
func withoutSecret(err error, h relay.Hook) error {
	e, ok := relay.AsError(err)
	if !ok {
		return err
	}
	for _, secret := range []string{h.Secret.Token(), h.Secret.Password()} {
		if secret != "" {
			e.Message = strings.ReplaceAll(e.Message, secret, "[redacted]")
		}
	}
	return e
}

// reconcileHook settles a webhook registration a process left pending, by
// asking the host whether the repository has a webhook delivering to
// gitrelay. Hosts never show a webhook's secret, so a webhook found is
// completed as success but not recorded as carrying the current secret:
// registering again sets it.
func (s *Service) reconcileHook(ctx context.Context, w relay.HostWrite, hc relay.HostClient, repo relay.Repository) (string, error) {
	ev := w.Event
	ev.Completes = true
	hooks, ok := s.hosts.Hooks(hc)
	if !ok || s.webhooks == nil {
		return s.unknown(ctx, ev, "gitrelay cannot check webhooks on this host.")
	}
	hook, err := s.webhooks.Hook(ctx, ev.TenantID, ev.IntegrationID)
	if err != nil {
		return s.unknown(ctx, ev, "gitrelay cannot tell the webhook's address to look for: "+relay.ErrorMessage(err))
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	found, err := hooks.FindHook(hctx, repo, hook.URL)
	switch {
	case err == nil && found.Active:
		ev.Detail = "Completed after an interruption: a webhook delivering to gitrelay is on the host. Hosts do not show a webhook's secret: if its deliveries are refused, register the webhooks again."
		if err := s.store.AppendAudit(ctx, s.succeed(ev)); err != nil {
			return "", err
		}
		return relay.OutcomeSuccess, nil
	case err == nil, relay.ErrorCode(err) == relay.ENotFound:
		ev.Outcome, ev.ErrorCode = relay.OutcomeFailed, ""
		ev.Detail = "Interrupted before the host answered; the host has no active webhook delivering to gitrelay, so the write did not happen."
		s.emit(ev)
		if err := s.store.AppendAudit(ctx, ev); err != nil {
			return "", err
		}
		return relay.OutcomeFailed, nil
	}
	return s.deferOrUnknown(ctx, w, "The host could not tell whether the webhook was registered: "+relay.ErrorMessage(err))
}
