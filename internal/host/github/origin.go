package github

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.Originer = (*adapter)(nil)

// Origin implements host.Originer: the API root tokens are sent to
// (https://api.github.com, the WithAPIURL override, or a GitHub Enterprise
// Server's https://HOST/api/v3).
func (a *adapter) Origin(cfg relay.HostConfig) (string, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return "", err
	}
	return host.URLOrigin(ep.api)
}
