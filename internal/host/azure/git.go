package azure

import (
	"net/url"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.GitReader = (*adapter)(nil)

// GitRemote implements host.GitReader: the repository's web URL
// ({organization or collection}/{project}/_git/{repo}) is its git URL. A
// PAT is sent as the password of an empty user name, as Azure DevOps
// documents; TFS 2013/2015's user name and password as they are (basic
// authentication must be enabled on the server).
func (a *adapter) GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return relay.GitRemote{}, err
	}
	// The web address lies on the server; on Azure DevOps Services it may
	// name the organization differently (dev.azure.com/ORG or
	// ORG.visualstudio.com), so only the origin is required to match.
	u, err := url.Parse(ep.root)
	if err != nil {
		return relay.GitRemote{}, err
	}
	return host.GitRemoteFromWeb(u.Scheme+"://"+u.Host, repo, "", "", cred)
}

// CommitURL implements host.GitReader.
func (a *adapter) CommitURL(repoWebURL, sha string) string { return repoWebURL + "/commit/" + sha }

// BranchURL implements host.GitReader.
func (a *adapter) BranchURL(repoWebURL, name string) string {
	return repoWebURL + "?version=GB" + url.QueryEscape(name)
}
