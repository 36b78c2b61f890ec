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
// the query, as the tracker's Create branch action passes them.
func (p *Pages) Issue(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	notice := ""
	switch q.Get("done") {
	case "branch":
		notice = "Branch " + q.Get("name") + " was created."
	case "branch-existed":
		notice = "Branch " + q.Get("name") + " already existed at that base; it is listed below."
	case "branch-deleted":
		notice = "Branch " + q.Get("name") + " was deleted."
	case "pr":
		notice = "Pull request created; it is listed below."
	case "pr-not-draft":
		notice = "Pull request created as a regular pull request, because this repository or host has no draft pull requests; it is listed below."
	}
	return p.renderIssue(w, r, http.StatusOK, q.Get("summary"), q.Get("type"), "", nil, notice)
}

func (p *Pages) renderIssue(w http.ResponseWriter, r *http.Request, status int, summary, typ, failed string, perr *pageError, notice string) error {
	v := viewerFrom(r.Context())
	key, project, err := httpx.IssueKey(r)
	if err != nil {
		return err
	}
	d := issueData{Key: key, Project: project, Summary: summary, Type: typ, Failed: failed}
	dev, err := p.c.Actions.Development(r.Context(), v.P, key)
	if relay.ErrorCode(err) == relay.EForbidden {
		d.Forbidden = relay.ErrorMessage(err) + " Ask an administrator for it if you need to create branches or pull requests for this issue."
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
	p.render(w, r, status, "issue", key, d, perr, notice)
	return nil
}

// actionFailed re-renders the issue with the error of the action the user
// tried, at the status the API would answer.
func (p *Pages) actionFailed(w http.ResponseWriter, r *http.Request, failed string, err error) error {
	perr := toPageError(err)
	if httperr.Status(perr.Code) >= 500 {
		p.log.ErrorContext(r.Context(), "issue action failed", "path", r.URL.Path, "code", perr.Code, "err", err)
	}
	perr.SetupURL = withIssueContext(perr.SetupURL, r.PathValue("key"), r.PostFormValue("summary"), r.PostFormValue("type"))
	return p.renderIssue(w, r, httperr.Status(perr.Code), r.PostFormValue("summary"), r.PostFormValue("type"), failed, perr, "")
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
	done := "branch"
	if res.AlreadyExists {
		done = "branch-existed"
	}
	q := url.Values{"done": {done}, "name": {res.Name}}
	if s := f.Get("summary"); s != "" {
		q.Set("summary", s)
	}
	if t := f.Get("type"); t != "" {
		q.Set("type", t)
	}
	redirect(w, r, "/issues/"+key+"?"+q.Encode()+"#development")
	return nil
}

type deleteData struct {
	Key, Back                            string
	IntegrationID, RepositoryID, Name    string
	Repository, IntegrationName, Summary string
	Type                                 string
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
	q := url.Values{"done": {"branch-deleted"}, "name": {f.Get("name")}}
	if s := f.Get("summary"); s != "" {
		q.Set("summary", s)
	}
	if t := f.Get("type"); t != "" {
		q.Set("type", t)
	}
	redirect(w, r, "/issues/"+key+"?"+q.Encode()+"#development")
	return nil
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
	if err != nil {
		return p.actionFailed(w, r, "pr", err)
	}
	q := url.Values{"done": {"pr"}}
	if f.Get("draft") == "on" && !res.Draft {
		// Asked for a draft, got a regular pull request (the action's
		// note says why); an existing pull request is an error, not this.
		q.Set("done", "pr-not-draft")
	}
	if s := f.Get("summary"); s != "" {
		q.Set("summary", s)
	}
	if t := f.Get("type"); t != "" {
		q.Set("type", t)
	}
	redirect(w, r, "/issues/"+key+"?"+q.Encode()+"#development")
	return nil
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
