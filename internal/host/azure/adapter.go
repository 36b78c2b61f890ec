// Package azure is the host adapter for Azure DevOps Services (kind
// "azure-devops"), its legacy Visual Studio Team Services addresses (kind
// "vsts") and the on-premises Team Foundation Server / Azure DevOps Server
// 2013 to 2022 (kind "tfs").
//
// It speaks the REST API with a small net/http client rather than
// Microsoft's Go SDK, which is unmaintained, lower-cases URLs and keeps
// package-global caches; gitrelay needs only a dozen calls.
package azure

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The kinds this package serves.
const (
	KindServices relay.Kind = "azure-devops"
	KindVSTS     relay.Kind = "vsts"
	KindServer   relay.Kind = "tfs"
)

// Options of a tfs integration.
const (
	OptSuffix        = "suffix"         // virtual directory, default "/tfs", may be empty
	OptCollection    = "collection"     // project collection, default "DefaultCollection"
	OptServerVersion = "server_version" // 2013, 2015, 2017, 2018, 2019, 2020 or 2022
)

const (
	defaultSuffix     = "/tfs"
	defaultCollection = "DefaultCollection"
	// servicesAPIVersion is the REST version Azure DevOps Services (and
	// the visualstudio.com addresses, the same service) answer.
	servicesAPIVersion = "7.1"
	// DefaultUserAgent is sent with every request.
	DefaultUserAgent = "gitrelay"
)

// serverVersions maps each TFS / Azure DevOps Server release an
// administrator may state to the REST api-version it understands. TFS 2017
// (3.x) is the first with personal access tokens, ADO Server 2019 (5.0) the
// first with draft pull requests.
var serverVersions = map[string]string{
	"2013": "1.0",
	"2015": "2.0",
	"2017": "3.0",
	"2018": "4.0",
	"2019": "5.0",
	"2020": "6.0",
	"2022": "7.0",
}

// Azure DevOps does not let a PAT read its own scopes, so the requirement
// can only be stated, not checked.
const (
	tokenHelp       = "Create a personal access token for this organization (not \"All accessible organizations\") with the Code (Read & write) scope, vso.code_write."
	serverTokenHelp = "Create a personal access token on this server with the Code (Read & write) scope, vso.code_write."
)

// Option configures an adapter.
type Option func(*adapter)

// WithUserAgent replaces DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(a *adapter) { a.userAgent = ua }
}

// Services returns the adapter for Azure DevOps Services (kind
// "azure-devops"): the base URL is the organization's,
// https://dev.azure.com/{org}; any other http(s) URL is taken as it is, for
// proxies and test servers.
func Services(opts ...Option) host.Adapter { return newAdapter(KindServices, opts) }

// VSTS returns the adapter for kind "vsts": the base URL is the account's,
// https://{account}.visualstudio.com (the same service as Azure DevOps
// Services under its former address).
func VSTS(opts ...Option) host.Adapter { return newAdapter(KindVSTS, opts) }

// Server returns the adapter for kind "tfs": Team Foundation Server and
// Azure DevOps Server. The base URL is the server's address; the options
// give the virtual directory (suffix), the project collection and the
// server version.
func Server(opts ...Option) host.Adapter { return newAdapter(KindServer, opts) }

type adapter struct {
	kind      relay.Kind
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
	if a.kind == KindServer {
		return a.checkServer(cfg)
	}
	if len(cfg.Options) > 0 {
		return relay.HostConfig{}, host.InvalidConfig("options",
			"Azure DevOps Services integrations take no options; remove them. For an on-premises server, choose the tfs kind.")
	}
	example := "https://dev.azure.com/fabrikam"
	if a.kind == KindVSTS {
		example = "https://fabrikam.visualstudio.com"
	}
	u, err := host.ParseBaseURL(cfg.BaseURL, example)
	if err != nil {
		return relay.HostConfig{}, err
	}
	u.Path = stripAPIPath(u.Path)
	switch h := u.Hostname(); {
	case h == "dev.azure.com":
		// Admins paste a project or repository address as often as the
		// organization's: keep the organization.
		org, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if org == "" {
			return relay.HostConfig{}, host.InvalidConfig("base_url",
				"Add your organization to the address: https://dev.azure.com/{organization}.")
		}
		u.Path = "/" + org
	case strings.HasSuffix(h, ".visualstudio.com"):
		// The account is the host name; a path (a project, or the old
		// /DefaultCollection) is not part of the account's address.
		u.Path = ""
	}
	return relay.HostConfig{Kind: a.kind, BaseURL: u.String()}, nil
}

