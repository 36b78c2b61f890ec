package gitea

import (
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.GitReader = (*adapter)(nil)

// GitRemote implements host.GitReader: https://HOST/OWNER/REPO.git, with the
// token as the password (Gitea and Forgejo ignore the user name given with
// a token).
func (a *adapter) GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return relay.GitRemote{}, err
	}
	return host.GitRemoteFromWeb(cfg.BaseURL, repo, ".git", "gitrelay", cred)
}

// CommitURL implements host.GitReader.
func (a *adapter) CommitURL(repoWebURL, sha string) string { return repoWebURL + "/commit/" + sha }

// BranchURL implements host.GitReader.
func (a *adapter) BranchURL(repoWebURL, name string) string {
	return repoWebURL + "/src/branch/" + host.PathEscapeRef(name)
}
