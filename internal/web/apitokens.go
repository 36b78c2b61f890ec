package web

import (
	"net/http"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// apiTokensData is the API tokens page: the signed-in user's tokens, never
// their secrets (gitrelay keeps only hashes).
type apiTokensData struct {
	Tokens []relay.APIToken
}

// APITokens lists the user's API tokens with a Revoke button each. Tokens
// are created with the API or the command line, which show the secret
// once: pages never show secrets.
func (p *Pages) APITokens(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	tokens, err := p.c.Directory.APITokens(r.Context(), v.P.TenantID, v.P.Username)
	if err != nil {
		return err
	}
	fl := p.takeFlash(r)
	p.render(w, r, fl.status(), "api_tokens", "API tokens", apiTokensData{Tokens: tokens}, fl.Error, fl.Notice)
	return nil
}

// RevokeAPIToken revokes one of the user's API tokens.
func (p *Pages) RevokeAPIToken(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if err := p.c.Directory.RevokeAPIToken(r.Context(), v.P, v.P.Username, r.PathValue("id")); err != nil {
		return err
	}
	return p.redirectWith(w, r, "/settings/api-tokens", flash{Notice: "The API token was revoked: it no longer works."})
}
