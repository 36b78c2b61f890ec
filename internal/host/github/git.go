package github

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.GitReader = (*adapter)(nil)

// GitRemote implements host.GitReader: https://github.com/OWNER/REPO.git
// (or the Enterprise server's), with the token as the password of the
// user x-access-token, which GitHub accepts for classic, fine-grained and
// app tokens alike.
func (a *adapter) GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error) {
	ep, err := a.endpoints(cfg)
	if err != nil {
		return relay.GitRemote{}, err
	}
	return host.GitRemoteFromWeb(ep.web, repo, ".git", "x-access-token", cred)
}

// CommitURL implements host.GitReader.
func (a *adapter) CommitURL(repoWebURL, sha string) string { return repoWebURL + "/commit/" + sha }

// BranchURL implements host.GitReader.
func (a *adapter) BranchURL(repoWebURL, name string) string {
	return repoWebURL + "/tree/" + host.PathEscapeRef(name)
}
