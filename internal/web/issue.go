package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// pickerIntegration is what the repository picker's script needs to know
// of an integration.
type pickerIntegration struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type issueData struct {
	Key, Project, Summary, Type string
	// Forbidden explains why the development panel is not shown.
	Forbidden string
	Dev       action.Development
	// Panel is Dev as the API answers it: what gitrelay created merged
	// with what the index found, and the indexed commits.
	Panel        httpx.Development
	Integrations []pickerIntegration
	BranchName   string
	NameError    string
	Settings     relay.Settings
	Default      *store.RepoDefault
	// IntegrationNames names integrations by id for the panel.
	IntegrationNames map[string]string
	// Failed is the action whose error the page shows ("branch", "pr").
	Failed string
	// Branch and PR are what the dialogs show: what the user typed when
	// the action was refused, otherwise the defaults.
	Branch branchDialog
	PR     prDialog
	// Names gives users' display names by username (built-in directory).
	Names map[string]string
	// ExistingURL links the pull request that already existed.
	ExistingURL string
	// SetupNeeded are the integrations the user cannot act through until
	// they set up a token: the dialogs say so before they are filled in.
	SetupNeeded []action.DevIntegration
}

type branchDialog struct {
	IntegrationID, RepositoryID, RepositoryName, Base, Name string
	MakeDefault                                             bool
}

type prDialog struct {
	IntegrationID, RepositoryID, RepositoryName string
	Source, Target, Title, Description          string
	Draft                                       bool
}

func issueQuery(summary, typ string) string {
	q := url.Values{}
	if summary != "" {
		q.Set("summary", summary)
	}
	if typ != "" {
		q.Set("type", typ)
	}
	return q.Encode()
}

func issuePath(key, summary, typ string) string {
	if q := issueQuery(summary, typ); q != "" {
		return "/issues/" + key + "?" + q
	}
	return "/issues/" + key
}

// Issue shows an issue's development panel. Summary and type come from
// the query, as the tracker's Create branch action passes them; the
// outcome of an action posted from it comes in a flash.
func (p *Pages) Issue(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	fl := p.takeFlash(r)
	return p.renderIssue(w, r, q.Get("summary"), q.Get("type"), fl)
}

