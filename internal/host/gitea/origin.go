package gitea

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.Originer = (*adapter)(nil)

// Origin implements host.Originer: the server's API root,
// https://HOST[/sub-path]/api/v1, where tokens are sent.
func (a *adapter) Origin(cfg relay.HostConfig) (string, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return "", err
	}
	return host.URLOrigin(cfg.BaseURL + "/api/v1")
}
