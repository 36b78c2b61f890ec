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
	Account         *relay.Account
	ExpiresAt       *time.Time
	ValidatedAt     time.Time
	NewTokenURL     string
	Help            string
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
	out := make([]TokenView, 0, len(ins))
	for _, in := range ins {
		var tok *relay.UserToken
		if t, ok := byIntegration[in.ID]; ok {
			tok = &t
		}
		out = append(out, s.tokenView(in, tok))
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
	t, err := s.store.UserToken(ctx, p.TenantID, p.UserID, in.ID)
	switch relay.ErrorCode(err) {
	case "":
		return s.tokenView(in, &t), nil
	case relay.ENotFound:
		return s.tokenView(in, nil), nil
	}
	return TokenView{}, err
}

func (s *Service) tokenView(in relay.Integration, tok *relay.UserToken) TokenView {
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
	sealed, err := relay.SealCredential(s.sealer, cred, relay.UserTokenOwner(p.TenantID, p.UserID, in.ID))
	if err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	now := s.now()
	tok := relay.UserToken{TenantID: p.TenantID, UserID: p.UserID, IntegrationID: in.ID, Account: acct,
		Status: relay.TokenValid, ValidatedAt: now, UpdatedAt: now, Sealed: sealed}
	ev.Detail = "scopes: " + strings.Join(acct.Scopes, " ")
	if err := s.store.PutUserToken(ctx, tok, s.succeed(ev)); err != nil {
		return TokenView{}, s.fail(ctx, ev, nil, err)
	}
	return s.tokenView(in, &tok), nil
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
