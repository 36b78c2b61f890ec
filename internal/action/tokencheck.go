package action

import (
	"context"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// TokenCheckInterval is how long a saved token goes unchecked at most
// (give or take a run of the check): one check per token a day keeps what
// the check asks of each host to one request per user and integration a
// day.
const TokenCheckInterval = 24 * time.Hour

// TokenChecks counts what one CheckUserTokens run did.
type TokenChecks struct {
	// Checked tokens the host answered for, whatever it said.
	Checked int
	// Marked tokens the host refused, now revoked, expired or lacking a
	// scope.
	Marked int
	// Faults: the host failed or limited the rate; the tokens are as they
	// were.
	Faults int
}

// CheckUserTokens asks the hosts about at most limit saved tokens not
// checked (nor saved) for interval, the longest unchecked first, across
// every tenant. Each token is opened for, and sent to, only the host it
// was validated against (relay.UserTokenOwner with the integration's
// current origin). A token the host refuses is marked as the action path
// marks it when the host refuses it, audited as token.checked, so that
// the user is asked for a new token before an action fails; a host fault
// leaves the token as it is (it is checked again after interval), and a
// host limiting the rate ends the run's checks for that integration (its
// tokens stay due).
func (s *Service) CheckUserTokens(ctx context.Context, limit int, interval time.Duration) (TokenChecks, error) {
	ctx, span := startSpan(ctx, "action.check_user_tokens")
	defer span.End()
	var r TokenChecks
	toks, err := s.store.DueTokenChecks(ctx, s.now().Add(-interval), limit)
	if err != nil {
		return r, err
	}
	type key struct{ tenant, id string }
	integrations := map[key]*relay.Integration{}
	limited := map[key]bool{}
	for _, tok := range toks {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		k := key{tok.TenantID, tok.IntegrationID}
		if limited[k] {
			continue
		}
		in, ok := integrations[k]
		if !ok {
			got, err := s.store.Integration(ctx, tok.TenantID, tok.IntegrationID)
			switch relay.ErrorCode(err) {
			case "":
				in = &got
			case relay.ENotFound:
				// Deleted since: its tokens went with it.
			default:
				return r, err
			}
			integrations[k] = in
		}
		outcome, err := s.checkUserToken(ctx, in, tok)
		if err != nil {
			return r, err
		}
		switch outcome {
		case tokenCheckOK:
			r.Checked++
		case tokenCheckMarked:
			r.Checked++
			r.Marked++
		case tokenCheckFault:
			r.Faults++
		case tokenCheckLimited:
			r.Faults++
			limited[k] = true
		}
	}
	return r, nil
}

type tokenCheckOutcome int

const (
	tokenCheckOK tokenCheckOutcome = iota
	tokenCheckMarked
	tokenCheckFault
	tokenCheckLimited
	tokenCheckSkipped
)

// checkUserToken asks tok's host whether it still works and records the
// answer. in is tok's integration (nil: deleted).
func (s *Service) checkUserToken(ctx context.Context, in *relay.Integration, tok relay.UserToken) (tokenCheckOutcome, error) {
	now := s.now()
	if in == nil {
		return tokenCheckSkipped, nil
	}
	caps := s.hosts.Capabilities(in.HostConfig())
	origin := s.hosts.Origin(in.HostConfig())
	if !in.Enabled || !caps.PAT || tok.Origin != origin {
		// Nothing to ask: a disabled integration calls no host, and a
		// token validated against another host than the integration's is
		// never sent anywhere (the action path already refuses it).
		return tokenCheckSkipped, s.store.TokenChecked(ctx, tok, now)
	}
	cred, err := relay.OpenCredential(s.sealer, tok.Sealed, relay.UserTokenOwner(tok.TenantID, tok.UserID, in.ID, origin))
	if err != nil {
		// A key missing from this server's ring, or an altered row: the
		// action path refuses it and says so; nothing is sent.
		s.log.WarnContext(ctx, "a saved personal access token does not open for its host; not checked",
			"tenant", tok.TenantID, "integration", in.ID, "user", tok.UserID)
		return tokenCheckSkipped, s.store.TokenChecked(ctx, tok, now)
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	client, err := s.hosts.Client(in.HostConfig(), cred)
	var acct relay.Account
	if err == nil {
		acct, err = client.Validate(hctx)
	}
	if ctx.Err() != nil {
		return tokenCheckFault, ctx.Err()
	}
	expired := func(at *time.Time) bool { return at != nil && !now.Before(*at) }
	var status relay.TokenStatus
	var detail string
	switch e, _ := relay.AsError(err); relay.ErrorCode(err) {
	case "":
		switch missing := relay.MissingScope(caps.RequiredScopes, acct.Scopes); {
		case expired(acct.ExpiresAt):
			status, detail = relay.TokenExpired, "the host says it expired on "+acct.ExpiresAt.UTC().Format("2006-01-02")
		case missing != "":
			status, detail = relay.TokenInsufficientScope, "it lacks the "+missing+" scope"
		default:
			return tokenCheckOK, s.store.TokenChecked(ctx, tok, now)
		}
	case relay.ECredentialRejected:
		// As the action path: the host answers alike for both, and the
		// expiry learnt at save time tells them apart.
		status, detail = relay.TokenRevoked, "the host rejected it (revoked or invalid)"
		if expired(tok.Account.ExpiresAt) {
			status, detail = relay.TokenExpired, "the host rejected it and it expired on "+tok.Account.ExpiresAt.UTC().Format("2006-01-02")
		}
	case relay.EScopeMissing:
		status, detail = relay.TokenInsufficientScope, "the host says it lacks a permission"+scopeSuffix(e.Scope)
	case relay.ERateLimited:
		return tokenCheckLimited, nil
	default:
		s.log.InfoContext(ctx, "checking a saved personal access token failed at the host; it is left as it is",
			"tenant", tok.TenantID, "integration", in.ID, "code", relay.ErrorCode(err))
		return tokenCheckFault, s.store.TokenChecked(ctx, tok, now)
	}
	ev := relay.AuditEvent{ID: relay.NewID(), TenantID: tok.TenantID, At: now, Action: relay.ActionTokenChecked,
		IntegrationID: in.ID, Via: relay.ViaUserToken, Outcome: relay.OutcomeSuccess,
		Detail: fmt.Sprintf("gitrelay checked this personal access token with %s (%s): %s; marked %s.", in.Name, origin, detail, status)}
	marked, err := s.store.MarkCheckedToken(ctx, tok, status, now, ev)
	if err != nil || !marked {
		return tokenCheckOK, err
	}
	return tokenCheckMarked, nil
}
