package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// kindInfo describes a host kind to the Add integration form: which fields
// it needs. Kinds the form does not know (added later) get the common
// fields: base URL and token.
type kindInfo struct {
	Kind  relay.Kind
	Label string
	// BaseURL: the kind needs a base URL; BaseURLHint is its shape.
	BaseURL     bool
	BaseURLHint string
	// Options are the kind-specific settings, by option key.
	Options []kindOption
	// Credential is "token", "password" (TFS 2013/2015 choose by version)
	// or "keypair".
	Credential string
	PAT        bool
	TokenHelp  string
}

type kindOption struct {
	Key, Label, Hint, Default string
	Choices                   []string
}

var knownKinds = map[relay.Kind]kindInfo{
	"github":              {Label: "GitHub.com", Credential: "token"},
	"github-enterprise":   {Label: "GitHub Enterprise Server", BaseURL: true, BaseURLHint: "https://github.example.com", Credential: "token"},
	"gitlab":              {Label: "GitLab.com", Credential: "token"},
	"gitlab-self-managed": {Label: "GitLab self-managed", BaseURL: true, BaseURLHint: "https://gitlab.example.com", Credential: "token"},
	"azure-devops":        {Label: "Azure DevOps Services", BaseURL: true, BaseURLHint: "https://dev.azure.com/your-org", Credential: "token"},
	"vsts":                {Label: "Visual Studio Team Services", BaseURL: true, BaseURLHint: "https://account.visualstudio.com", Credential: "token"},
	"tfs": {Label: "Team Foundation Server / Azure DevOps Server", BaseURL: true, BaseURLHint: "https://tfs.example.com",
		Credential: "token", Options: []kindOption{
			{Key: "suffix", Label: "Path suffix", Hint: "Usually /tfs", Default: "/tfs"},
			{Key: "collection", Label: "Collection", Hint: "e.g. DefaultCollection", Default: "DefaultCollection"},
			{Key: "server_version", Label: "Server version", Choices: []string{"2022", "2020", "2019", "2018", "2017", "2015", "2013"}},
		}},
	"codecommit": {Label: "AWS CodeCommit", Credential: "keypair", Options: []kindOption{
		{Key: "region", Label: "Region", Hint: "e.g. eu-west-1"},
	}},
	"gitea": {Label: "Gitea / Forgejo", BaseURL: true, BaseURLHint: "https://gitea.example.com", Credential: "token"},
}

func (p *Pages) kinds() []kindInfo {
	var out []kindInfo
	for _, k := range p.c.Kinds {
		info, ok := knownKinds[k]
		if !ok {
			info = kindInfo{Label: string(k), BaseURL: true, Credential: "token"}
		}
		info.Kind = k
		caps := p.c.Hosts.Capabilities(relay.HostConfig{Kind: k})
		info.PAT, info.TokenHelp = caps.PAT, caps.TokenHelp
		out = append(out, info)
	}
	return out
}

func kindLabel(k relay.Kind) string {
	if info, ok := knownKinds[k]; ok {
		return info.Label
	}
	return string(k)
}

// integrationRow is one row of Manage Git repositories.
type integrationRow struct {
	relay.Integration
	KindLabel string
	Repos     int
	Health    string
	Healthy   bool
}

type integrationsData struct {
	Rows []integrationRow
}

// healthTimeout bounds the per-integration check the list page makes.
const healthTimeout = 5 * time.Second

// Integrations is Manage Git repositories: every integration with its
// repository count and health, read through each integration account.
func (p *Pages) Integrations(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	ins, err := p.c.Actions.Integrations(r.Context(), v.P)
	if err != nil {
		return err
	}
	rows := make([]integrationRow, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		rows[i] = integrationRow{Integration: in, KindLabel: kindLabel(in.Kind)}
		if !in.Enabled {
			rows[i].Health = "Disabled"
			continue
		}
		wg.Add(1)
		go func(row *integrationRow) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			repos, err := p.c.Actions.Repositories(ctx, v.P, row.ID, "")
			if err != nil {
				row.Health = relay.ErrorMessage(err)
				return
			}
			row.Repos, row.Health, row.Healthy = len(repos), "Connected", true
		}(&rows[i])
	}
	wg.Wait()
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The integration was created."
	case "deleted":
		notice = "The integration was deleted, with every user's token for it."
	}
	p.render(w, r, http.StatusOK, "integrations", "Manage Git repositories", integrationsData{Rows: rows}, nil, notice)
	return nil
}

