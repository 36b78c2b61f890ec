// Package gitea is the host adapter for Gitea and Forgejo (kind "gitea"),
// which share the REST API at https://HOST/api/v1. It speaks that API with
// net/http directly: the surface gitrelay needs is small, and the SDK would
// add a dependency without removing any of the error mapping.
//
// Repository ids are Gitea's numeric repository ids (as strings), read back
// with GET /repositories/{id}.
package gitea

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Kind is the API value of the kind this package serves.
const Kind relay.Kind = "gitea"

// DefaultUserAgent is sent with every request, so that a Gitea
// administrator can tell gitrelay's requests apart in the access log.
const DefaultUserAgent = "gitrelay"

// ScopeWriteRepository is the token scope creating branches and pull
// requests needs (Gitea 1.19 and later; older tokens have no scopes and
// may do everything their account may).
const ScopeWriteRepository = "write:repository"

// ScopeReadUser is the scope GET /user needs, which is how gitrelay learns
// which account a token belongs to.
const ScopeReadUser = "read:user"

const tokenHelp = "Create an access token with the repository permission set to Read and Write and the user permission set to Read (scopes write:repository and read:user)."

// Option configures an adapter.
type Option func(*adapter)

// WithUserAgent replaces DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(a *adapter) { a.userAgent = ua }
}

// New returns the adapter of kind "gitea". An integration's base URL is the
// server's address, https://HOST (with a sub-path when Gitea is served
// under one), with the API at https://HOST/api/v1/.
func New(opts ...Option) host.Adapter {
	a := &adapter{userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(a)
	}
	return a
}

type adapter struct {
	userAgent string
}

func (a *adapter) Kind() relay.Kind { return Kind }

func (a *adapter) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	if cfg.Kind != "" && cfg.Kind != Kind {
		return relay.HostConfig{}, host.InvalidConfig("kind", fmt.Sprintf("This adapter serves %q, not %q.", Kind, cfg.Kind))
	}
	if len(cfg.Options) > 0 {
		return relay.HostConfig{}, host.InvalidConfig("options", "Gitea integrations take no options; remove them.")
	}
	u, err := host.ParseBaseURL(cfg.BaseURL, "https://gitea.example.com")
	if err != nil {
		return relay.HostConfig{}, err
	}
	// Administrators often paste the API root or the swagger page; the
	// server's address is wanted.
	u.Path = host.TrimAPIPath(u.Path, "/api/swagger", "/api/v1")
	return relay.HostConfig{Kind: Kind, BaseURL: u.String()}, nil
}

// requiredScopes is what a token needs. Gitea does not tell a token its own
// scopes, so Validate reports scopes only when its probe proved the
// repository scope missing (Account.Scopes is nil otherwise, which passes);
// a read-only repository scope shows as a 403 naming write:repository at
// the first write.
var requiredScopes = [][]string{{ScopeWriteRepository}}

// Capabilities: Gitea has no draft flag on pull requests; it treats a pull
// request whose title starts with "WIP:" or "[WIP]" (the default
// WORK_IN_PROGRESS_PREFIXES) as work in progress, which is what a draft
// becomes here.
func (a *adapter) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true, Drafts: true, RequiredScopes: requiredScopes, TokenHelp: tokenHelp}
}

// NewTokenURL is the Applications page of the user's settings, where access
// tokens are made. Gitea does not pre-fill the form from the URL.
func (a *adapter) NewTokenURL(cfg relay.HostConfig, _ string) string {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return ""
	}
	return cfg.BaseURL + "/user/settings/applications"
}

func (a *adapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(cred.Token())
	switch {
	case token == "":
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "No Gitea token was given; paste an access token."}
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "The Gitea token contains spaces or control characters; copy it again and paste only the token."}
	}
	web, _ := url.Parse(cfg.BaseURL)
	authed := host.ClientFor(hc, &host.Auth{Origin: web.Scheme + "://" + web.Host,
		Header: "Authorization", Value: host.NewSecret("token " + token)})
	return &hostClient{
		hc:        authed,
		api:       cfg.BaseURL + "/api/v1",
		web:       cfg.BaseURL,
		name:      "Gitea at " + web.Host,
		userAgent: a.userAgent,
		token:     host.NewSecret(token),
	}, nil
}
