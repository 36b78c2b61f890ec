package jira

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// permissionTTL bounds how long Jira's answer about a user's permissions is
// trusted: a permission removed in Jira stops working within it.
const permissionTTL = 60 * time.Second

// userCall is the Jira user behind a request: their tenant and account, the
// site's API base URL and a token that acts as them (the Forge user token,
// or a Sign in with Atlassian access token).
type userCall struct {
	tenantID  string
	accountID string
	apiBase   string
	token     string
}

type userCallKey struct{}

// WithUser returns ctx carrying the Jira user's token for this request. The
// Jira directory answers permission questions for p only when ctx carries a
// token of the same tenant and account.
func WithUser(ctx context.Context, p relay.Principal, apiBase, token string) context.Context {
	return context.WithValue(ctx, userCallKey{}, userCall{tenantID: p.TenantID, accountID: p.UserID, apiBase: apiBase, token: token})
}

func userFrom(ctx context.Context, p relay.Principal) (userCall, error) {
	u, ok := ctx.Value(userCallKey{}).(userCall)
	if !ok || u.token == "" || u.tenantID != p.TenantID || u.accountID != p.UserID {
		// Never answer for one user with another's token, or for one site
		// with another's.
		return userCall{}, relay.Errorf(relay.EUnauthenticated, "Your Jira session is missing or belongs to another user or site. Open gitrelay from Jira again.")
	}
	return u, nil
}

// Directory answers permission questions for Jira tenants by asking Jira,
// as the user, with the token carried in the request's context (WithUser).
// Answers are cached for at most a minute per user and project.
type Directory struct {
	jira *client
	now  func() time.Time

	mu    sync.Mutex
	cache map[permKey]permEntry
}

type permKey struct{ tenant, account, project string }

type permEntry struct {
	perms map[string]bool
	name  string
	at    time.Time
}

// NewDirectory builds a Jira directory calling Jira with hc.
func NewDirectory(hc *http.Client, now func() time.Time) *Directory {
	if hc == nil {
		hc = defaultHTTPClient()
	}
	if now == nil {
		now = time.Now
	}
	return &Directory{jira: &client{http: hc}, now: now, cache: map[permKey]permEntry{}}
}

// CanViewDevTools reports whether Jira grants p both View Development Tools
// and Browse Projects on the project.
func (d *Directory) CanViewDevTools(ctx context.Context, p relay.Principal, projectKey string) (bool, error) {
	perms, err := d.permissions(ctx, p, projectKey)
	if err != nil {
		return false, err
	}
	return perms[PermViewDevTools] && perms[PermBrowse], nil
}

// DevToolsProjects lists the projects where p has View Development Tools
// and Browse Projects.
func (d *Directory) DevToolsProjects(ctx context.Context, p relay.Principal) ([]string, error) {
	u, err := userFrom(ctx, p)
	if err != nil {
		return nil, err
	}
	return d.jira.permittedProjects(ctx, u.apiBase, u.token, PermViewDevTools, PermBrowse)
}

// IsAdmin reports whether p is a Jira administrator (ADMINISTER).
func (d *Directory) IsAdmin(ctx context.Context, p relay.Principal) (bool, error) {
	perms, err := d.permissions(ctx, p, "")
	if err != nil {
		return false, err
	}
	return perms[PermAdminister], nil
}

// userProfile is what a request needs to know about its Jira user.
type userProfile struct {
	displayName string
	admin       bool
}

// profile reads the user's display name (for ${displayname} and the audit
// trail) and whether they administer Jira, cached like permissions.
func (d *Directory) profile(ctx context.Context, p relay.Principal) (userProfile, error) {
	u, err := userFrom(ctx, p)
	if err != nil {
		return userProfile{}, err
	}
	key := permKey{tenant: p.TenantID, account: p.UserID, project: "\x00profile"}
	now := d.now()
	d.mu.Lock()
	e, ok := d.cache[key]
	d.mu.Unlock()
	if ok && now.Sub(e.at) < permissionTTL && now.Sub(e.at) >= 0 {
		return userProfile{displayName: e.name, admin: e.perms[PermAdminister]}, nil
	}
	name, err := d.jira.myself(ctx, u.apiBase, u.token)
	if err != nil {
		return userProfile{}, err
	}
	admin, err := d.IsAdmin(ctx, p)
	if err != nil {
		return userProfile{}, err
	}
	d.mu.Lock()
	d.cache[key] = permEntry{perms: map[string]bool{PermAdminister: admin}, name: name, at: now}
	d.mu.Unlock()
	return userProfile{displayName: name, admin: admin}, nil
}

func (d *Directory) permissions(ctx context.Context, p relay.Principal, projectKey string) (map[string]bool, error) {
	u, err := userFrom(ctx, p)
	if err != nil {
		return nil, err
	}
	key := permKey{tenant: p.TenantID, account: p.UserID, project: projectKey}
	now := d.now()
	d.mu.Lock()
	e, ok := d.cache[key]
	d.mu.Unlock()
	if ok && now.Sub(e.at) < permissionTTL && now.Sub(e.at) >= 0 {
		return e.perms, nil
	}
	var perms map[string]bool
	if projectKey == "" {
		perms, err = d.jira.myPermissions(ctx, u.apiBase, u.token, "", PermAdminister)
	} else {
		perms, err = d.jira.myPermissions(ctx, u.apiBase, u.token, projectKey, PermViewDevTools, PermBrowse)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.cache) > 10000 {
		// Entries expire after a minute anyway; dropping them all bounds
		// memory without bookkeeping.
		d.cache = map[permKey]permEntry{}
	}
	d.cache[key] = permEntry{perms: perms, at: now}
	d.mu.Unlock()
	return perms, nil
}

// forget drops every cached answer of a tenant (uninstall).
func (d *Directory) forget(tenantID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.cache {
		if k.tenant == tenantID {
			delete(d.cache, k)
		}
	}
}

// Composite is the relay.Directory of a deployment serving both the
// built-in directory (tenant "local") and Jira sites (every other tenant).
type Composite struct {
	Local relay.Directory
	Jira  relay.Directory
}

func (c Composite) pick(p relay.Principal) relay.Directory {
	if p.TenantID == relay.LocalTenant {
		return c.Local
	}
	return c.Jira
}

// CanViewDevTools asks the principal's own directory.
func (c Composite) CanViewDevTools(ctx context.Context, p relay.Principal, projectKey string) (bool, error) {
	return c.pick(p).CanViewDevTools(ctx, p, projectKey)
}

// DevToolsProjects asks the principal's own directory.
func (c Composite) DevToolsProjects(ctx context.Context, p relay.Principal) ([]string, error) {
	return c.pick(p).DevToolsProjects(ctx, p)
}

// defaultHTTPClient is the outbound client of parts built without one
// (the application passes its own, see app.New): gitrelay's one client,
// with the egress policy of Jira mode. Redirects stay on the origin of
// the request, so a token never goes elsewhere.
func defaultHTTPClient() *http.Client {
	return host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{RefusePrivate: true}})
}
