package host

import (
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// GitReader is implemented by adapters whose hosts serve git over HTTP(S)
// to the integration credential, so that the index reads branches and
// commits with git itself (see internal/index).
type GitReader interface {
	// GitRemote returns repo's git URL and the credential as the
	// Authorization header git's requests carry. It refuses (EInvalid) a
	// repository whose web URL is not on the integration's host, so that
	// the credential never goes anywhere else.
	GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error)
	// CommitURL is the web page of commit sha of the repository whose web
	// page is repoWebURL; BranchURL that of its branch name.
	CommitURL(repoWebURL, sha string) string
	BranchURL(repoWebURL, name string) string
}

// GitRemote is the registry's entry to GitReader: EInvalid for a host kind
// whose repositories are not read with git.
func (r *Registry) GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error) {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return relay.GitRemote{}, err
	}
	g, ok := a.(GitReader)
	if !ok {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid, "%s repositories are not read with git.", cfg.Kind)
	}
	return g.GitRemote(cfg, repo, cred)
}

// GitRemoteFromWeb builds a GitRemote from the repository's web URL, which
// must lie under webRoot (the host's web address): the git URL is the web
// URL with suffix (".git" on GitHub, GitLab and Gitea; none on Azure
// DevOps, whose web URL .../_git/NAME is its git URL), and the credential
// is sent as HTTP basic authentication with user (when the credential has
// no user name of its own) and the token or password.
func GitRemoteFromWeb(webRoot string, repo relay.Repository, suffix, user string, cred relay.Credential) (relay.GitRemote, error) {
	root, err := url.Parse(webRoot)
	if err != nil {
		return relay.GitRemote{}, err
	}
	web, err := url.Parse(repo.WebURL)
	if err != nil || repo.WebURL == "" || !sameOrigin(web.Scheme, web.Host, root.Scheme, root.Host) ||
		web.User != nil || web.RawQuery != "" || web.Fragment != "" ||
		!strings.HasPrefix(web.Path+"/", strings.TrimRight(root.Path, "/")+"/") {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid,
			"The web address of repository %s is not on the integration's host, so it is not read with the integration's credential.", repo.FullName)
	}
	secret := cred.Token()
	if secret == "" {
		secret = cred.Password()
	}
	if cred.Username() != "" {
		user = cred.Username()
	}
	if secret == "" {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid, "The integration's credential cannot be used with git.")
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	return relay.GitRemote{URL: strings.TrimRight(web.String(), "/") + suffix, Authorization: relay.TokenCredential(basic)}, nil
}

// CommitURL is the registry's entry to GitReader.CommitURL: "" for a host
// kind whose repositories are not read with git, or an unsafe link.
func (r *Registry) CommitURL(cfg relay.HostConfig, repoWebURL, sha string) string {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return ""
	}
	if g, ok := a.(GitReader); ok && repoWebURL != "" {
		return SafeLink(g.CommitURL(strings.TrimRight(repoWebURL, "/"), url.PathEscape(sha)))
	}
	return ""
}

// BranchURL is the registry's entry to GitReader.BranchURL: the
// repository's page for a host kind without one, "" for an unsafe link.
func (r *Registry) BranchURL(cfg relay.HostConfig, repoWebURL, name string) string {
	a, err := r.adapter(cfg.Kind)
	if err != nil {
		return SafeLink(repoWebURL)
	}
	if g, ok := a.(GitReader); ok && repoWebURL != "" {
		return SafeLink(g.BranchURL(strings.TrimRight(repoWebURL, "/"), name))
	}
	return SafeLink(repoWebURL)
}

// PathEscapeRef escapes each segment of a ref name for a web address,
// keeping its slashes (hosts show feature/ABC-1 at …/tree/feature/ABC-1).
func PathEscapeRef(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
