// Package github is the host adapter for GitHub.com (kind "github", also
// GitHub Enterprise Cloud) and GitHub Enterprise Server (kind
// "github-enterprise"), built on github.com/google/go-github.
package github

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v93/github"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The kinds this package serves.
const (
	KindCloud      relay.Kind = "github"
	KindEnterprise relay.Kind = "github-enterprise"
)

const (
	cloudAPI = "https://api.github.com/"
	cloudWeb = "https://github.com"
	// DefaultUserAgent is sent with every request; GitHub refuses requests
	// without one.
	DefaultUserAgent = "gitrelay"
)

// requiredScopes is what a classic token needs: repo covers creating
// branches and pull requests in private and public repositories.
var requiredScopes = [][]string{{"repo"}}

const tokenHelp = "Use a classic token with the repo scope, or a fine-grained token with access to the repositories and the Contents and Pull requests permissions set to Read and write."

// Option configures an adapter.
type Option func(*adapter)

// WithAPIURL points the github kind at another API root than
// https://api.github.com/ (a simulator, a recording proxy). Web links then
// default to that URL's origin. It has no effect on github-enterprise,
// whose API root follows from each integration's base URL.
func WithAPIURL(u string) Option {
	return func(a *adapter) { a.apiURL = u }
}

// WithWebURL sets where the github kind's web pages (token creation) live,
// instead of https://github.com.
func WithWebURL(u string) Option {
	return func(a *adapter) { a.webURL = strings.TrimRight(u, "/") }
}

// WithUserAgent replaces DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(a *adapter) { a.userAgent = ua }
}

// Cloud returns the adapter for GitHub.com (kind "github"), which takes no
// base URL.
func Cloud(opts ...Option) host.Adapter { return newAdapter(KindCloud, opts) }

// Enterprise returns the adapter for GitHub Enterprise Server (kind
// "github-enterprise"): the base URL is the server's address,
// https://HOST, with the API at https://HOST/api/v3/.
func Enterprise(opts ...Option) host.Adapter { return newAdapter(KindEnterprise, opts) }

type adapter struct {
	kind      relay.Kind
	apiURL    string
	webURL    string
	userAgent string
}

func newAdapter(kind relay.Kind, opts []Option) *adapter {
	a := &adapter{kind: kind, userAgent: DefaultUserAgent}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (a *adapter) Kind() relay.Kind { return a.kind }

func (a *adapter) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	if cfg.Kind != "" && cfg.Kind != a.kind {
		return relay.HostConfig{}, host.InvalidConfig("kind", fmt.Sprintf("This adapter serves %q, not %q.", a.kind, cfg.Kind))
	}
	if len(cfg.Options) > 0 {
		return relay.HostConfig{}, host.InvalidConfig("options", "GitHub integrations take no options; remove them.")
	}
	if a.kind == KindCloud {
		if strings.TrimSpace(cfg.BaseURL) != "" {
			return relay.HostConfig{}, host.InvalidConfig("base_url",
				"GitHub.com needs no base URL: leave it empty. For GitHub Enterprise Server, choose the github-enterprise kind.")
		}
		return relay.HostConfig{Kind: a.kind}, nil
	}
	u, err := host.ParseBaseURL(cfg.BaseURL, "https://github.example.com")
	if err != nil {
		return relay.HostConfig{}, err
	}
	// Admins often paste the API root; the server's address is wanted.
	u.Path = host.TrimAPIPath(u.Path, "/api/v3")
	switch h := u.Hostname(); h {
	case "github.com", "www.github.com", "api.github.com":
		return relay.HostConfig{}, host.InvalidConfig("base_url",
			"That is GitHub.com, not a GitHub Enterprise Server: choose the github kind, which needs no base URL.")
	}
	return relay.HostConfig{Kind: a.kind, BaseURL: u.String()}, nil
}

func (a *adapter) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true, Drafts: true, RequiredScopes: requiredScopes, TokenHelp: tokenHelp}
}

// NewTokenURL is the classic token page with the repo scope ticked; GitHub
// offers no reliable pre-filling of fine-grained tokens.
func (a *adapter) NewTokenURL(cfg relay.HostConfig, name string) string {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return ""
	}
	return ep.web + "/settings/tokens/new?scopes=repo&description=" + url.QueryEscape(name)
}

// endpoints is where an integration's API and web pages live.
type endpoints struct {
	api    string // API root with a trailing slash
	upload string
	web    string // web root without a trailing slash
	name   string // how messages name the host
}

func (a *adapter) endpoints(cfg relay.HostConfig) (endpoints, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return endpoints{}, err
	}
	if a.kind == KindEnterprise {
		u, _ := url.Parse(cfg.BaseURL)
		return endpoints{
			api:    cfg.BaseURL + "/api/v3/",
			upload: cfg.BaseURL + "/api/uploads/",
			web:    cfg.BaseURL,
			name:   "GitHub Enterprise at " + u.Host,
		}, nil
	}
	ep := endpoints{api: cloudAPI, upload: "https://uploads.github.com/", web: cloudWeb, name: "GitHub"}
	if a.apiURL != "" {
		u, err := url.Parse(a.apiURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return endpoints{}, fmt.Errorf("github: WithAPIURL(%q) is not an absolute URL", a.apiURL)
		}
		ep.api = strings.TrimRight(a.apiURL, "/") + "/"
		ep.upload = ep.api
		ep.web = u.Scheme + "://" + u.Host
	}
	if a.webURL != "" {
		ep.web = a.webURL
	}
	return ep, nil
}

func (a *adapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(cred.Token())
	switch {
	case token == "":
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "No GitHub token was given; paste a personal access token."}
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "The GitHub token contains spaces or control characters; copy it again and paste only the token."}
	}
	apiURL, _ := url.Parse(ep.api)
	authed := host.ClientFor(hc, &host.Auth{Origin: apiURL.Scheme + "://" + apiURL.Host,
		Header: "Authorization", Value: host.NewSecret("Bearer " + token)})
	api, upload := ep.api, ep.upload
	client, err := gh.NewClient(
		gh.WithHTTPClient(authed),
		gh.WithURLs(&api, &upload),
		gh.WithUserAgent(a.userAgent),
	)
	if err != nil {
		return nil, fmt.Errorf("github: building the API client: %w", err)
	}
	return &hostClient{gh: client, name: ep.name, web: ep.web, token: host.NewSecret(token)}, nil
}
