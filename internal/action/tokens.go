package action

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// TokenView is a user's PAT state for one integration, as User settings
// shows it. It never holds the secret.
type TokenView struct {
	IntegrationID   string
	IntegrationName string
	Kind            relay.Kind
	Required        bool
	PATSupported    bool
	Status          relay.TokenStatus
	// StatusReason says why the status is what it is when the user could
	// not guess: a token gitrelay deleted because the integration now
	// points at another host.
	StatusReason string
	Account      *relay.Account
	ExpiresAt    *time.Time
	ValidatedAt  time.Time
	NewTokenURL  string
	Help         string
}

// MyTokens lists the user's PAT state for every integration they can see.
func (s *Service) MyTokens(ctx context.Context, p relay.Principal) ([]TokenView, error) {
	ins, err := s.Integrations(ctx, p)
	if err != nil {
		return nil, err
	}
	toks, err := s.store.UserTokens(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	byIntegration := make(map[string]relay.UserToken, len(toks))
	for _, t := range toks {
		byIntegration[t.IntegrationID] = t
	}
	notices, err := s.tokenNotices(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]TokenView, 0, len(ins))
	for _, in := range ins {
		var tok *relay.UserToken
		if t, ok := byIntegration[in.ID]; ok {
			tok = &t
		}
		out = append(out, s.tokenView(in, tok, notices[in.ID]))
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i].IntegrationName) < strings.ToLower(out[j].IntegrationName)
	})
	return out, nil
}

// MyToken is one entry of MyTokens.
func (s *Service) MyToken(ctx context.Context, p relay.Principal, integrationID string) (TokenView, error) {
	in, err := s.Integration(ctx, p, integrationID)
	if err != nil {
		return TokenView{}, err
	}
	notices, err := s.tokenNotices(ctx, p)
	if err != nil {
		return TokenView{}, err
	}
	t, err := s.store.UserToken(ctx, p.TenantID, p.UserID, in.ID)
	switch relay.ErrorCode(err) {
	case "":
		return s.tokenView(in, &t, notices[in.ID]), nil
	case relay.ENotFound:
		return s.tokenView(in, nil, notices[in.ID]), nil
	}
	return TokenView{}, err
}