func (p *Pages) renderIssue(w http.ResponseWriter, r *http.Request, summary, typ string, fl flash) error {
	v := viewerFrom(r.Context())
	key, project, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	status, perr, notice := fl.status(), fl.Error, fl.Notice
	d := issueData{Key: key, Project: project, Summary: summary, Type: typ, Failed: fl.Failed, ExistingURL: fl.NoticeURL}
	dev, err := p.c.Actions.Development(r.Context(), v.P, key)
	if relay.ErrorCode(err) == relay.EForbidden {
		d.Forbidden = relay.ErrorMessage(err) + " Ask an administrator for it if you need to create branches or pull requests for this issue."
		if p.noSuchProject(r, v, project) {
			d.Forbidden = "There is no project " + project + ": check the issue key, or ask an administrator to add the project under Users and projects."
			status = http.StatusNotFound
		}
		p.render(w, r, status, "issue", key, d, perr, notice)
		return nil
	}
	if err != nil {
		return err
	}
	d.Dev = dev
	d.Panel = httpx.DevelopmentOf(dev)
	d.IntegrationNames = map[string]string{}
	for i, in := range dev.Integrations {
		d.Dev.Integrations[i].SetupURL = withIssueContext(in.SetupURL, key, summary, typ)
		d.Integrations = append(d.Integrations, pickerIntegration{ID: in.ID, Name: in.Name})
		d.IntegrationNames[in.ID] = in.Name
		if in.RequireUserPAT && in.UserTokenStatus != relay.TokenValid && in.UserTokenStatus != relay.TokenExpiring {
			d.SetupNeeded = append(d.SetupNeeded, d.Dev.Integrations[i])
		}
	}
	if d.Settings, err = p.c.Actions.Settings(r.Context(), v.P); err != nil {
		return err
	}
	d.BranchName, err = p.c.Actions.PreviewBranchName(r.Context(), v.P, branchname.Vars{
		IssueKey: key, Summary: summary, IssueType: typ, ProjectKey: project})
	if err != nil {
		d.NameError = relay.ErrorMessage(err)
	}
	def, err := p.c.Store.RepoDefault(r.Context(), v.P.TenantID, v.P.UserID, project)
	switch relay.ErrorCode(err) {
	case "":
		if d.IntegrationNames[def.IntegrationID] != "" {
			d.Default = &def
		}
	case relay.ENotFound:
	default:
		return err
	}
	d.Branch, d.PR = d.dialogDefaults()
	if len(d.Dev.Branches)+len(d.Dev.PullRequests) > 0 {
		d.Names = p.displayNames(r, v)
	}
	if f := fl.Form; f != nil {
		switch fl.Failed {
		case "branch":
			d.Branch = branchDialog{IntegrationID: f.Get("integration_id"), RepositoryID: f.Get("repository_id"),
				RepositoryName: f.Get("repository_name"), Base: f.Get("base"), Name: f.Get("name"), MakeDefault: f.Get("make_default") == "on"}
		case "pr":
			d.PR = prDialog{IntegrationID: f.Get("integration_id"), RepositoryID: f.Get("repository_id"),
				RepositoryName: f.Get("repository_name"), Source: f.Get("source"), Target: f.Get("target"),
				Title: f.Get("title"), Description: f.Get("description"), Draft: f.Get("draft") == "on"}
		}
	}
	p.render(w, r, status, "issue", key, d, perr, notice)
	return nil
}

// dialogDefaults fills the dialogs as they open on a fresh page: the
// user's default repository, the template's branch name, and for a pull
// request the issue's newest branch and the issue's title.
func (d *issueData) dialogDefaults() (branchDialog, prDialog) {
	b := branchDialog{Name: d.BranchName}
	pr := prDialog{Title: d.Key}
	if d.Summary != "" {
		pr.Title += " " + d.Summary
	}
	if def := d.Default; def != nil {
		b.IntegrationID, b.RepositoryID, b.RepositoryName, b.Base, b.MakeDefault = def.IntegrationID, def.RepositoryID, def.RepositoryName, def.BaseBranch, true
		pr.IntegrationID, pr.RepositoryID, pr.RepositoryName = def.IntegrationID, def.RepositoryID, def.RepositoryName
	}
	var newest *relay.BranchRecord
	for i, br := range d.Dev.Branches {
		if newest == nil || !br.CreatedAt.Before(newest.CreatedAt) {
			newest = &d.Dev.Branches[i]
		}
	}
	if newest != nil {
		pr.Source = newest.Name
	}
	return b, pr
}

// actionDone redirects to the issue with a notice.
func (p *Pages) actionDone(w http.ResponseWriter, r *http.Request, key, notice string) error {
	f := r.PostForm
	return p.redirectWith(w, r, issuePath(key, f.Get("summary"), f.Get("type"))+"#development", flash{Notice: notice})
}

// actionFailed redirects to the issue with the error of the action the
// user tried and what they typed, shown at the status the API would
// answer.
func (p *Pages) actionFailed(w http.ResponseWriter, r *http.Request, failed string, err error) error {
	perr := toPageError(err)
	if httperr.Status(perr.Code) >= 500 {
		p.log.ErrorContext(r.Context(), "issue action failed", "path", r.URL.Path, "code", perr.Code, "err", err)
	}
	key, _, kerr := httpx.IssueKey(r)
	if kerr != nil {
		return kerr
	}
	f := r.PostForm
	perr.SetupURL = withIssueContext(perr.SetupURL, key, f.Get("summary"), f.Get("type"))
	anchor := "#action-error"
	return p.redirectWith(w, r, issuePath(key, f.Get("summary"), f.Get("type"))+anchor,
		flash{Status: httperr.Status(perr.Code), Error: perr, Failed: failed, Form: p.keepable(f)})
}

