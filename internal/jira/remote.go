// Package jira is gitrelay's Jira Cloud integration: the backend of the
// Forge app (forge/) reached through Forge Remote, the Jira directory
// (permissions asked of Jira), Sign in with Atlassian for pages users reach
// from Jira's Create branch button, and the queue that tells Jira's
// development information API about branches and pull requests.
//
// Every remote endpoint first verifies the Forge Invocation Token; the
// tenant is the token's installation id and the user its principal. The
// Forge system and user tokens are never logged, never sent back and never
// stored unsealed.
package jira

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// Forge lifecycle event types.
const (
	EventInstalled   = "avi:forge:installed:app"
	EventUpgraded    = "avi:forge:upgraded:app"
	EventUninstalled = "avi:forge:uninstalled:app"
)

// Headers Forge Remote sends with the app's tokens.
const (
	headerSystemToken = "X-Forge-Oauth-System"
	headerUserToken   = "X-Forge-Oauth-User"
)

// systemTokenRefresh is how old a stored system token may get before a UI
// call that carries a newer one replaces it. Forge's tokens live at least
// 55 minutes, and the hourly trigger refreshes them anyway.
const systemTokenRefresh = 15 * time.Minute

// installationRecheck is how long a process trusts what it last read or
// wrote of an installation before reading it again. The read only decides
// whether to store the invocation's newer system token or addresses, so
// trusting it a minute at most delays such a write by a minute (another
// replica may have written since: then the write was not needed), and
// spares the database one round trip on every UI call.
const installationRecheck = time.Minute

// Config is what the remote backend needs.
type Config struct {
	// AppID is the Forge app's id (ari:cloud:ecosystem::app/<uuid>): the
	// audience of every invocation token.
	AppID string
	// JWKSURL defaults to DefaultJWKSURL.
	JWKSURL string
	Store   Store
	Sealer  relay.Sealer
	Actions *action.Service
	// Directory is the Jira directory the action service's composite
	// directory uses for Jira tenants.
	Directory *Directory
	// Devinfo, when set, is nudged by the hourly trigger.
	Devinfo    *Devinfo
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// OnUninstall, when set, hears about a tenant removed, so that other
	// caches (Sign in with Atlassian) forget it too.
	OnUninstall func(tenantID string)
}

// Route is one remote endpoint, for the server's routes table.
type Route struct {
	Method  string
	Pattern string
	Handler http.Handler
}

// Remote serves the Forge app's remote endpoints.
type Remote struct {
	verifier    *Verifier
	store       Store
	sealer      relay.Sealer
	actions     *action.Service
	dir         *Directory
	devinfo     *Devinfo
	jira        *client
	log         *slog.Logger
	now         func() time.Time
	onUninstall func(string)

	// seen is what this process last read or wrote of each installation
	// (see installationRecheck).
	seenMu sync.Mutex
	seen   map[string]seenInstallation
}

// seenInstallation is an installation as this process last read or wrote
// it, and when.
type seenInstallation struct {
	in store.JiraInstallation
	at time.Time
}

// NewRemote builds the remote backend.
func NewRemote(c Config) *Remote {
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.JWKSURL == "" {
		c.JWKSURL = DefaultJWKSURL
	}
	return &Remote{
		verifier: NewVerifier(c.AppID, NewJWKS(c.JWKSURL, c.HTTPClient, c.Now), c.Now),
		store:    c.Store, sealer: c.Sealer, actions: c.Actions, dir: c.Directory, devinfo: c.Devinfo,
		jira: &client{http: c.HTTPClient}, log: c.Logger, now: c.Now, onUninstall: c.OnUninstall,
		seen: map[string]seenInstallation{},
	}
}

