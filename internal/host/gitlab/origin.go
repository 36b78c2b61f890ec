package gitlab

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.Originer = (*adapter)(nil)

// Origin implements host.Originer: the API root tokens are sent to
// (https://gitlab.com/api/v4, the WithURL override's, or a self-managed
// server's, relative root included).
func (a *adapter) Origin(cfg relay.HostConfig) (string, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return "", err
	}
	return host.URLOrigin(ep.api)
}