// withIssueContext makes a setup link's way back keep the issue's summary
// and type, so the branch name is pre-filled the same after the detour.
func withIssueContext(setupURL, key, summary, typ string) string {
	if setupURL == "" || (summary == "" && typ == "") {
		return setupURL
	}
	u, err := url.Parse(setupURL)
	if err != nil {
		return setupURL
	}
	q := u.Query()
	if q.Get("return_to") == "" {
		return setupURL
	}
	q.Set("return_to", issuePath(strings.ToUpper(key), summary, typ))
	u.RawQuery = q.Encode()
	return u.String()
}

// CreateBranch creates a branch from the Create branch dialog.
func (p *Pages) CreateBranch(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	key, project, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	f := r.PostForm
	if f.Get("repository_id") == "" {
		return p.actionFailed(w, r, "branch", &relay.Error{Code: relay.EInvalid,
			Message: "Choose a repository: type part of its name in Repository and pick it from the list.",
			Fields:  map[string]string{"repository_id": "Choose a repository."}})
	}
	res, err := p.c.Actions.CreateBranch(r.Context(), v.P, key, action.BranchRequest{
		IntegrationID: f.Get("integration_id"), RepositoryID: f.Get("repository_id"), Base: strings.TrimSpace(f.Get("base")),
		Name: strings.TrimSpace(f.Get("name")), Summary: f.Get("summary"), IssueType: f.Get("type")})
	if err != nil {
		return p.actionFailed(w, r, "branch", err)
	}
	if f.Get("make_default") == "on" {
		err := p.c.Store.PutRepoDefault(r.Context(), store.RepoDefault{TenantID: v.P.TenantID, UserID: v.P.UserID,
			ProjectKey: project, IntegrationID: f.Get("integration_id"), RepositoryID: res.RepositoryID,
			RepositoryName: res.Repository, BaseBranch: strings.TrimSpace(f.Get("base")), UpdatedAt: p.now()})
		if err != nil {
			return err
		}
	}
	notice := "Branch " + res.Name + " was created."
	if res.AlreadyExists {
		notice = "Branch " + res.Name + " already existed at that base; it is listed below."
	}
	return p.actionDone(w, r, key, notice)
}

type deleteData struct {
	Key, Back                            string
	IntegrationID, RepositoryID, Name    string
	Repository, IntegrationName, Summary string
	Type                                 string
	// PullRequests are the issue's pull requests from this branch, which
	// deleting it closes or leaves without a source on most hosts.
	PullRequests []relay.PullRequestRecord
}

// ConfirmDeleteBranch asks before deleting a branch.
func (p *Pages) ConfirmDeleteBranch(w http.ResponseWriter, r *http.Request) error {
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := deleteData{Key: key, IntegrationID: q.Get("integration_id"), RepositoryID: q.Get("repository_id"),
		Name: q.Get("name"), Repository: q.Get("repository"), Summary: q.Get("summary"), Type: q.Get("type")}
	d.Back = issuePath(key, d.Summary, d.Type)
	if dev, err := p.c.Actions.Development(r.Context(), viewerFrom(r.Context()).P, key); err == nil {
		for _, pr := range dev.PullRequests {
			if pr.Source == d.Name && pr.IntegrationID == d.IntegrationID && pr.RepositoryID == d.RepositoryID {
				d.PullRequests = append(d.PullRequests, pr)
			}
		}
	}
	p.render(w, r, http.StatusOK, "delete_branch", "Delete branch "+d.Name, d, nil, "")
	return nil
}