// stripAPIPath removes an API path an administrator pasted along with the
// address ("/_apis/...", "/_git/...").
func stripAPIPath(p string) string {
	for _, marker := range []string{"/_apis", "/_git", "/_usersSettings", "/_settings", "/_details"} {
		if i := indexFold(p, marker); i >= 0 {
			p = p[:i]
		}
	}
	return strings.TrimRight(p, "/")
}

// indexFold is the byte offset in s of the first match of the ASCII string
// marker, ignoring case, or -1. Lowering s instead would move offsets: a
// byte of invalid UTF-8 lowers to three, "İ" from two bytes to three.
func indexFold(s, marker string) int {
	for i := 0; i+len(marker) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(marker)], marker) {
			return i
		}
	}
	return -1
}

func (a *adapter) checkServer(cfg relay.HostConfig) (relay.HostConfig, error) {
	for k := range cfg.Options {
		if k != OptSuffix && k != OptCollection && k != OptServerVersion {
			return relay.HostConfig{}, host.InvalidConfig("options", fmt.Sprintf(
				"Unknown option %q: a tfs integration takes %q (such as \"/tfs\", or empty), %q (such as \"DefaultCollection\") and %q.",
				k, OptSuffix, OptCollection, OptServerVersion))
		}
	}
	version := strings.TrimSpace(cfg.Options[OptServerVersion])
	if _, ok := serverVersions[version]; !ok {
		return relay.HostConfig{}, host.InvalidConfig("options", fmt.Sprintf(
			"State the server version in options.%s: one of %s.", OptServerVersion, strings.Join(knownVersions(), ", ")))
	}
	suffix, given := cfg.Options[OptSuffix]
	if !given {
		suffix = defaultSuffix
	}
	suffix = strings.Trim(strings.TrimSpace(suffix), "/")
	if suffix != "" {
		suffix = "/" + suffix
	}
	collection := strings.Trim(strings.TrimSpace(cfg.Options[OptCollection]), "/")
	if collection == "" {
		collection = defaultCollection
	}
	// Both go into URLs as they are: nothing that would end the path or
	// start an escape.
	if strings.ContainsAny(suffix+collection, "?#\\ %") || hasControl(suffix+collection) || strings.Contains(collection, "/") {
		return relay.HostConfig{}, host.InvalidConfig("options",
			"The suffix is a path such as \"/tfs\" (or empty) and the collection a single name such as \"DefaultCollection\".")
	}
	u, err := host.ParseBaseURL(cfg.BaseURL, "https://tfs.example.com")
	if err != nil {
		return relay.HostConfig{}, err
	}
	// Admins often paste the collection's address: keep the server's. Cut
	// until nothing more is cut, so that the result normalises to itself.
	p := u.Path
	for {
		q := stripAPIPath(p)
		if rest, ok := cutSuffixFold(q, "/"+collection); ok {
			q = rest
		}
		if rest, ok := cutSuffixFold(q, suffix); ok && suffix != "" {
			q = rest
		}
		q = strings.TrimRight(q, "/")
		if q == p {
			break
		}
		p = q
	}
	u.Path = p
	return relay.HostConfig{Kind: a.kind, BaseURL: u.String(), Options: map[string]string{
		OptSuffix: suffix, OptCollection: collection, OptServerVersion: version,
	}}, nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

func knownVersions() []string {
	out := make([]string, 0, len(serverVersions))
	for v := range serverVersions {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// endpoints is where an integration's API and pages live and what its
// server version can do.
type endpoints struct {
	root       string // organization or collection URL, no trailing slash
	tokenPage  string // "" when the server has no PATs
	apiVersion string
	name       string // how messages name the host
	pat        bool
	drafts     bool
}

func (a *adapter) endpoints(cfg relay.HostConfig) (endpoints, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return endpoints{}, err
	}
	u, _ := url.Parse(cfg.BaseURL)
	if a.kind != KindServer {
		name := "Azure DevOps"
		switch h := u.Hostname(); {
		case h == "dev.azure.com":
			name = "Azure DevOps (" + strings.TrimPrefix(u.Path, "/") + ")"
		case strings.HasSuffix(h, ".visualstudio.com"):
			name = "Azure DevOps (" + strings.TrimSuffix(h, ".visualstudio.com") + ")"
		default:
			name = "Azure DevOps at " + u.Host
		}
		return endpoints{
			root: cfg.BaseURL, tokenPage: cfg.BaseURL + "/_usersSettings/tokens",
			apiVersion: servicesAPIVersion, name: name, pat: true, drafts: true,
		}, nil
	}
	version := cfg.Options[OptServerVersion]
	server := cfg.BaseURL + cfg.Options[OptSuffix]
	ep := endpoints{
		root:       server + "/" + cfg.Options[OptCollection],
		apiVersion: serverVersions[version],
		name:       "TFS " + version + " at " + u.Host,
		pat:        version >= "2017",
		drafts:     version >= "2019",
	}
	if version >= "2019" {
		ep.name = "Azure DevOps Server " + version + " at " + u.Host
	}
	switch {
	case version >= "2019":
		ep.tokenPage = ep.root + "/_usersSettings/tokens"
	case version >= "2017":
		// TFS 2017 and 2018 keep personal access tokens with the
		// server's profile settings, not the collection's.
		ep.tokenPage = server + "/_details/security/tokens"
	}
	return ep, nil
}

func (a *adapter) Capabilities(cfg relay.HostConfig) relay.Capabilities {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return relay.Capabilities{}
	}
	c := relay.Capabilities{PAT: ep.pat, Drafts: ep.drafts}
	switch {
	case ep.pat && a.kind == KindServer:
		c.TokenHelp = serverTokenHelp
	case ep.pat:
		c.TokenHelp = tokenHelp
	}
	return c
}

// NewTokenURL is the page listing the user's tokens, where "New Token"
// starts; Azure DevOps offers no way to pre-fill a name or scopes.
func (a *adapter) NewTokenURL(cfg relay.HostConfig, _ string) string {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return ""
	}
	return ep.tokenPage
}