// tokenNotices maps integration ids to why gitrelay deleted the user's
// token for them.
func (s *Service) tokenNotices(ctx context.Context, p relay.Principal) (map[string]string, error) {
	list, err := s.store.TokenNotices(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, n := range list {
		out[n.IntegrationID] = n.Reason
	}
	return out, nil
}

// usableToken is the user's saved token as the integration can use it
// now: nil, with the reason, when the token was validated against another
// host than the one the integration points at (or gitrelay cannot tell
// which), since a token is only ever sent to the host it was validated
// against. notice is why gitrelay deleted an earlier token, if it did.
func usableToken(tok *relay.UserToken, origin, notice string) (*relay.UserToken, string) {
	switch {
	case tok == nil:
		return nil, notice
	case tok.Origin == "":
		return nil, "gitrelay could not confirm which server this token was validated against; save it again."
	case tok.Origin != origin:
		return nil, "This token was validated against another server than the one the integration points at now; save a new token."
	}
	return tok, ""
}

func (s *Service) tokenView(in relay.Integration, tok *relay.UserToken, notice string) TokenView {
	caps := s.hosts.Capabilities(in.HostConfig())
	v := TokenView{
		IntegrationID: in.ID, IntegrationName: in.Name, Kind: in.Kind, Required: in.RequireUserPAT,
		PATSupported: caps.PAT, Status: relay.TokenMissing, Help: caps.TokenHelp,
	}
	if !caps.PAT {
		v.Status = relay.TokenUnsupported
		v.Help = "This server version has no personal access tokens."
		return v
	}
	v.NewTokenURL = s.hosts.NewTokenURL(in.HostConfig(), "gitrelay")
	tok, v.StatusReason = usableToken(tok, s.hosts.Origin(in.HostConfig()), notice)
	if tok != nil {
		acct := tok.Account
		v.Account, v.ExpiresAt, v.ValidatedAt = &acct, acct.ExpiresAt, tok.ValidatedAt
		v.Status = tok.StatusAt(s.now())
	}
	return v
}

// SaveToken validates a PAT against the host (identity, scopes, expiry) and
// saves it sealed for this user and integration. A token that cannot create
// branches and pull requests is refused with the reason.
func (s *Service) SaveToken(ctx context.Context, p relay.Principal, integrationID string, cred relay.Credential) (TokenView, error) {
	ctx, span := startSpan(ctx, "action.save_token")
	defer span.End()
	ev := s.event(p, relay.ActionTokenSave, "", integrationID)
	ev.Via = relay.ViaUserToken
	in, err := s.Integration(ctx, p, integrationID)
	if err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	caps := s.hosts.Capabilities(in.HostConfig())
	if !caps.PAT {
		return TokenView{}, s.fail(ctx, ev, nil, relay.Errorf(relay.EPATNotSupported,
			"%s runs a server version without personal access tokens, so no token can be saved for it.", in.Name))
	}
	cred = cred.Trimmed()
	if cred.IsZero() {
		return TokenView{}, s.fail(ctx, ev, nil, invalid(map[string]string{"token": "Paste your personal access token."}))
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	var acct relay.Account
	client, err := s.hosts.Client(in.HostConfig(), cred)
	if err == nil {
		acct, err = client.Validate(hctx)
	}
	switch e, _ := relay.AsError(err); relay.ErrorCode(err) {
	case relay.ECredentialRejected:
		err = &relay.Error{Code: relay.ETokenInvalid, Err: err, Message: fmt.Sprintf(
			"%s rejected this token: it is invalid, expired or revoked. Check that you copied all of it, or create a new one.", in.Name)}
	case relay.EScopeMissing:
		// The host itself said the token lacks a scope while validating.
		err = &relay.Error{Code: relay.ETokenInsufficientScope, Scope: e.Scope, Err: err,
			NewTokenURL: s.hosts.NewTokenURL(in.HostConfig(), "gitrelay"),
			Message:     fmt.Sprintf("This token lacks a permission that creating branches and pull requests needs%s. %s", scopeSuffix(e.Scope), caps.TokenHelp)}
	}
	if err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	ev.Login = acct.Login
	if acct.ExpiresAt != nil && !s.now().Before(*acct.ExpiresAt) {
		return TokenView{}, s.fail(ctx, ev, nil, relay.Errorf(relay.ETokenExpired,
			"This token expired on %s. Create a new token and save it.", acct.ExpiresAt.UTC().Format("2006-01-02")))
	}
	if missing := relay.MissingScope(caps.RequiredScopes, acct.Scopes); missing != "" {
		return TokenView{}, s.fail(ctx, ev, nil, &relay.Error{Code: relay.ETokenInsufficientScope, Scope: missing,
			NewTokenURL: s.hosts.NewTokenURL(in.HostConfig(), "gitrelay"),
			Message:     fmt.Sprintf("This token lacks the %s scope, which creating branches and pull requests needs. %s", missing, caps.TokenHelp)})
	}
	// Bound to the host it was just validated against: should the
	// integration move meanwhile, the token never opens for the new host.
	origin := s.hosts.Origin(in.HostConfig())
	sealed, err := relay.SealCredential(s.sealer, cred, relay.UserTokenOwner(p.TenantID, p.UserID, in.ID, origin))
	if err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	now := s.now()
	tok := relay.UserToken{TenantID: p.TenantID, UserID: p.UserID, IntegrationID: in.ID, Account: acct,
		Status: relay.TokenValid, ValidatedAt: now, UpdatedAt: now, Origin: origin, Sealed: sealed}
	ev.Detail = "scopes: " + strings.Join(acct.Scopes, " ")
	if err := s.store.PutUserToken(ctx, tok, s.succeed(ev)); err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	return s.tokenView(in, &tok, ""), nil
}

// RemoveToken deletes the user's PAT for an integration.
func (s *Service) RemoveToken(ctx context.Context, p relay.Principal, integrationID string) error {
	ev := s.event(p, relay.ActionTokenRemove, "", integrationID)
	ev.Via = relay.ViaUserToken
	if _, err := s.Integration(ctx, p, integrationID); err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	if err := s.store.DeleteUserToken(ctx, p.TenantID, p.UserID, integrationID, s.succeed(ev)); err != nil {
		if relay.ErrorCode(err) == relay.ENotFound {
			err = relay.Errorf(relay.ENotFound, "You have no personal access token saved for this integration.")
		}
		return s.fail(ctx, ev, nil, err)
	}
	return nil
}

func scopeSuffix(scope string) string {
	if scope == "" {
		return ""
	}
	return " (" + scope + ")"
}

// bindBatch is how many unbound tokens BindUserTokens reads at a time.
const bindBatch = 100

// BindUserTokens binds the PATs saved before tokens were bound to their
// host's origin (relay.UserTokenOwner), across every tenant; servers run
// it at start-up. A token saved at or after its integration's last change
// was validated against the host the integration points at now: it is
// sealed again for that host's origin. Any other (its integration changed
// since, possibly its host) is deleted, audited as token.dropped, and its
// user is told to save it again: gitrelay cannot tell which host it was
// validated against. A token that does not open (a key missing from this
// server's ring) is left as it is, unusable. It returns how many tokens it
// bound and deleted.
func (s *Service) BindUserTokens(ctx context.Context) (bound, dropped int, err error) {
	var after *relay.UserToken
	for {
		batch, err := s.store.UnboundUserTokens(ctx, after, bindBatch)
		if err != nil {
			return bound, dropped, err
		}
		for _, u := range batch {
			b, d, err := s.bindUserToken(ctx, u)
			if err != nil {
				return bound, dropped, err
			}
			bound, dropped = bound+b, dropped+d
		}
		if len(batch) < bindBatch {
			return bound, dropped, nil
		}
		after = &batch[len(batch)-1].UserToken
	}
}

func (s *Service) bindUserToken(ctx context.Context, u relay.UnboundUserToken) (bound, dropped int, err error) {
	in, err := s.store.Integration(ctx, u.TenantID, u.IntegrationID)
	if err != nil {
		return 0, 0, err
	}
	origin := s.hosts.Origin(in.HostConfig())
	if !u.UpdatedAt.Before(u.IntegrationUpdatedAt) {
		cred, err := relay.OpenCredential(s.sealer, u.Sealed, relay.UserTokenOwner(u.TenantID, u.UserID, u.IntegrationID, ""))
		if err != nil {
			// Not deleted: the server may be missing a key it will have
			// at the next start. Until then the token is unusable.
			s.log.WarnContext(ctx, "a saved personal access token does not open; it stays unusable until it opens at a later start or its user saves it again",
				"tenant", u.TenantID, "integration", u.IntegrationID, "user", u.UserID)
			return 0, 0, nil
		}
		tok := u.UserToken
		tok.Origin = origin
		if tok.Sealed, err = relay.SealCredential(s.sealer, cred, relay.UserTokenOwner(u.TenantID, u.UserID, u.IntegrationID, origin)); err != nil {
			return 0, 0, err
		}
		ok, err := s.store.BindUserToken(ctx, tok, u.Sealed)
		if err != nil || !ok {
			return 0, 0, err
		}
		return 1, 0, nil
	}
	ev := relay.AuditEvent{ID: relay.NewID(), TenantID: u.TenantID, At: s.now(), Action: relay.ActionTokenDropped,
		IntegrationID: u.IntegrationID, Via: relay.ViaUserToken, Outcome: relay.OutcomeSuccess,
		Detail: fmt.Sprintf("Integration %s changed after this token was saved, so gitrelay could not confirm that the token was validated against its current host (%s); the token was deleted.", in.Name, origin)}
	ok, err := s.store.DropUnboundUserToken(ctx, u.UserToken, u.Sealed,
		"The integration changed after you saved this token, so gitrelay could not confirm that it was validated against the integration's current server; save it again.", ev)
	if err != nil || !ok {
		return 0, 0, err
	}
	return 0, 1, nil
}
