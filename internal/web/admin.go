package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/httperr"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// settingsData is General settings.
type settingsData struct {
	relay.Settings
	Preview      string
	PreviewError string
}

// sampleIssue is the issue General settings previews names for.
var sampleIssue = branchname.Vars{IssueKey: "ABC-123", Summary: "Fix login timeout on slow networks", IssueType: "Bug",
	ProjectKey: "ABC", DisplayName: "Sample User", SourceBranch: "main"}

func preview(st relay.Settings) (string, string) {
	name, err := branchname.Render(branchname.Options{Template: st.BranchTemplate, Separator: st.Separator, MaxLength: st.MaxBranchLength}, sampleIssue)
	if err != nil {
		return "", relay.ErrorMessage(err)
	}
	return name, ""
}

// Settings shows General settings.
func (p *Pages) Settings(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	st, err := p.c.Actions.Settings(r.Context(), v.P)
	if err != nil {
		return err
	}
	fl := p.takeFlash(r)
	if fl.Form != nil {
		// Refused: the settings as sent.
		st = settingsFromForm(fl.Form)
	}
	d := settingsData{Settings: st}
	d.Preview, d.PreviewError = preview(st)
	p.render(w, r, fl.status(), "settings", "General settings", d, fl.Error, fl.Notice)
	return nil
}

func settingsFromForm(f url.Values) relay.Settings {
	n, _ := strconv.Atoi(strings.TrimSpace(f.Get("max_branch_length")))
	return relay.Settings{BranchesEnabled: f.Get("branches_enabled") == "on",
		PullRequestsEnabled: f.Get("pull_requests_enabled") == "on",
		BranchTemplate:      f.Get("branch_template"), Separator: f.Get("separator"), MaxBranchLength: n}
}

// SaveSettings saves General settings.
func (p *Pages) SaveSettings(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	st := settingsFromForm(r.PostForm)
	if _, err := p.c.Actions.UpdateSettings(r.Context(), v.P, st); err != nil {
		perr := toPageError(err)
		return p.redirectWith(w, r, "/admin/settings", flash{Status: httperr.Status(perr.Code), Error: perr, Form: p.keepable(r.PostForm)})
	}
	return p.redirectWith(w, r, "/admin/settings", flash{Notice: "The settings were saved."})
}

// SettingsPreview renders the branch name the unsaved settings in the query
// would give the sample issue, for the live preview.
func (p *Pages) SettingsPreview(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("max_branch_length"))
	name, msg := preview(relay.Settings{BranchTemplate: q.Get("branch_template"), Separator: q.Get("separator"), MaxBranchLength: n})
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"name": name, "error": msg, "issue": sampleIssue.IssueKey + " " + sampleIssue.Summary})
	return nil
}

type auditData struct {
	Events       []relay.AuditEvent
	Filter       auditFilterForm
	Integrations map[string]string
	CSVURL       string
	Limited      bool
	// RepoNames names, by event id, repositories recorded by id.
	RepoNames map[string]string
	// UserNames are display names by user id.
	UserNames map[string]string
}

type auditFilterForm struct {
	Username, IntegrationID, Action, Outcome, Since, Until string
}

// auditPageSize bounds the audit table; the CSV export has a larger bound.
const (
	auditPageSize  = 200
	auditExportMax = 100000
)