type integrationForm struct {
	Kinds    []kindInfo
	Kind     string
	Name     string
	BaseURL  string
	Options  map[string]string
	Projects string
	// Restrict: "restrict to projects" rather than all projects.
	Restrict       bool
	RequireUserPAT bool
	Enabled        bool
	Existing       *relay.Integration
	KindLabel      string
	Warnings       []string
	TestResult     string
	TestOK         bool
	PAT            bool
}

// NewIntegration shows Add integration.
func (p *Pages) NewIntegration(w http.ResponseWriter, r *http.Request) error {
	f := integrationForm{Kinds: p.kinds(), Options: map[string]string{}, Enabled: true}
	f.Kind = r.URL.Query().Get("kind")
	if f.Kind == "" {
		// GitHub first: the most common host, and the first kind gitrelay had.
		f.Kind = "github"
	}
	p.render(w, r, http.StatusOK, "integration_new", "Add integration", f, nil, "")
	return nil
}

func projectList(s string) []string {
	var out []string
	for _, k := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, strings.ToUpper(k))
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func formOptions(r *http.Request) map[string]string {
	opts := map[string]string{}
	for k, vs := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "option."); ok && len(vs) > 0 && strings.TrimSpace(vs[0]) != "" {
			opts[name] = strings.TrimSpace(vs[0])
		}
	}
	return opts
}

// CreateIntegration validates the integration against its host and saves it.
func (p *Pages) CreateIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	f := r.PostForm
	kind := relay.Kind(f.Get("kind"))
	in := action.IntegrationInput{Kind: kind, Name: f.Get("name"), BaseURL: f.Get("base_url"), Options: formOptions(r),
		RequireUserPAT: f.Get("require_user_pat") == "on",
		Credential: relay.Credential{Token: strings.TrimSpace(f.Get("token")), Username: strings.TrimSpace(f.Get("username")),
			Password: f.Get("password"), AccessKeyID: strings.TrimSpace(f.Get("access_key_id")), SecretAccessKey: strings.TrimSpace(f.Get("secret_access_key"))}}
	if f.Get("projects_mode") == "restrict" {
		in.Projects = projectList(f.Get("projects"))
	}
	created, warnings, err := p.c.Actions.CreateIntegration(r.Context(), v.P, in)
	if err != nil {
		form := integrationForm{Kinds: p.kinds(), Kind: string(kind), Name: in.Name, BaseURL: in.BaseURL, Options: in.Options,
			Projects: f.Get("projects"), Restrict: f.Get("projects_mode") == "restrict", RequireUserPAT: in.RequireUserPAT, Enabled: true}
		perr := toPageError(err)
		p.render(w, r, p.c.Status(perr.Code), "integration_new", "Add integration", form, perr, "")
		return nil
	}
	q := url.Values{"done": {"created"}}
	if len(warnings) > 0 {
		q.Set("warn", "1")
	}
	redirect(w, r, "/admin/integrations/"+created.ID+"?"+q.Encode())
	return nil
}

func (p *Pages) editForm(in relay.Integration) integrationForm {
	f := integrationForm{Kind: string(in.Kind), Name: in.Name, BaseURL: in.BaseURL, Options: in.Options,
		Restrict: in.Projects != nil, Projects: strings.Join(in.Projects, ", "), RequireUserPAT: in.RequireUserPAT,
		Enabled: in.Enabled, Existing: &in, KindLabel: kindLabel(in.Kind)}
	caps := p.c.Hosts.Capabilities(in.HostConfig())
	f.PAT = caps.PAT
	if in.RequireUserPAT && !caps.PAT {
		f.Warnings = append(f.Warnings, "This server version has no personal access tokens: with Require User PAT ticked, creating and deleting branches and creating pull requests are refused for "+in.Name+".")
	}
	return f
}

