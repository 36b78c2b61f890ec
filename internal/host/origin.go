package host

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Originer is implemented by adapters that can name where their clients
// send credentials (relay.Hosts.Origin). It is kept apart from Adapter so
// that an adapter without it still works: the Registry then treats every
// change of the host settings as a change of origin, which only costs
// users a token they must save again.
type Originer interface {
	// Origin returns the API root a client for cfg sends its credential
	// to (scheme, host, optional port and path, no trailing slash), or
	// every such endpoint, comma-separated, for hosts with several. cfg
	// need not have passed CheckConfig; an invalid cfg is an error.
	Origin(cfg relay.HostConfig) (string, error)
}

// Origin implements relay.Hosts. It is never empty: an adapter without
// Originer, or a configuration it refuses, gets the kind and the whole
// normalised host settings as its origin, so that any change of them
// counts as a change of host.
func (r *Registry) Origin(cfg relay.HostConfig) string {
	if a, err := r.adapter(cfg.Kind); err == nil {
		if o, ok := a.(Originer); ok {
			if origin, err := o.Origin(cfg); err == nil && origin != "" {
				return origin
			}
		}
	}
	return SettingsOrigin(cfg)
}

// SettingsOrigin is the origin of a configuration whose adapter cannot
// name one: "settings:" with the kind, base URL and options, so that any
// change of them is a change of origin.
func SettingsOrigin(cfg relay.HostConfig) string {
	keys := make([]string, 0, len(cfg.Options))
	for k := range cfg.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	q := url.Values{}
	for _, k := range keys {
		q.Set(k, cfg.Options[k])
	}
	return "settings:" + url.PathEscape(string(cfg.Kind)) + ":" + strings.TrimSpace(cfg.BaseURL) + "?" + q.Encode()
}

// URLOrigin is raw (an absolute http(s) URL) as an origin: scheme and
// host in lower case, the path without a trailing slash, nothing else.
func URLOrigin(raw string) (string, error) {
	u, err := ParseBaseURL(raw, "https://host.example.com")
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}
