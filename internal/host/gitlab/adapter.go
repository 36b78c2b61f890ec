// Package gitlab is the host adapter for GitLab.com (kind "gitlab") and
// GitLab CE/EE servers (kind "gitlab-self-managed"), built on
// gitlab.com/gitlab-org/api/client-go.
package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The kinds this package serves.
const (
	KindCloud       relay.Kind = "gitlab"
	KindSelfManaged relay.Kind = "gitlab-self-managed"
)

const (
	cloudURL = "https://gitlab.com"
	// DefaultUserAgent is sent with every request, so that GitLab
	// administrators can tell gitrelay's traffic apart in their logs.
	DefaultUserAgent = "gitrelay"
	// apiPath is where a GitLab server serves its REST API, under its
	// address (which may have a relative root such as /gitlab).
	apiPath = "/api/v4"
)

// requiredScopes: creating branches and merge requests through the REST
// API needs api; read_api is read-only and write_repository only covers
// git over HTTP.
var requiredScopes = [][]string{{"api"}}

const tokenHelp = "Use a personal access token with the api scope (read_api and write_repository are not enough), from an account with at least the Developer role in the projects."

// Option configures an adapter.
type Option func(*adapter)

// WithURL points the gitlab kind at another address than
// https://gitlab.com (a simulator, a recording proxy): the server's
// address, with the API at URL/api/v4. It has no effect on
// gitlab-self-managed, whose address is each integration's base URL.
func WithURL(u string) Option {
	return func(a *adapter) { a.cloudURL = u }
}

// WithUserAgent replaces DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(a *adapter) { a.userAgent = ua }
}

// Cloud returns the adapter for GitLab.com (kind "gitlab"), which takes
// no base URL.
func Cloud(opts ...Option) host.Adapter { return newAdapter(KindCloud, opts) }

// SelfManaged returns the adapter for GitLab CE/EE servers (kind
// "gitlab-self-managed"): the base URL is the server's address,
// https://HOST or https://HOST/relative-root, with the API under /api/v4.
func SelfManaged(opts ...Option) host.Adapter { return newAdapter(KindSelfManaged, opts) }

type adapter struct {
	kind      relay.Kind
	cloudURL  string
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
		return relay.HostConfig{}, host.InvalidConfig("options", "GitLab integrations take no options; remove them.")
	}
	if a.kind == KindCloud {
		if strings.TrimSpace(cfg.BaseURL) != "" {
			return relay.HostConfig{}, host.InvalidConfig("base_url",
				"GitLab.com needs no base URL: leave it empty. For your own GitLab server, choose the gitlab-self-managed kind.")
		}
		return relay.HostConfig{Kind: a.kind}, nil
	}
	u, err := host.ParseBaseURL(cfg.BaseURL, "https://gitlab.example.com")
	if err != nil {
		return relay.HostConfig{}, err
	}
	u.Path = trimAPIPath(u.Path)
	switch u.Hostname() {
	case "gitlab.com", "www.gitlab.com":
		return relay.HostConfig{}, host.InvalidConfig("base_url",
			"That is GitLab.com, not a self-managed server: choose the gitlab kind, which needs no base URL.")
	}
	return relay.HostConfig{Kind: a.kind, BaseURL: u.String()}, nil
}

// trimAPIPath removes an API root an administrator pasted (".../api/v4")
// from a server address, keeping any relative root before it.
func trimAPIPath(p string) string {
	return host.TrimAPIPath(p, apiPath)
}

func (a *adapter) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true, Drafts: true, RequiredScopes: requiredScopes, TokenHelp: tokenHelp}
}

// NewTokenURL is the personal access token page of GitLab 15.x and later
// with the name filled in and the api scope ticked.
func (a *adapter) NewTokenURL(cfg relay.HostConfig, name string) string {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return ""
	}
	return ep.web + "/-/user_settings/personal_access_tokens?name=" + url.QueryEscape(name) + "&scopes=api"
}

// endpoints is where an integration's API and web pages live.
type endpoints struct {
	web  string // server address without a trailing slash
	api  string // web + /api/v4/
	name string // how messages name the host
}

func (a *adapter) endpoints(cfg relay.HostConfig) (endpoints, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return endpoints{}, err
	}
	if a.kind == KindSelfManaged {
		u, _ := url.Parse(cfg.BaseURL)
		return endpoints{web: cfg.BaseURL, api: cfg.BaseURL + apiPath + "/", name: "GitLab at " + u.Host}, nil
	}
	web := cloudURL
	if a.cloudURL != "" {
		u, err := url.Parse(strings.TrimSpace(a.cloudURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return endpoints{}, fmt.Errorf("gitlab: WithURL(%q) is not an absolute http(s) URL", a.cloudURL)
		}
		u.Path = trimAPIPath(u.Path)
		u.RawPath, u.RawQuery, u.Fragment = "", "", ""
		web = u.String()
	}
	return endpoints{web: web, api: web + apiPath + "/", name: "GitLab"}, nil
}

func (a *adapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(cred.Token())
	switch {
	case token == "":
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "No GitLab token was given; paste a personal access token."}
	case strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: "The GitLab token contains spaces or control characters; copy it again and paste only the token."}
	}
	// The library sends no credential itself: the client's transport adds
	// the PRIVATE-TOKEN header to requests for GitLab's own origin only,
	// so a redirect or a link elsewhere never carries it.
	apiURL, _ := url.Parse(ep.api)
	own := host.ClientFor(hc, &host.Auth{Origin: apiURL.Scheme + "://" + apiURL.Host,
		Header: "PRIVATE-TOKEN", Value: host.NewSecret(token)})
	client, err := gl.NewAuthSourceClient(gl.Unauthenticated{},
		gl.WithBaseURL(ep.api),
		gl.WithHTTPClient(own),
		gl.WithUserAgent(a.userAgent),
		// The library's own retries are off: the client's transport
		// follows gitrelay's one policy for every host (host.RetryPolicy),
		// which repeats reads only and never a write GitLab may have acted
		// on. Both at once would multiply the attempts and the waits.
		gl.WithoutRetries(),
		gl.WithCustomRetryMax(0),
		// The client would otherwise pace itself from GitLab's
		// RateLimit-Limit header and sit waiting; a 429 is reported with
		// its wait instead, so that no action stalls silently.
		gl.WithCustomLimiter(unpaced{}),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab: building the API client: %w", host.RedactError(err, token))
	}
	return &hostClient{gl: client, name: ep.name, web: ep.web, token: host.NewSecret(token)}, nil
}

// unpaced is a client-side rate limiter that never waits.
type unpaced struct{}

func (unpaced) Wait(ctx context.Context) error { return ctx.Err() }
