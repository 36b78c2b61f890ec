package codecommit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

var _ host.GitReader = adapter{}

// repoNamePattern is what CodeCommit allows in a repository name; nothing
// else reaches a git URL's path.
var repoNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// GitRemote implements host.GitReader. CodeCommit's git endpoint takes no
// access key directly: it takes, as HTTP basic authentication, the access
// key ID as the user name and a password derived from the secret access
// key with SigV4 for that git host and repository (what AWS's
// git-remote-codecommit computes; see GitPassword). The password is made
// here, at the time of the call, and is good for that repository on that
// host for a few minutes; the secret access key itself is never sent.
//
// The git URL is https://git-codecommit.REGION.amazonaws.com/v1/repos/NAME
// (.amazonaws.com.cn in China). With options.endpoint set, it is the
// endpoint's git counterpart for AWS's own CodeCommit endpoints
// (codecommit[-fips].REGION… becomes git-codecommit[-fips].REGION…), and
// the endpoint's own scheme and host for any other (a proxy, a test
// server).
func (a adapter) GitRemote(cfg relay.HostConfig, repo relay.Repository, cred relay.Credential) (relay.GitRemote, error) {
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		return relay.GitRemote{}, err
	}
	// A repository's ID is its CodeCommit name (see toRepository).
	name := repo.ID
	if !repoNamePattern.MatchString(name) {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid, "%q is not an AWS CodeCommit repository name, so it is not read with the integration's credential.", name)
	}
	id, secret := strings.TrimSpace(cred.AccessKeyID()), strings.TrimSpace(cred.SecretAccessKey())
	if id == "" || secret == "" || !validKeyID(id) {
		return relay.GitRemote{}, relay.Errorf(relay.EInvalid, "The integration's credential is not an IAM access key pair, so it cannot be used with git.")
	}
	region := cfg.Options[OptRegion]
	origin := gitOrigin(region, cfg.Options[OptEndpoint])
	u, err := url.Parse(origin)
	if err != nil {
		return relay.GitRemote{}, err
	}
	path := "/v1/repos/" + name
	user, password := GitPassword(id, secret, "", u.Host, path, region, a.now())
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	return relay.GitRemote{URL: origin + path, Authorization: relay.TokenCredential(basic)}, nil
}

// now is the adapter's clock (WithClock), the real time by default.
func (a adapter) now() time.Time {
	if a.clock != nil {
		return a.clock()
	}
	return time.Now()
}

// gitOrigin is the scheme and host of the region's git endpoint, or of
// endpoint's (see GitRemote).
func gitOrigin(region, endpoint string) string {
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
			h := u.Hostname()
			for _, svc := range []string{"codecommit.", "codecommit-fips."} {
				if u.Port() == "" && (h == svc+region+".amazonaws.com" || h == svc+region+".amazonaws.com.cn") {
					return "https://git-" + h
				}
			}
			return u.Scheme + "://" + u.Host
		}
	}
	suffix := ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = ".amazonaws.com.cn"
	}
	return "https://git-codecommit." + region + suffix
}

// GitPassword derives CodeCommit's git credential from an access key, as
// AWS's git-remote-codecommit does: the user name is the access key ID
// (followed by "%" and the session token for temporary keys), and the
// password is the time, in UTC as 20060102T150405, then "Z", then the hex
// SigV4 signature, for the service "codecommit" in region, of the
// canonical request
//
//	GIT\n<path>\n\nhost:<gitHost>\n\nhost\n
//
// where path is /v1/repos/NAME and gitHost the git endpoint's host (with
// its port when the URL has one).
func GitPassword(accessKeyID, secretAccessKey, sessionToken, gitHost, path, region string, at time.Time) (user, password string) {
	stamp := at.UTC().Format("20060102T150405")
	date := stamp[:8]
	canonical := "GIT\n" + path + "\n\nhost:" + gitHost + "\n\nhost\n"
	sum := sha256.Sum256([]byte(canonical))
	scope := date + "/" + region + "/codecommit/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + secretAccessKey)
	for _, part := range []string{date, region, "codecommit", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	user = accessKeyID
	if sessionToken != "" {
		user += "%" + sessionToken
	}
	return user, stamp + "Z" + hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// CommitURL implements host.GitReader: the console's page of the commit,
// beside the repository's page (…/repositories/NAME/browse?region=R).
func (a adapter) CommitURL(repoWebURL, sha string) string {
	base, region, ok := consoleRepo(repoWebURL)
	if !ok {
		return ""
	}
	return base + "/commit/" + sha + "?region=" + url.QueryEscape(region)
}

// BranchURL implements host.GitReader: the console's page of the branch.
func (a adapter) BranchURL(repoWebURL, name string) string {
	base, region, ok := consoleRepo(repoWebURL)
	if !ok {
		return repoWebURL
	}
	return base + "/browse/refs/heads/" + host.PathEscapeRef(name) + "?region=" + url.QueryEscape(region)
}

// consoleRepo splits a repository's console page into its base
// (…/repositories/NAME) and region.
func consoleRepo(repoWebURL string) (base, region string, ok bool) {
	u, err := url.Parse(repoWebURL)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	region = u.Query().Get("region")
	u.RawQuery, u.Fragment = "", ""
	base = strings.TrimSuffix(strings.TrimRight(u.String(), "/"), "/browse")
	if region == "" || !strings.Contains(base, "/codesuite/codecommit/repositories/") {
		return "", "", false
	}
	return base, region, true
}
