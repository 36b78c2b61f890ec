package azure

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.Originer = (*adapter)(nil)

// Origin implements host.Originer: the organization's URL (Azure DevOps
// Services, VSTS) or the project collection's (TFS, Azure DevOps Server),
// under which every API call goes. The server version is not part of it:
// it changes what gitrelay asks, not whom.
func (a *adapter) Origin(cfg relay.HostConfig) (string, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return "", err
	}
	return host.URLOrigin(ep.root)
}
