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
	"github.com/gitrelay/gitrelay/internal/httperr"
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
	// Included is "all" when the integration includes every repository
	// its account can see, otherwise how many it includes.
	Included string
	Health   string
	Healthy  bool
}

// includedLabel is the Repositories column of an integration.
func includedLabel(in relay.Integration) string {
	if in.Repositories == nil {
		return "all"
	}
	return strconv.Itoa(len(in.Repositories))
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
		rows[i] = integrationRow{Integration: in, KindLabel: kindLabel(in.Kind), Included: includedLabel(in)}
		if !in.Enabled {
			rows[i].Health = "Disabled"
			continue
		}
		wg.Add(1)
		go func(row *integrationRow) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
			defer cancel()
			if _, err := p.c.Actions.CheckConnection(ctx, v.P, row.ID); err != nil {
				row.Health = relay.ErrorMessage(err)
				return
			}
			row.Health, row.Healthy = "Connected", true
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
	Repos          repoPicker
	// Index is the index's state (the settings page only).
	Index *indexSection
}

// repoPicker is the Repositories part of the integration forms: all
// repositories, or only chosen ones picked with a server-side search. It
// works as a plain form: Search, Add and Remove post the form back and
// the page comes back with the choice so far, unsaved.
type repoPicker struct {
	// Only: "only these repositories" rather than all of them.
	Only   bool
	Chosen []chosenRepo
	// Query is the last search; Searched says a search was made, Results
	// are its matches (at most maxPickerResults) and More how many matches
	// were left out.
	Query    string
	Searched bool
	Results  []pickerResult
	More     int
	// Problem says why names or results could not be read from the host.
	Problem string
	// Available: the integration exists, so its account can be searched
	// (Add integration cannot search before the credential is saved).
	Available bool
}

type chosenRepo struct {
	ID       string
	FullName string
	// Unseen: the integration account cannot see it (any more), or its
	// name could not be read.
	Unseen bool
}

type pickerResult struct {
	ID, FullName string
	Chosen       bool
}

// maxPickerResults bounds the matches shown for one search: enough to pick
// from, and "keep typing" beyond.
const maxPickerResults = 50

// pickerFromForm reads the Repositories part of a posted form, applying an
// Add or Remove button if one was pressed. The second result is false when
// the form does not carry the part at all (then nothing changes).
func pickerFromForm(f url.Values) (repoPicker, bool) {
	mode := f.Get("repos_mode")
	if mode == "" {
		return repoPicker{}, false
	}
	// Adding a repository means choosing, even before the radio button
	// was switched.
	rp := repoPicker{Only: mode == "only" || f.Get("add_repository") != "", Query: strings.TrimSpace(f.Get("repo_q"))}
	remove := f.Get("remove_repository")
	seen := map[string]bool{}
	ids := append(append([]string{}, f["repository"]...), f.Get("add_repository"))
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || id == remove || seen[id] {
			continue
		}
		seen[id] = true
		rp.Chosen = append(rp.Chosen, chosenRepo{ID: id})
	}
	return rp, true
}

// ids is the choice as the integration stores it: nil for all
// repositories.
func (rp repoPicker) ids() []string {
	if !rp.Only {
		return nil
	}
	out := make([]string, 0, len(rp.Chosen))
	for _, c := range rp.Chosen {
		out = append(out, c.ID)
	}
	return out
}

// pickerOp says whether a posted form asks only to work the picker
// (search, add, remove) rather than to save.
func pickerOp(f url.Values) bool {
	return f.Get("op") == "search_repositories" || f.Get("add_repository") != "" || f.Get("remove_repository") != ""
}

// fill names the chosen repositories and runs the search, with one listing
// of the repositories the integration account can see. A host that does not
// answer leaves ids unnamed and says so; the choice itself is kept.
func (p *Pages) fillPicker(ctx context.Context, pr relay.Principal, integrationID string, rp *repoPicker) {
	rp.Available = true
	if !rp.Searched && len(rp.Chosen) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	repos, err := p.c.Actions.AvailableRepositories(ctx, pr, integrationID, "")
	if err != nil {
		rp.Problem = "The repositories could not be read with the integration account: " + relay.ErrorMessage(err)
		for i := range rp.Chosen {
			rp.Chosen[i].Unseen = true
		}
		return
	}
	names := make(map[string]string, len(repos))
	for _, r := range repos {
		names[r.ID] = r.FullName
	}
	chosen := make(map[string]bool, len(rp.Chosen))
	for i, c := range rp.Chosen {
		chosen[c.ID] = true
		rp.Chosen[i].FullName, rp.Chosen[i].Unseen = names[c.ID], names[c.ID] == ""
	}
	if !rp.Searched {
		return
	}
	q := strings.ToLower(rp.Query)
	for _, r := range repos {
		if !strings.Contains(strings.ToLower(r.FullName), q) {
			continue
		}
		if len(rp.Results) == maxPickerResults {
			rp.More++
			continue
		}
		rp.Results = append(rp.Results, pickerResult{ID: r.ID, FullName: r.FullName, Chosen: chosen[r.ID]})
	}
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
		Credential:     relay.NewCredential(strings.TrimSpace(f.Get("token")), strings.TrimSpace(f.Get("username")), f.Get("password"), strings.TrimSpace(f.Get("access_key_id")), strings.TrimSpace(f.Get("secret_access_key")))}
	if f.Get("projects_mode") == "restrict" {
		in.Projects = projectList(f.Get("projects"))
	}
	// "Only these repositories" cannot be searched before the credential
	// is validated and saved: the integration starts including none of
	// them, and the settings page opens at the picker.
	repos, _ := pickerFromForm(f)
	in.Repositories = repos.ids()
	created, warnings, err := p.c.Actions.CreateIntegration(r.Context(), v.P, in)
	if err != nil {
		form := integrationForm{Kinds: p.kinds(), Kind: string(kind), Name: in.Name, BaseURL: in.BaseURL, Options: in.Options,
			Projects: f.Get("projects"), Restrict: f.Get("projects_mode") == "restrict", RequireUserPAT: in.RequireUserPAT, Enabled: true,
			Repos: repos}
		perr := toPageError(err)
		p.render(w, r, httperr.Status(perr.Code), "integration_new", "Add integration", form, perr, "")
		return nil
	}
	q := url.Values{"done": {"created"}}
	if len(warnings) > 0 {
		q.Set("warn", "1")
	}
	anchor := ""
	if repos.Only {
		q.Set("choose", "repositories")
		anchor = "#repositories"
	}
	redirect(w, r, "/admin/integrations/"+created.ID+"?"+q.Encode()+anchor)
	return nil
}