// Routes is the remote's URL surface. The Forge manifest's remote baseUrl
// is gitrelay's public URL, and these paths are what the app's Custom UI
// and triggers call.
func (rm *Remote) Routes() []Route {
	return []Route{
		{"POST", "/forge/lifecycle", rm.backend(rm.lifecycle)},
		{"POST", "/forge/scheduled", rm.backend(rm.scheduled)},

		{"GET", "/forge/issues/{key}/development", rm.user(rm.development)},
		{"POST", "/forge/issues/{key}/branches", rm.user(rm.createBranch)},
		{"DELETE", "/forge/issues/{key}/branches", rm.user(rm.deleteBranch)},
		{"POST", "/forge/issues/{key}/pull-requests", rm.user(rm.createPullRequest)},
		{"GET", "/forge/integrations/{id}/repositories", rm.user(rm.repositories)},
		{"GET", "/forge/integrations/{id}/repositories/{repo_id}/branches", rm.user(rm.branches)},

		{"GET", "/forge/me/tokens", rm.user(rm.myTokens)},
		{"PUT", "/forge/me/tokens/{integration_id}", rm.user(rm.putToken)},
		{"DELETE", "/forge/me/tokens/{integration_id}", rm.user(rm.deleteToken)},

		{"GET", "/forge/integrations", rm.user(rm.integrations)},
		{"POST", "/forge/integrations", rm.user(rm.createIntegration)},
		{"PATCH", "/forge/integrations/{id}", rm.user(rm.patchIntegration)},
		{"DELETE", "/forge/integrations/{id}", rm.user(rm.deleteIntegration)},
		{"GET", "/forge/admin/devinfo", rm.user(rm.devinfoStatus)},
		{"POST", "/forge/admin/uninstall", rm.user(rm.uninstall)},
	}
}

// Handler serves every route on one mux (for tests and simple mounting).
func (rm *Remote) Handler() http.Handler {
	m := http.NewServeMux()
	for _, rt := range rm.Routes() {
		m.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	return m
}

// call is one verified invocation.
type call struct {
	inv Invocation
	p   relay.Principal
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c call) error

// backend serves trigger invocations (no user): the system token they
// carry is always stored.
func (rm *Remote) backend(h handlerFunc) http.Handler {
	return rm.invoke(h, false)
}

// user serves UI invocations: the invoking user and their token are
// required.
func (rm *Remote) user(h handlerFunc) http.Handler {
	return rm.invoke(h, true)
}

func (rm *Remote) invoke(h handlerFunc, needUser bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		inv, err := rm.authenticate(r)
		if err != nil {
			// Forge treats 401 as "validation failed"; why is for our log.
			rm.log.WarnContext(r.Context(), "refused a Forge invocation", "path", r.URL.Path, "reason", err.Error())
			httpx.WriteError(w, r, rm.log, relay.Errorf(relay.EUnauthenticated, "Invalid Forge invocation."))
			return
		}
		if err := rm.keepInstallation(r.Context(), inv, r.Header.Get(headerSystemToken), !needUser); err != nil {
			httpx.WriteError(w, r, rm.log, err)
			return
		}
		httpx.NoteUser(r.Context(), inv.InstallationID, "")
		c := call{inv: inv}
		ctx := r.Context()
		if needUser {
			userToken := r.Header.Get(headerUserToken)
			if inv.AccountID == "" || userToken == "" {
				rm.log.WarnContext(ctx, "refused a Forge invocation", "path", r.URL.Path, "reason", "no principal or user token")
				httpx.WriteError(w, r, rm.log, relay.Errorf(relay.EUnauthenticated, "Invalid Forge invocation."))
				return
			}
			c.p = relay.Principal{TenantID: inv.InstallationID, UserID: inv.AccountID, Username: inv.AccountID, DisplayName: inv.AccountID}
			ctx = WithUser(ctx, c.p, inv.APIBaseURL, userToken)
			prof, err := rm.dir.profile(ctx, c.p)
			if err != nil {
				httpx.WriteError(w, r, rm.log, err)
				return
			}
			c.p.DisplayName, c.p.Admin = prof.displayName, prof.admin
			httpx.NoteUser(ctx, c.p.TenantID, c.p.UserID)
			r = r.WithContext(ctx)
		}
		r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
		if err := h(w, r, c); err != nil {
			httpx.WriteError(w, r, rm.log, err)
		}
	})
}

func (rm *Remote) authenticate(r *http.Request) (Invocation, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Invocation{}, errors.New("no bearer token")
	}
	return rm.verifier.Verify(r.Context(), strings.TrimSpace(token))
}