func (p *Pages) auditQuery(r *http.Request, limit int) (relay.AuditFilter, auditFilterForm, error) {
	q := r.URL.Query()
	ff := auditFilterForm{Username: strings.TrimSpace(q.Get("user")), IntegrationID: q.Get("integration"),
		Action: q.Get("action"), Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
	f := relay.AuditFilter{Username: strings.ToLower(ff.Username), IntegrationID: ff.IntegrationID, Action: ff.Action,
		Outcome: ff.Outcome, Limit: limit}
	fields := map[string]string{}
	if ff.Since != "" {
		t, err := time.Parse("2006-01-02", ff.Since)
		if err != nil {
			fields["since"] = "Use a date such as 2026-01-31."
		}
		f.Since = t
	}
	if ff.Until != "" {
		t, err := time.Parse("2006-01-02", ff.Until)
		if err != nil {
			fields["until"] = "Use a date such as 2026-01-31."
		}
		// Until is inclusive of the whole day.
		f.Until = t.Add(24 * time.Hour)
	}
	if len(fields) > 0 {
		return f, ff, &relay.Error{Code: relay.EInvalid, Message: "The time range is not valid: use dates such as 2026-01-31.", Fields: fields}
	}
	return f, ff, nil
}

// Audit shows the audit log with filters.
func (p *Pages) Audit(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	f, ff, ferr := p.auditQuery(r, auditPageSize+1)
	d := auditData{Filter: ff, Integrations: map[string]string{}, CSVURL: "/admin/audit.csv"}
	if r.URL.RawQuery != "" {
		d.CSVURL += "?" + r.URL.RawQuery
	}
	ins, err := p.c.Actions.Integrations(r.Context(), v.P)
	if err != nil {
		return err
	}
	for _, in := range ins {
		d.Integrations[in.ID] = in.Name
	}
	if ferr != nil {
		perr := toPageError(ferr)
		p.render(w, r, httperr.Status(perr.Code), "audit", "Audit log", d, perr, "")
		return nil
	}
	events, err := p.c.Actions.Audit(r.Context(), v.P, f)
	if err != nil {
		return err
	}
	if len(events) > auditPageSize {
		events, d.Limited = events[:auditPageSize], true
	}
	d.Events = events
	d.RepoNames = p.repositoryNames(r, v, events)
	d.UserNames = p.userNames(r, v, events)
	p.render(w, r, http.StatusOK, "audit", "Audit log", d, nil, "")
	return nil
}

// AuditCSV exports the filtered audit log, in the API's CSV (one exporter
// for both).
func (p *Pages) AuditCSV(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	f, _, err := p.auditQuery(r, auditExportMax)
	if err != nil {
		return err
	}
	events, err := p.c.Actions.Audit(r.Context(), v.P, f)
	if err != nil {
		return err
	}
	return httpx.WriteAuditCSV(w, events)
}

type directoryData struct {
	Users    []relay.User
	Projects []relay.Project
	Grants   []relay.Grant
}

// Directory shows users, projects and View Development Tools grants.
func (p *Pages) Directory(w http.ResponseWriter, r *http.Request) error {
	fl := p.takeFlash(r)
	return p.renderDirectory(w, r, fl.status(), directoryData{}, fl.Error, fl.Notice)
}

// directoryOutcome redirects to the directory page with an error or a
// notice.
func (p *Pages) directoryOutcome(w http.ResponseWriter, r *http.Request, perr *pageError, notice string) error {
	fl := flash{Notice: notice}
	if perr != nil && perr.Code == relay.EForbidden {
		// Not allowed at all (a Jira site's people are managed in Jira):
		// the error page, as for the page itself.
		return &relay.Error{Code: perr.Code, Message: perr.Message}
	}
	if perr != nil {
		fl = flash{Status: httperr.Status(perr.Code), Error: perr}
		if perr.Code == "" {
			fl.Status = http.StatusUnprocessableEntity
		}
	}
	return p.redirectWith(w, r, "/admin/directory", fl)
}

func (p *Pages) renderDirectory(w http.ResponseWriter, r *http.Request, status int, d directoryData, perr *pageError, notice string) error {
	v := viewerFrom(r.Context())
	var err error
	if d.Users, err = p.c.Directory.Users(r.Context(), v.P.TenantID); err != nil {
		return err
	}
	if d.Projects, err = p.c.Directory.Projects(r.Context(), v.P.TenantID); err != nil {
		return err
	}
	if d.Grants, err = p.c.Directory.Grants(r.Context(), v.P.TenantID); err != nil {
		return err
	}
	p.render(w, r, status, "directory", "Users and projects", d, perr, notice)
	return nil
}

// AddUser adds a user with the initial password the administrator typed.
// The page never generates or shows a password: pages never show secrets.
func (p *Pages) AddUser(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if r.PostFormValue("password") == "" {
		msg := "Type an initial password (at least 10 characters) and give it to the user; they can change it under Change password."
		return p.directoryOutcome(w, r, &pageError{Message: msg, Fields: map[string]string{"password": msg}}, "")
	}
	_, _, err := p.c.Directory.AddUser(r.Context(), v.P.TenantID, directory.NewUser{Username: r.PostFormValue("username"),
		DisplayName: r.PostFormValue("display_name"), Email: r.PostFormValue("email"), Admin: r.PostFormValue("admin") == "on",
		Password: r.PostFormValue("password")})
	if err != nil {
		return p.directoryOutcome(w, r, toPageError(err), "")
	}
	return p.directoryOutcome(w, r, nil, "The user was added.")
}

// AddProject adds a project.
func (p *Pages) AddProject(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if _, err := p.c.Directory.AddProject(r.Context(), v.P.TenantID, r.PostFormValue("key"), r.PostFormValue("name")); err != nil {
		return p.directoryOutcome(w, r, toPageError(err), "")
	}
	return p.directoryOutcome(w, r, nil, "The project was added.")
}

// AddGrant grants View Development Tools on a project.
func (p *Pages) AddGrant(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	username := strings.TrimSpace(r.PostFormValue("username"))
	if r.PostFormValue("everyone") == "on" {
		username = ""
	} else if username == "" {
		perr := &pageError{Message: "Type a username, or tick Everyone.", Fields: map[string]string{"username": "Type a username, or tick Everyone."}}
		return p.directoryOutcome(w, r, perr, "")
	}
	if _, err := p.c.Directory.Grant(r.Context(), v.P.TenantID, r.PostFormValue("project"), username); err != nil {
		return p.directoryOutcome(w, r, toPageError(err), "")
	}
	return p.directoryOutcome(w, r, nil, "View Development Tools was granted.")
}

type homeData struct {
	Projects []string
}

// Home is the landing page: the demo's guide, or where to go next.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if v == nil && p.c.Demo == nil {
		redirect(w, r, "/login")
		return nil
	}
	var d homeData
	// Projects are listed from the built-in directory; Jira users reach
	// their issues from Jira.
	if v != nil && v.P.TenantID == p.c.TenantID {
		projects, err := p.c.Directory.DevToolsProjects(r.Context(), v.P)
		if err != nil {
			return err
		}
		d.Projects = projects
	}
	p.render(w, r, http.StatusOK, "home", "gitrelay", d, nil, "")
	return nil
}

