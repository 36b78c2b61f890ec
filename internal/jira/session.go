package jira

import (
	"context"
	"net/url"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// This file lets the web pages keep browser sessions for Jira users who
// signed in with Atlassian: SignIn is the pages' external directory
// (web.External). Jira users have no user row in gitrelay; what a session
// knows of them is its tenant and account, fixed at sign-in, and the grant
// kept for that pair.

// SignInLabel is how the login page names Sign in with Atlassian.
const SignInLabel = "Sign in with Atlassian"

// Principal returns the user of a browser session of tenantID: their
// display name as Atlassian gave it at sign-in, and whether they administer
// Jira on that site (asked of Jira as the user, cached like every
// permission). It fails with ENotFound when the account has no grant in
// that tenant any more (signed out, or the site disconnected gitrelay), and
// with EUnauthenticated when Atlassian no longer honours the grant: either
// way the session no longer stands.
func (s *SignIn) Principal(ctx context.Context, tenantID, accountID string) (relay.Principal, error) {
	g, err := s.c.Store.JiraGrant(ctx, tenantID, accountID)
	if err != nil {
		return relay.Principal{}, err
	}
	p := relay.Principal{TenantID: tenantID, UserID: accountID, Username: accountID, DisplayName: g.DisplayName}
	if p.DisplayName == "" {
		p.DisplayName = accountID
	}
	uctx, err := s.UserContext(ctx, p)
	if err != nil {
		return relay.Principal{}, err
	}
	admin, err := s.c.Directory.IsAdmin(uctx, p)
	if err != nil {
		return relay.Principal{}, err
	}
	p.Admin = admin
	return p, nil
}

// SignInLink is the login page's way into Sign in with Atlassian, coming
// back to returnTo (a path on gitrelay) once signed in.
func (s *SignIn) SignInLink(returnTo string) (label, href string) {
	return SignInLabel, "/auth/atlassian/start?" + url.Values{"return_to": {safeReturnTo(returnTo)}}.Encode()
}