// keepInstallation records the installation (a lost installed event must
// not lock a site out) and keeps its system token current.
func (rm *Remote) keepInstallation(ctx context.Context, inv Invocation, systemToken string, always bool) error {
	in := store.JiraInstallation{TenantID: inv.InstallationID, AppID: inv.AppID, CloudID: inv.CloudID,
		SiteURL: inv.SiteURL, APIBaseURL: inv.APIBaseURL, SystemTokenAt: rm.now()}
	old, known, err := rm.installation(ctx, inv.InstallationID)
	if err != nil {
		return err
	}
	stale := !known || old.SystemTokenAt.IsZero() || rm.now().Sub(old.SystemTokenAt) > systemTokenRefresh ||
		old.APIBaseURL != inv.APIBaseURL || (inv.SiteURL != "" && old.SiteURL != inv.SiteURL)
	if !always && !stale {
		return nil
	}
	var sealed []byte
	if systemToken != "" {
		sealed, err = rm.sealer.Seal([]byte(systemToken), store.JiraSystemTokenOwner(inv.InstallationID))
		if err != nil {
			return err
		}
	}
	if err := rm.store.PutJiraInstallation(ctx, in, sealed); err != nil {
		rm.forgetInstallation(inv.InstallationID)
		return err
	}
	if systemToken == "" {
		// What a call without a system token stored keeps the old one's
		// time: read it again next time.
		rm.forgetInstallation(inv.InstallationID)
	} else {
		rm.rememberInstallation(in)
	}
	return nil
}

// installation is the stored installation (known false: none), as this
// process last read or wrote it within installationRecheck, or read now.
func (rm *Remote) installation(ctx context.Context, tenantID string) (store.JiraInstallation, bool, error) {
	rm.seenMu.Lock()
	s, ok := rm.seen[tenantID]
	rm.seenMu.Unlock()
	if ok && rm.now().Sub(s.at) < installationRecheck {
		return s.in, true, nil
	}
	in, err := rm.store.JiraInstallation(ctx, tenantID)
	if relay.ErrorCode(err) == relay.ENotFound {
		return store.JiraInstallation{}, false, nil
	}
	if err != nil {
		return store.JiraInstallation{}, false, err
	}
	rm.rememberInstallation(in)
	return in, true, nil
}

func (rm *Remote) rememberInstallation(in store.JiraInstallation) {
	rm.seenMu.Lock()
	defer rm.seenMu.Unlock()
	rm.seen[in.TenantID] = seenInstallation{in: in, at: rm.now()}
}

func (rm *Remote) forgetInstallation(tenantID string) {
	rm.seenMu.Lock()
	defer rm.seenMu.Unlock()
	delete(rm.seen, tenantID)
}

// lifecycle handles installed and upgraded events (and uninstalled, should
// Forge send one).
func (rm *Remote) lifecycle(w http.ResponseWriter, r *http.Request, c call) error {
	// Forge's events carry many fields gitrelay does not use (and may add
	// more): only eventType is read, so this body is not decoded strictly
	// like the UI's requests (httpx.DecodeJSON). The body is bounded by
	// invoke's MaxBytesReader.
	var ev struct {
		EventType string `json:"eventType"`
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return relay.Errorf(relay.EInvalid, "The request body could not be read.")
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &ev); err != nil {
			return relay.Errorf(relay.EInvalid, "The request body is not valid JSON.")
		}
	}
	switch ev.EventType {
	case EventUninstalled:
		if err := rm.removeTenant(r.Context(), c.inv.InstallationID); err != nil {
			return err
		}
	default:
		// A reinstall is a new installation of the same site: what the old
		// one held (PATs, credentials, tokens) goes with it.
		if c.inv.CloudID != "" {
			olds, err := rm.store.JiraInstallationsByCloud(r.Context(), c.inv.CloudID)
			if err != nil {
				return err
			}
			for _, o := range olds {
				if o.TenantID != c.inv.InstallationID && o.AppID == c.inv.AppID {
					if err := rm.removeTenant(r.Context(), o.TenantID); err != nil {
						return err
					}
				}
			}
		}
		rm.log.InfoContext(r.Context(), "Jira installation recorded", "tenant", c.inv.InstallationID, "event", ev.EventType)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rm *Remote) removeTenant(ctx context.Context, tenantID string) error {
	if err := rm.store.DeleteJiraTenant(ctx, tenantID); err != nil {
		return err
	}
	rm.dir.forget(tenantID)
	rm.forgetInstallation(tenantID)
	if rm.onUninstall != nil {
		rm.onUninstall(tenantID)
	}
	rm.log.InfoContext(ctx, "Jira installation removed", "tenant", tenantID)
	return nil
}