// DeleteBranch deletes a branch listed in the panel.
func (p *Pages) DeleteBranch(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	f := r.PostForm
	err = p.c.Actions.DeleteBranch(r.Context(), v.P, key, action.DeleteBranchRequest{
		IntegrationID: f.Get("integration_id"), RepositoryID: f.Get("repository_id"), Name: f.Get("name")})
	if err != nil {
		return p.actionFailed(w, r, "delete", err)
	}
	return p.actionDone(w, r, key, "Branch "+f.Get("name")+" was deleted.")
}

// CreatePullRequest creates a pull request from the dialog.
func (p *Pages) CreatePullRequest(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	key, _, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	f := r.PostForm
	if f.Get("repository_id") == "" {
		return p.actionFailed(w, r, "pr", &relay.Error{Code: relay.EInvalid,
			Message: "Choose a repository: type part of its name in Repository and pick it from the list.",
			Fields:  map[string]string{"repository_id": "Choose a repository."}})
	}
	res, err := p.c.Actions.CreatePullRequest(r.Context(), v.P, key, action.PullRequestRequest{
		IntegrationID: f.Get("integration_id"), RepositoryID: f.Get("repository_id"),
		Source: strings.TrimSpace(f.Get("source")), Target: strings.TrimSpace(f.Get("target")),
		Title: strings.TrimSpace(f.Get("title")), Description: f.Get("description"), Draft: f.Get("draft") == "on",
		Summary: f.Get("summary")})
	if e, ok := relay.AsError(err); ok && e.Code == relay.EPullRequestExists && e.URL != "" {
		// Not a failure: what was asked for exists. Say so, with its link,
		// as a duplicate branch is.
		return p.redirectWith(w, r, issuePath(key, f.Get("summary"), f.Get("type"))+"#development",
			flash{Notice: "A pull request from " + strings.TrimSpace(f.Get("source")) + " already exists; it was not created again.", NoticeURL: e.URL})
	}
	if err != nil {
		return p.actionFailed(w, r, "pr", err)
	}
	notice := "Pull request created; it is listed below."
	if f.Get("draft") == "on" && !res.Draft {
		// Asked for a draft, got a regular pull request (the action's
		// note says why); an existing pull request is an error, not this.
		notice = "Pull request created as a regular pull request, because this repository or host has no draft pull requests; it is listed below."
	}
	return p.actionDone(w, r, key, notice)
}

// OpenIssue sends the "open an issue" form of the home page to the issue.
func (p *Pages) OpenIssue(w http.ResponseWriter, r *http.Request) error {
	key := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("key")))
	if _, err := branchname.IssueProject(key); err != nil {
		return relay.Errorf(relay.EInvalid, "%q is not an issue key. Type a key such as ABC-123.", r.URL.Query().Get("key"))
	}
	redirect(w, r, issuePath(key, r.URL.Query().Get("summary"), r.URL.Query().Get("type")))
	return nil
}

// noSuchProject says whether the built-in directory has no project key,
// so that a mistyped key is not answered with a missing permission. Jira
// sites answer for their own projects.
func (p *Pages) noSuchProject(r *http.Request, v *viewer, key string) bool {
	if v.External || v.P.TenantID != p.c.TenantID {
		return false
	}
	projects, err := p.c.Directory.Projects(r.Context(), v.P.TenantID)
	if err != nil {
		return false
	}
	for _, pr := range projects {
		if pr.Key == key {
			return false
		}
	}
	return true
}

// displayNames maps usernames to display names, for showing people as
// people ("Bob Builder") rather than accounts. Only the built-in directory
// is listed; elsewhere (and on failure) usernames show as they are.
func (p *Pages) displayNames(r *http.Request, v *viewer) map[string]string {
	if v.External || v.P.TenantID != p.c.TenantID {
		return nil
	}
	users, err := p.c.Directory.Users(r.Context(), v.P.TenantID)
	if err != nil {
		return nil
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		if u.DisplayName != "" {
			names[u.Username] = u.DisplayName
		}
	}
	return names
}