// userNames gives the display names of the events' users, by user id, as
// people know each other ("Bob Builder", not "bob"); the page shows the
// username where there is none (a user deleted since, or an account the
// directory does not hold).
func (p *Pages) userNames(r *http.Request, v *viewer, events []relay.AuditEvent) map[string]string {
	out := map[string]string{}
	tried := map[string]bool{}
	for _, e := range events {
		if e.UserID == "" || tried[e.UserID] {
			continue
		}
		tried[e.UserID] = true
		u, err := p.c.Store.User(r.Context(), v.P.TenantID, e.UserID)
		if err != nil {
			if relay.ErrorCode(err) != relay.ENotFound {
				p.log.WarnContext(r.Context(), "naming users in the audit log", "err", err)
			}
			continue
		}
		if name := strings.TrimSpace(u.DisplayName); name != "" {
			out[e.UserID] = name
		}
	}
	return out
}

// repositoryNames names, by event id, the repositories that events
// recorded by id only (an attempt refused before the host named the
// repository), from the repository cache. A name that cannot be read
// leaves the id shown.
func (p *Pages) repositoryNames(r *http.Request, v *viewer, events []relay.AuditEvent) map[string]string {
	var ids []string
	seen := map[string]bool{}
	for _, e := range events {
		if e.Repository != "" && e.IntegrationID != "" && !strings.Contains(e.Repository, "/") && !seen[e.Repository] {
			seen[e.Repository] = true
			ids = append(ids, e.Repository)
		}
	}
	out := map[string]string{}
	if len(ids) == 0 {
		return out
	}
	names, err := p.c.Store.RepositoryNames(r.Context(), v.P.TenantID, ids)
	if err != nil {
		p.log.WarnContext(r.Context(), "naming repositories in the audit log", "err", err)
		return out
	}
	for _, e := range events {
		if name, ok := names[e.IntegrationID+"/"+e.Repository]; ok {
			out[e.ID] = name
		}
	}
	return out
}