// scheduled is the hourly trigger: its real work (storing the fresh system
// token) is done for every backend call; it also wakes the devinfo pusher,
// which may have waited for that token.
func (rm *Remote) scheduled(w http.ResponseWriter, r *http.Request, c call) error {
	if rm.devinfo != nil {
		rm.devinfo.Nudge(r.Context())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uninstall lets a Jira administrator disconnect the site from gitrelay:
// Forge sends no uninstall event, so this (or a reinstall) is how a site's
// secrets are removed.
func (rm *Remote) uninstall(w http.ResponseWriter, r *http.Request, c call) error {
	if !c.p.Admin {
		return relay.Errorf(relay.EForbidden, "Only Jira administrators can disconnect the site from gitrelay.")
	}
	if err := rm.removeTenant(r.Context(), c.p.TenantID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rm *Remote) development(w http.ResponseWriter, r *http.Request, c call) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	d, err := rm.actions.Development(r.Context(), c.p, key)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.DevelopmentOf(d))
	return nil
}

func (rm *Remote) createBranch(w http.ResponseWriter, r *http.Request, c call) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	var req struct {
		IntegrationID string `json:"integration_id"`
		RepositoryID  string `json:"repository_id"`
		Base          string `json:"base"`
		Name          string `json:"name"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	br := action.BranchRequest{IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Base: req.Base, Name: req.Name}
	if req.Name == "" {
		// The branch name template needs the issue's summary and type,
		// which only Jira knows; the user's own token reads them.
		u, err := userFrom(r.Context(), c.p)
		if err != nil {
			return err
		}
		is, err := rm.jira.issue(r.Context(), u.apiBase, u.token, key)
		if err != nil {
			return err
		}
		br.Summary, br.IssueType = is.Summary, is.Type
	}
	res, err := rm.actions.CreateBranch(r.Context(), c.p, key, br)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.BranchCreatedOf(res, c.p.Username))
	return nil
}

func (rm *Remote) deleteBranch(w http.ResponseWriter, r *http.Request, c call) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	var req struct {
		IntegrationID string `json:"integration_id"`
		RepositoryID  string `json:"repository_id"`
		Name          string `json:"name"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := rm.actions.DeleteBranch(r.Context(), c.p, key, action.DeleteBranchRequest{
		IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Name: req.Name}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rm *Remote) createPullRequest(w http.ResponseWriter, r *http.Request, c call) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	var req struct {
		IntegrationID string `json:"integration_id"`
		RepositoryID  string `json:"repository_id"`
		Source        string `json:"source"`
		Target        string `json:"target"`
		Title         string `json:"title"`
		Description   string `json:"description"`
		Draft         bool   `json:"draft"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	pr := action.PullRequestRequest{IntegrationID: req.IntegrationID, RepositoryID: req.RepositoryID, Source: req.Source,
		Target: req.Target, Title: req.Title, Description: req.Description, Draft: req.Draft}
	if req.Title == "" {
		u, err := userFrom(r.Context(), c.p)
		if err != nil {
			return err
		}
		is, err := rm.jira.issue(r.Context(), u.apiBase, u.token, key)
		if err != nil {
			return err
		}
		pr.Summary = is.Summary
	}
	res, err := rm.actions.CreatePullRequest(r.Context(), c.p, key, pr)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.PullRequestCreatedOf(res, c.p.Username))
	return nil
}

func (rm *Remote) repositories(w http.ResponseWriter, r *http.Request, c call) error {
	repos, err := rm.actions.SearchRepositories(r.Context(), c.p, r.PathValue("id"),
		action.RepositorySearch{Query: r.URL.Query().Get("q"), Limit: action.DefaultRepositoryLimit})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.RepositoriesOf(repos))
	return nil
}

func (rm *Remote) branches(w http.ResponseWriter, r *http.Request, c call) error {
	bs, err := rm.actions.Branches(r.Context(), c.p, r.PathValue("id"), r.PathValue("repo_id"), r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.BranchesOf(bs))
	return nil
}

func (rm *Remote) myTokens(w http.ResponseWriter, r *http.Request, c call) error {
	views, err := rm.actions.MyTokens(r.Context(), c.p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.TokensOf(views))
	return nil
}

func (rm *Remote) putToken(w http.ResponseWriter, r *http.Request, c call) error {
	var req httpx.Credential
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	v, err := rm.actions.SaveToken(r.Context(), c.p, r.PathValue("integration_id"), req.Credential())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.TokenOf(v))
	return nil
}

func (rm *Remote) deleteToken(w http.ResponseWriter, r *http.Request, c call) error {
	if err := rm.actions.RemoveToken(r.Context(), c.p, r.PathValue("integration_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rm *Remote) integrations(w http.ResponseWriter, r *http.Request, c call) error {
	ins, err := rm.actions.Integrations(r.Context(), c.p)
	if err != nil {
		return err
	}
	out := make([]httpx.Integration, 0, len(ins))
	for _, in := range ins {
		out = append(out, httpx.IntegrationOf(in, nil))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (rm *Remote) createIntegration(w http.ResponseWriter, r *http.Request, c call) error {
	var req struct {
		Kind           relay.Kind        `json:"kind"`
		Name           string            `json:"name"`
		BaseURL        string            `json:"base_url"`
		Options        map[string]string `json:"options"`
		Credential     httpx.Credential  `json:"credential"`
		RequireUserPAT bool              `json:"require_user_pat"`
		Projects       []string          `json:"projects"`
		Enabled        *bool             `json:"enabled"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	in, warnings, err := rm.actions.CreateIntegration(r.Context(), c.p, action.IntegrationInput{
		Kind: req.Kind, Name: req.Name, BaseURL: req.BaseURL, Options: req.Options, Credential: req.Credential.Credential(),
		RequireUserPAT: req.RequireUserPAT, Projects: req.Projects, Enabled: req.Enabled})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, httpx.IntegrationOf(in, warnings))
	return nil
}

func (rm *Remote) patchIntegration(w http.ResponseWriter, r *http.Request, c call) error {
	var req struct {
		Name           *string           `json:"name"`
		BaseURL        *string           `json:"base_url"`
		Options        map[string]string `json:"options"`
		Credential     *httpx.Credential `json:"credential"`
		RequireUserPAT *bool             `json:"require_user_pat"`
		Enabled        *bool             `json:"enabled"`
		Projects       *[]string         `json:"projects"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	patch := action.IntegrationPatch{Name: req.Name, BaseURL: req.BaseURL, Options: req.Options,
		RequireUserPAT: req.RequireUserPAT, Enabled: req.Enabled}
	if req.Credential != nil {
		cred := req.Credential.Credential()
		patch.Credential = &cred
	}
	if req.Projects != nil {
		patch.SetProjects, patch.Projects = true, *req.Projects
	}
	in, warnings, err := rm.actions.UpdateIntegration(r.Context(), c.p, r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.IntegrationOf(in, warnings))
	return nil
}

func (rm *Remote) deleteIntegration(w http.ResponseWriter, r *http.Request, c call) error {
	if err := rm.actions.DeleteIntegration(r.Context(), c.p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// devinfoStatus shows administrators what is waiting to reach Jira and what
// Jira refused.
func (rm *Remote) devinfoStatus(w http.ResponseWriter, r *http.Request, c call) error {
	if !c.p.Admin {
		return relay.Errorf(relay.EForbidden, "Only Jira administrators can see the development information queue.")
	}
	limit := 100
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 1000 {
		limit = n
	}
	queued, err := rm.store.QueuedDevinfo(r.Context(), c.p.TenantID, limit)
	if err != nil {
		return err
	}
	failures, err := rm.store.DevinfoFailures(r.Context(), c.p.TenantID, limit)
	if err != nil {
		return err
	}
	out := devinfoStatusJSON{Queued: []queuedJSON{}, Failures: []failureJSON{}}
	for _, q := range queued {
		out.Queued = append(out.Queued, queuedJSON{ID: q.ID, Op: q.Op, UpdateSequenceID: q.Sequence, Attempts: q.Attempts,
			NextAttemptAt: q.NextAttemptAt.UTC(), LastError: q.LastError, QueuedAt: q.CreatedAt.UTC()})
	}
	for _, f := range failures {
		out.Failures = append(out.Failures, failureJSON{At: f.At.UTC(), EntityType: f.EntityType, EntityID: f.EntityID,
			RepositoryID: f.RepositoryID, IssueKeys: f.IssueKeys, Reason: f.Reason})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// constantTimeEqual compares secrets without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