func (a *adapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return nil, err
	}
	reject := func(msg string) (relay.HostClient, error) {
		return nil, &relay.Error{Code: relay.ECredentialRejected, Message: msg}
	}
	var user, secret string
	if ep.pat {
		secret = strings.TrimSpace(cred.Token())
		switch {
		case secret == "" && cred.Password() != "":
			return reject(fmt.Sprintf("%s takes a personal access token, not a user name and password; create a token and paste it.", ep.name))
		case secret == "":
			return reject(fmt.Sprintf("No %s token was given; paste a personal access token.", ep.name))
		case hasControl(secret):
			return reject("The token contains spaces or control characters; copy it again and paste only the token.")
		}
	} else {
		user, secret = strings.TrimSpace(cred.Username()), cred.Password()
		switch {
		case user == "" || secret == "":
			return reject(fmt.Sprintf("%s has no personal access tokens: give the user name (DOMAIN\\user) and password of the account gitrelay acts as.", ep.name))
		case strings.Contains(user, ":") || strings.IndexFunc(user, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
			return reject("The user name may not contain \":\" or control characters.")
		}
	}
	root, _ := url.Parse(ep.root)
	origin := root.Scheme + "://" + root.Host
	auth := host.NewSecret("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret)))
	return &hostClient{
		hc:         host.ClientFor(hc, &host.Auth{Origin: origin, Header: "Authorization", Value: auth}),
		root:       ep.root,
		apiVersion: ep.apiVersion,
		drafts:     ep.drafts,
		pat:        ep.pat,
		name:       ep.name,
		userAgent:  a.userAgent,
		auth:       auth,
		secret:     host.NewSecret(secret),
	}, nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0
}