// EditIntegration shows an integration's settings.
func (p *Pages) EditIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	in, err := p.c.Actions.Integration(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "created":
		notice = "The integration was created and its credential validated."
	case "updated":
		notice = "The integration settings were updated."
	}
	p.render(w, r, http.StatusOK, "integration_edit", in.Name, p.editForm(in), nil, notice)
	return nil
}

// UpdateIntegration saves Edit integration settings (the Update button).
func (p *Pages) UpdateIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	id := r.PathValue("id")
	f := r.PostForm
	name := f.Get("name")
	enabled := f.Get("enabled") == "on"
	require := f.Get("require_user_pat") == "on"
	patch := action.IntegrationPatch{Name: &name, Enabled: &enabled, RequireUserPAT: &require, SetProjects: true}
	if f.Get("projects_mode") == "restrict" {
		patch.Projects = projectList(f.Get("projects"))
	}
	if tok := strings.TrimSpace(f.Get("token")); tok != "" || f.Get("access_key_id") != "" || f.Get("password") != "" {
		patch.Credential = &relay.Credential{Token: tok, Username: strings.TrimSpace(f.Get("username")), Password: f.Get("password"),
			AccessKeyID: strings.TrimSpace(f.Get("access_key_id")), SecretAccessKey: strings.TrimSpace(f.Get("secret_access_key"))}
	}
	in, warnings, err := p.c.Actions.UpdateIntegration(r.Context(), v.P, id, patch)
	if err != nil {
		cur, gerr := p.c.Actions.Integration(r.Context(), v.P, id)
		if gerr != nil {
			return err
		}
		form := p.editForm(cur)
		form.Name, form.Enabled, form.RequireUserPAT = name, enabled, require
		form.Restrict, form.Projects = f.Get("projects_mode") == "restrict", f.Get("projects")
		perr := toPageError(err)
		p.render(w, r, p.c.Status(perr.Code), "integration_edit", cur.Name, form, perr, "")
		return nil
	}
	if len(warnings) > 0 {
		// Saved, but the administrator must read the warning: show it on
		// the page rather than redirecting it away.
		form := p.editForm(in)
		form.Warnings = warnings
		p.render(w, r, http.StatusOK, "integration_edit", in.Name, form, nil, "The integration settings were updated.")
		return nil
	}
	redirect(w, r, "/admin/integrations/"+id+"?done=updated")
	return nil
}

// TestIntegration checks the integration account against the host.
func (p *Pages) TestIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	in, err := p.c.Actions.Integration(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	form := p.editForm(in)
	repos, err := p.c.Actions.Repositories(r.Context(), v.P, in.ID, "")
	if err != nil {
		form.TestResult = "Connection failed: " + relay.ErrorMessage(err)
	} else {
		form.TestOK = true
		form.TestResult = "Connected"
		if in.Account.Login != "" {
			form.TestResult += " as " + in.Account.Login
		}
		form.TestResult += "; the integration account sees " + plural(len(repos), "repository", "repositories") + "."
	}
	p.render(w, r, http.StatusOK, "integration_edit", in.Name, form, nil, "")
	return nil
}

// ConfirmDeleteIntegration asks before deleting.
func (p *Pages) ConfirmDeleteIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	in, err := p.c.Actions.Integration(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	p.render(w, r, http.StatusOK, "integration_delete", "Delete "+in.Name, in, nil, "")
	return nil
}

// DeleteIntegration deletes an integration and its users' tokens.
func (p *Pages) DeleteIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	if err := p.c.Actions.DeleteIntegration(r.Context(), v.P, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/admin/integrations?done=deleted")
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
