package relay

import (
	"strings"
	"time"
)

// ChooseIdentity decides whose credential performs a write action (create
// branch, delete branch, create pull request) on an integration, following
// product rule 2:
//
//   - Require User PAT on: only the user's own PAT, never the integration
//     credential. No PAT, or one known to be expired, revoked or short of a
//     scope, refuses the action with the matching user_token_* code.
//   - Require User PAT off: the user's PAT when they saved one (a user may
//     always act as themselves), else the integration credential. A saved PAT
//     known to be unusable refuses the action rather than silently acting as
//     the integration account, which would misattribute it.
//   - Hosts without PATs (TFS 2013/2015) under Require User PAT: refused with
//     pat_not_supported.
//
// tok is nil when the user saved no PAT. The returned error carries only the
// code and a message; the caller adds links.
func ChooseIdentity(in Integration, caps Capabilities, tok *UserToken, now time.Time) (Via, error) {
	if in.RequireUserPAT && !caps.PAT {
		return "", Errorf(EPATNotSupported,
			"%s requires each user's personal access token, but this server version has no personal access tokens. An administrator must untick Require User PAT or upgrade the server.", in.Name)
	}
	if tok == nil {
		if in.RequireUserPAT {
			return "", Errorf(EUserTokenRequired,
				"%s requires your own personal access token for this action. Set one up in User settings, then try again.", in.Name)
		}
		return ViaIntegration, nil
	}
	switch tok.StatusAt(now) {
	case TokenExpired:
		return "", Errorf(EUserTokenExpired,
			"Your personal access token for %s has expired. Create a new token and update it in User settings.", in.Name)
	case TokenRevoked:
		return "", Errorf(EUserTokenRevoked,
			"Your personal access token for %s was revoked or is no longer accepted by the host. Create a new token and update it in User settings.", in.Name)
	case TokenInsufficientScope:
		return "", Errorf(EUserTokenInsufficientScope,
			"Your personal access token for %s lacks a permission this action needs. Create a token with the scopes shown in User settings and update it.", in.Name)
	}
	return ViaUserToken, nil
}

// MissingScope returns the first required scope alternative that have does
// not satisfy (joined with " or "), or "" when every requirement is met.
// A nil have means the host did not report scopes: nothing can be said, so
// nothing is missing.
func MissingScope(required [][]string, have []string) string {
	if have == nil {
		return ""
	}
	set := make(map[string]bool, len(have))
	for _, s := range have {
		set[strings.TrimSpace(s)] = true
	}
	for _, alts := range required {
		ok := false
		for _, a := range alts {
			if set[a] {
				ok = true
				break
			}
		}
		if !ok && len(alts) > 0 {
			return strings.Join(alts, " or ")
		}
	}
	return ""
}
