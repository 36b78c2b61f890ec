// Package host is the contract between gitrelay and git hosts: the Adapter
// interface every host kind implements (one sibling package per host:
// host/github, ...), the Registry that picks an adapter by kind and
// implements relay.Hosts, the one outbound HTTP client (egress policy,
// bounded answers, credentials kept to their origin), and the helpers
// adapters use to turn transport failures and HTTP answers into
// *relay.Error values with user-safe messages.
package host

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Adapter is one kind of git host.
//
// Every error an Adapter or the clients it builds return is a *relay.Error
// (see relay.HostClient for the codes a client returns) whose Message says
// what happened and what to do, and which never contains a credential. An
// Adapter is safe for concurrent use and holds no per-integration state.
type Adapter interface {
	// Kind is the API value of the host kind, such as "github".
	Kind() relay.Kind

	// CheckConfig validates an integration's host settings without
	// contacting the host and returns them normalised (canonical base URL,
	// option defaults filled in), ready to store. Errors are relay.EInvalid
	// with Fields keyed "base_url", "options" or "kind" saying what to
	// change.
	CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error)

	// Capabilities says what the host cfg designates supports. cfg is
	// assumed to have passed CheckConfig.
	Capabilities(cfg relay.HostConfig) relay.Capabilities

	// NewClient returns a client acting with cred on the host cfg
	// designates. It performs no I/O: a credential the host refuses shows at
	// the first call (Validate). hc carries every request; adapters may wrap
	// its transport but never modify hc itself. Errors: relay.EInvalid when
	// CheckConfig refuses cfg, relay.ECredentialRejected for a credential
	// that cannot work (empty, malformed).
	NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error)

	// NewTokenURL is the host's page for creating a personal access token,
	// pre-filled with name and the minimal scopes where the host allows, or
	// "" when there is no such page or cfg is invalid.
	NewTokenURL(cfg relay.HostConfig, name string) string
}

// Registry is the set of adapters gitrelay knows, by kind. It implements
// relay.Hosts.
type Registry struct {
	hc       *http.Client
	adapters map[relay.Kind]Adapter
	kinds    []relay.Kind
}

var _ relay.Hosts = (*Registry)(nil)

// NewRegistry returns a registry of adapters whose clients all send their
// requests through hc (NewHTTPClient with the default configuration when
// nil). Registering
// two adapters of the same kind is a programming error and panics.
func NewRegistry(hc *http.Client, adapters ...Adapter) *Registry {
	if hc == nil {
		hc = NewHTTPClient(ClientConfig{})
	}
	r := &Registry{hc: hc, adapters: make(map[relay.Kind]Adapter, len(adapters))}
	for _, a := range adapters {
		k := a.Kind()
		if _, dup := r.adapters[k]; dup {
			panic(fmt.Sprintf("host: two adapters registered for kind %q", k))
		}
		r.adapters[k] = a
		r.kinds = append(r.kinds, k)
	}
	slices.Sort(r.kinds)
	return r
}

// Kinds lists the registered kinds in sorted order.
func (r *Registry) Kinds() []relay.Kind { return slices.Clone(r.kinds) }

// Adapter returns the adapter of kind, if registered.
func (r *Registry) Adapter(kind relay.Kind) (Adapter, bool) {
	a, ok := r.adapters[kind]
	return a, ok
}

func (r *Registry) adapter(kind relay.Kind) (Adapter, error) {
	if a, ok := r.adapters[kind]; ok {
		return a, nil
	}
	names := make([]string, len(r.kinds))
	for i, k := range r.kinds {
		names[i] = string(k)
	}
	msg := fmt.Sprintf("gitrelay does not know the git host kind %q; use one of: %s.", kind, strings.Join(names, ", "))
	if kind == "" {
		msg = fmt.Sprintf("Choose the kind of git host, one of: %s.", strings.Join(names, ", "))
	}
	return nil, &relay.Error{Code: relay.EInvalid, Message: msg, Fields: map[string]string{"kind": msg}}
}

// CheckConfig implements relay.Hosts.
func (r *Registry) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return relay.HostConfig{}, err
	}
	return a.CheckConfig(cfg)
}

// Capabilities implements relay.Hosts; an unknown kind has no capabilities.
func (r *Registry) Capabilities(cfg relay.HostConfig) relay.Capabilities {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return relay.Capabilities{}
	}
	return a.Capabilities(cfg)
}

// Client implements relay.Hosts. The client's results and errors carry
// only http(s) links (SafeLink), whatever the host answered.
func (r *Registry) Client(cfg relay.HostConfig, cred relay.Credential) (relay.HostClient, error) {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return nil, err
	}
	c, err := a.NewClient(cfg, cred, r.hc)
	if err != nil {
		return nil, err
	}
	// Each call is measured and traced as its operation on this kind.
	return safeLinks{traced{next: c, kind: string(cfg.Kind)}}, nil
}

// NewTokenURL implements relay.Hosts; it is "" for an unknown kind.
func (r *Registry) NewTokenURL(cfg relay.HostConfig, name string) string {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return ""
	}
	return a.NewTokenURL(cfg, name)
}
