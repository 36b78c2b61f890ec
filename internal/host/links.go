package host

import (
	"context"
	"net/url"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// SafeLink returns s when it is an absolute http:// or https:// address,
// and "" otherwise. Links in a host's answers (a repository's or pull
// request's web page) are shown to users and pushed to Jira: a broken or
// hostile host must not make gitrelay show a javascript: or data: link, or
// a scheme-relative one.
func SafeLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return ""
	}
	return s
}

// safeLinks is a HostClient whose results and errors carry only safe
// links, whatever the adapter passed on from the host.
type safeLinks struct{ relay.HostClient }

func safeErr(err error) error {
	if e, ok := relay.AsError(err); ok && e.URL != "" {
		e.URL = SafeLink(e.URL)
	}
	return err
}

func safeRepo(r relay.Repository) relay.Repository { r.WebURL = SafeLink(r.WebURL); return r }
func safeBranch(b relay.Branch) relay.Branch       { b.URL = SafeLink(b.URL); return b }
func safePR(p relay.PullRequest) relay.PullRequest { p.URL = SafeLink(p.URL); return p }

func (c safeLinks) Validate(ctx context.Context) (relay.Account, error) {
	a, err := c.HostClient.Validate(ctx)
	return a, safeErr(err)
}

func (c safeLinks) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	rs, err := c.HostClient.Repositories(ctx, query)
	for i := range rs {
		rs[i] = safeRepo(rs[i])
	}
	return rs, safeErr(err)
}

func (c safeLinks) Repository(ctx context.Context, id string) (relay.Repository, error) {
	r, err := c.HostClient.Repository(ctx, id)
	return safeRepo(r), safeErr(err)
}

func (c safeLinks) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	bs, err := c.HostClient.Branches(ctx, repo, query)
	for i := range bs {
		bs[i] = safeBranch(bs[i])
	}
	return bs, safeErr(err)
}

func (c safeLinks) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	b, err := c.HostClient.Branch(ctx, repo, name)
	return safeBranch(b), safeErr(err)
}

func (c safeLinks) CreateBranch(ctx context.Context, repo relay.Repository, name, baseSHA string) (relay.Branch, error) {
	b, err := c.HostClient.CreateBranch(ctx, repo, name, baseSHA)
	return safeBranch(b), safeErr(err)
}

func (c safeLinks) DeleteBranch(ctx context.Context, repo relay.Repository, name string) error {
	return safeErr(c.HostClient.DeleteBranch(ctx, repo, name))
}

func (c safeLinks) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	p, err := c.HostClient.CreatePullRequest(ctx, repo, pr)
	return safePR(p), safeErr(err)
}

func (c safeLinks) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	p, err := c.HostClient.FindPullRequest(ctx, repo, source, target)
	return safePR(p), safeErr(err)
}