func (p *Pages) editForm(in relay.Integration) integrationForm {
	f := integrationForm{Kind: string(in.Kind), Name: in.Name, BaseURL: in.BaseURL, Options: in.Options,
		Restrict: in.Projects != nil, Projects: strings.Join(in.Projects, ", "), RequireUserPAT: in.RequireUserPAT,
		Enabled: in.Enabled, Existing: &in, KindLabel: kindLabel(in.Kind),
		Repos: repoPicker{Only: in.Repositories != nil}}
	for _, id := range in.Repositories {
		f.Repos.Chosen = append(f.Repos.Chosen, chosenRepo{ID: id})
	}
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
		if r.URL.Query().Get("choose") == "repositories" {
			notice += " It includes no repository yet: search for the ones it should include under Repositories, add them, and click Update."
		}
	case "updated":
		notice = "The integration settings were updated."
	case "reindex":
		notice = "The repositories will be read again in full within seconds."
	}
	form := p.editForm(in)
	p.fillPicker(r.Context(), v.P, in.ID, &form.Repos)
	p.fillIndex(r, in.ID, &form)
	p.render(w, r, http.StatusOK, "integration_edit", in.Name, form, nil, notice)
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
	repos, hasRepos := pickerFromForm(f)
	if hasRepos && pickerOp(f) {
		// Search, Add or Remove: show the choice so far, save nothing.
		return p.showPicker(w, r, id, repos)
	}
	patch.SetRepositories, patch.Repositories = hasRepos, repos.ids()
	if tok := strings.TrimSpace(f.Get("token")); tok != "" || f.Get("access_key_id") != "" || f.Get("password") != "" {
		cred := relay.NewCredential(tok, strings.TrimSpace(f.Get("username")), f.Get("password"), strings.TrimSpace(f.Get("access_key_id")), strings.TrimSpace(f.Get("secret_access_key")))
		patch.Credential = &cred
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
		if hasRepos {
			form.Repos = repos
		}
		p.fillPicker(r.Context(), v.P, id, &form.Repos)
		perr := toPageError(err)
		p.render(w, r, httperr.Status(perr.Code), "integration_edit", cur.Name, form, perr, "")
		return nil
	}
	if len(warnings) > 0 {
		// Saved, but the administrator must read the warning: show it on
		// the page rather than redirecting it away.
		form := p.editForm(in)
		form.Warnings = warnings
		p.fillPicker(r.Context(), v.P, in.ID, &form.Repos)
		p.render(w, r, http.StatusOK, "integration_edit", in.Name, form, nil, "The integration settings were updated.")
		return nil
	}
	redirect(w, r, "/admin/integrations/"+id+"?done=updated")
	return nil
}

// showPicker renders Edit integration settings with the form as posted and
// the repository picker worked: nothing is saved until Update.
func (p *Pages) showPicker(w http.ResponseWriter, r *http.Request, id string, repos repoPicker) error {
	v := viewerFrom(r.Context())
	cur, err := p.c.Actions.Integration(r.Context(), v.P, id)
	if err != nil {
		return err
	}
	f := r.PostForm
	form := p.editForm(cur)
	form.Name, form.Enabled, form.RequireUserPAT = f.Get("name"), f.Get("enabled") == "on", f.Get("require_user_pat") == "on"
	form.Restrict, form.Projects = f.Get("projects_mode") == "restrict", f.Get("projects")
	// A search shows results; after Add or Remove the last search stays.
	repos.Searched = f.Get("op") == "search_repositories" || repos.Query != ""
	form.Repos = repos
	p.fillPicker(r.Context(), v.P, id, &form.Repos)
	notice := "Not saved yet: click Update to save the repositories."
	p.render(w, r, http.StatusOK, "integration_edit", cur.Name, form, nil, notice)
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
	p.fillPicker(r.Context(), v.P, in.ID, &form.Repos)
	// A test asks the host now: the credential live, then a fresh list of
	// repositories (which also refreshes the picker's cache).
	acct, err := p.c.Actions.CheckConnection(r.Context(), v.P, in.ID)
	var repos []relay.Repository
	if err == nil {
		repos, err = p.c.Actions.SearchRepositories(r.Context(), v.P, in.ID, action.RepositorySearch{Refresh: true})
	}
	if err != nil {
		form.TestResult = "Connection failed: " + relay.ErrorMessage(err)
	} else {
		form.TestOK = true
		form.TestResult = "Connected"
		if acct.Login != "" {
			form.TestResult += " as " + acct.Login
		}
		if in.Repositories == nil {
			form.TestResult += "; the integration account sees " + plural(len(repos), "repository", "repositories") + "."
		} else {
			form.TestResult += "; it sees " + plural(len(repos), "repository", "repositories") + " of the " + strconv.Itoa(len(in.Repositories)) + " chosen."
		}
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
