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

// kindView is one host kind on Add integration: the form its adapter
// describes, with the values of its options as shown.
type kindView struct {
	relay.KindForm
	Options []optionView
	// PAT and TokenHelp are the capabilities of the kind's default server.
	PAT       bool
	TokenHelp string
	// NoPATNow: the options as shown designate a server without PATs.
	NoPATNow bool
}

type optionView struct {
	relay.FormOption
	Value string
}

// kindForm is the form kind's adapter describes.
func (p *Pages) kindForm(k relay.Kind) relay.KindForm {
	if kf, ok := p.c.Hosts.(relay.KindForms); ok {
		return kf.KindForm(k)
	}
	return relay.DefaultKindForm(k)
}

// kinds is every registered kind's form; the chosen kind shows options
// as sent, the others their defaults.
func (p *Pages) kinds(chosen string, options map[string]string) []kindView {
	var out []kindView
	for _, k := range p.c.Kinds {
		v := kindView{KindForm: p.kindForm(k)}
		for _, o := range v.KindForm.Options {
			val := o.Default
			if string(k) == chosen {
				if sent, ok := options[o.Key]; ok {
					val = sent
				}
			}
			v.Options = append(v.Options, optionView{FormOption: o, Value: val})
		}
		shown := map[string]string{}
		for _, o := range v.Options {
			shown[o.Key] = o.Value
		}
		v.NoPATNow = v.NoPAT.Applies(shown)
		caps := p.c.Hosts.Capabilities(relay.HostConfig{Kind: k})
		v.PAT, v.TokenHelp = caps.PAT, caps.TokenHelp
		out = append(out, v)
	}
	return out
}

func (p *Pages) kindLabel(k relay.Kind) string {
	return p.kindForm(k).Label
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
		rows[i] = integrationRow{Integration: in, KindLabel: p.kindLabel(in.Kind), Included: includedLabel(in)}
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
	fl := p.takeFlash(r)
	p.render(w, r, fl.status(), "integrations", "Manage Git repositories", integrationsData{Rows: rows}, fl.Error, fl.Notice)
	return nil
}

type integrationForm struct {
	Kinds    []kindView
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
	// NoPATWarning is what Require User PAT means on this server when it
	// has no PATs (Edit integration settings).
	NoPATWarning string
	// Credential is the fields of the integration credential (Edit
	// integration settings replaces it with these).
	Credential []relay.CredentialField
	// Sent holds the credential fields sent that are not secret (a
	// username, an access key ID), to show again; Resend says secrets were
	// sent and must be typed again.
	Sent   map[string]string
	Resend bool
	Repos  repoPicker
	// Index is the index's state (the settings page only).
	Index *indexSection
	// Webhook is shown to administrators of host kinds that send them.
	Webhook *webhookSection
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

// NewIntegration shows Add integration: empty, or as sent when the save
// was refused (the flash), secrets excepted.
func (p *Pages) NewIntegration(w http.ResponseWriter, r *http.Request) error {
	fl := p.takeFlash(r)
	if fl.Form != nil {
		p.render(w, r, fl.status(), "integration_new", "Add integration", p.newForm(fl.Form, fl.Resend), fl.Error, fl.Notice)
		return nil
	}
	f := integrationForm{Options: map[string]string{}, Enabled: true}
	f.Kind = r.URL.Query().Get("kind")
	if f.Kind == "" {
		// GitHub first: the most common host, and the first kind gitrelay had.
		f.Kind = "github"
	}
	f.Kinds = p.kinds(f.Kind, nil)
	p.render(w, r, http.StatusOK, "integration_new", "Add integration", f, nil, "")
	return nil
}

// newForm is Add integration filled in as f was sent.
func (p *Pages) newForm(f url.Values, resend bool) integrationForm {
	kind := f.Get("kind")
	opts := formOptions(p.kindForm(relay.Kind(kind)), f)
	_, sent, _ := formCredential(f)
	repos, _ := pickerFromForm(f)
	return integrationForm{Kinds: p.kinds(kind, opts), Kind: kind, Name: f.Get("name"), BaseURL: f.Get("base_url"), Options: opts,
		Projects: f.Get("projects"), Restrict: f.Get("projects_mode") == "restrict", RequireUserPAT: f.Get("require_user_pat") == "on",
		Enabled: true, Sent: sent, Resend: resend, Repos: repos}
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

// formOptions reads the options kind's form describes, as sent: an option
// sent empty stays empty (a TFS path suffix may be), one not sent is left
// to the adapter's default.
func formOptions(kf relay.KindForm, f url.Values) map[string]string {
	opts := map[string]string{}
	for _, o := range kf.Options {
		if vs, ok := f["option."+o.Key]; ok && len(vs) > 0 {
			opts[o.Key] = strings.TrimSpace(vs[0])
		}
	}
	return opts
}

// formCredential reads the credential fields the form names. It returns
// the fields that are not secret, to show again after a refusal, and
// whether a secret was sent (it is never shown again).
func formCredential(f url.Values) (relay.Credential, map[string]string, bool) {
	sent := map[string]string{}
	for _, k := range []string{"username", "access_key_id"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			sent[k] = v
		}
	}
	secret := strings.TrimSpace(f.Get("token")) != "" || f.Get("password") != "" || strings.TrimSpace(f.Get("secret_access_key")) != ""
	cred := relay.NewCredential(strings.TrimSpace(f.Get("token")), strings.TrimSpace(f.Get("username")), f.Get("password"), strings.TrimSpace(f.Get("access_key_id")), strings.TrimSpace(f.Get("secret_access_key")))
	return cred, sent, secret
}

// CreateIntegration validates the integration against its host and saves it.
func (p *Pages) CreateIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	f := r.PostForm
	kind := relay.Kind(f.Get("kind"))
	cred, _, secret := formCredential(f)
	in := action.IntegrationInput{Kind: kind, Name: f.Get("name"), BaseURL: f.Get("base_url"), Options: formOptions(p.kindForm(kind), f),
		RequireUserPAT: f.Get("require_user_pat") == "on", Credential: cred}
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
		// The form comes back exactly as sent, secrets excepted.
		perr := toPageError(err)
		return p.redirectWith(w, r, "/admin/integrations/new", flash{Status: httperr.Status(perr.Code), Error: perr, Form: p.keepable(f), Resend: secret})
	}
	fl := flash{Notice: "The integration was created and its credential validated.", Warnings: warnings}
	target := "/admin/integrations/" + created.ID
	if repos.Only {
		fl.Notice += " It includes no repository yet: search for the ones it should include under Repositories, add them, and click Update."
		target += "#repositories"
	}
	return p.redirectWith(w, r, target, fl)
}

func (p *Pages) editForm(in relay.Integration) integrationForm {
	f := integrationForm{Kind: string(in.Kind), Name: in.Name, BaseURL: in.BaseURL, Options: in.Options,
		Restrict: in.Projects != nil, Projects: strings.Join(in.Projects, ", "), RequireUserPAT: in.RequireUserPAT,
		Enabled: in.Enabled, Existing: &in, KindLabel: p.kindLabel(in.Kind),
		Repos: repoPicker{Only: in.Repositories != nil}}
	for _, id := range in.Repositories {
		f.Repos.Chosen = append(f.Repos.Chosen, chosenRepo{ID: id})
	}
	caps := p.c.Hosts.Capabilities(in.HostConfig())
	kf := p.kindForm(in.Kind)
	f.PAT, f.Credential = caps.PAT, kf.CredentialFor(in.Options)
	if !caps.PAT {
		f.NoPATWarning = kf.NoPAT.Warning
		if f.NoPATWarning == "" {
			f.NoPATWarning = "This server has no personal access tokens: with Require User PAT ticked, users will not be able to create or delete branches or create pull requests through this integration."
		}
	}
	return f
}

// EditIntegration shows an integration's settings: as stored, or as
// sent (the flash) after a refused Update or a Search, Add or Remove of
// the repository picker, which save nothing.
func (p *Pages) EditIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	in, err := p.c.Actions.Integration(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	fl := p.takeFlash(r)
	form := p.editForm(in)
	if f := fl.Form; f != nil {
		form.Name, form.Enabled, form.RequireUserPAT = f.Get("name"), f.Get("enabled") == "on", f.Get("require_user_pat") == "on"
		form.Restrict, form.Projects = f.Get("projects_mode") == "restrict", f.Get("projects")
		_, form.Sent, _ = formCredential(f)
		form.Resend = fl.Resend
		if repos, ok := pickerFromForm(f); ok {
			// A search shows results; after Add or Remove the last search stays.
			repos.Searched = f.Get("op") == "search_repositories" || repos.Query != ""
			form.Repos = repos
		}
	}
	form.Warnings = append(form.Warnings, fl.Warnings...)
	form.TestResult, form.TestOK = fl.TestResult, fl.TestOK
	p.fillPicker(r.Context(), v.P, in.ID, &form.Repos)
	p.fillIndex(r, in.ID, &form)
	p.fillWebhook(w, r, in.ID, &form)
	if form.Webhook != nil {
		form.Webhook.Results, form.Webhook.More = fl.Hooks, fl.HooksMore
	}
	p.render(w, r, fl.status(), "integration_edit", in.Name, form, fl.Error, fl.Notice)
	return nil
}

// UpdateIntegration saves Edit integration settings (the Update button),
// or works the repository picker without saving.
func (p *Pages) UpdateIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	id := r.PathValue("id")
	f := r.PostForm
	edit := "/admin/integrations/" + id
	name := f.Get("name")
	enabled := f.Get("enabled") == "on"
	require := f.Get("require_user_pat") == "on"
	patch := action.IntegrationPatch{Name: &name, Enabled: &enabled, RequireUserPAT: &require, SetProjects: true}
	if f.Get("projects_mode") == "restrict" {
		patch.Projects = projectList(f.Get("projects"))
	}
	repos, hasRepos := pickerFromForm(f)
	cred, sent, secret := formCredential(f)
	if hasRepos && pickerOp(f) {
		// Search, Add or Remove: show the choice so far, save nothing.
		return p.redirectWith(w, r, edit+"#repositories", flash{Form: p.keepable(f), Resend: secret,
			Notice: "Not saved yet: click Update to save the repositories."})
	}
	patch.SetRepositories, patch.Repositories = hasRepos, repos.ids()
	if secret || len(sent) > 0 {
		patch.Credential = &cred
	}
	_, warnings, err := p.c.Actions.UpdateIntegration(r.Context(), v.P, id, patch)
	if err != nil {
		if relay.ErrorCode(err) == relay.ENotFound {
			return err
		}
		perr := toPageError(err)
		return p.redirectWith(w, r, edit, flash{Status: httperr.Status(perr.Code), Error: perr, Form: p.keepable(f), Resend: secret})
	}
	// Saved; a warning is shown with the notice, for the administrator to
	// read.
	return p.redirectWith(w, r, edit, flash{Notice: "The integration settings were updated.", Warnings: warnings})
}

// TestIntegration checks the integration account against the host.
func (p *Pages) TestIntegration(w http.ResponseWriter, r *http.Request) error {
	v := viewerFrom(r.Context())
	in, err := p.c.Actions.Integration(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	// A test asks the host now: the credential live, then a fresh list of
	// repositories (which also refreshes the picker's cache).
	acct, err := p.c.Actions.CheckConnection(r.Context(), v.P, in.ID)
	var repos []relay.Repository
	if err == nil {
		repos, err = p.c.Actions.SearchRepositories(r.Context(), v.P, in.ID, action.RepositorySearch{Refresh: true})
	}
	var fl flash
	if err != nil {
		fl.TestResult = "Connection failed: " + relay.ErrorMessage(err)
	} else {
		fl.TestOK = true
		fl.TestResult = "Connected"
		if acct.Login != "" {
			fl.TestResult += " as " + acct.Login
		}
		if in.Repositories == nil {
			fl.TestResult += "; the integration account sees " + plural(len(repos), "repository", "repositories") + "."
		} else {
			fl.TestResult += "; it sees " + plural(len(repos), "repository", "repositories") + " of the " + strconv.Itoa(len(in.Repositories)) + " chosen."
		}
	}
	return p.redirectWith(w, r, "/admin/integrations/"+in.ID+"#test-result", fl)
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
	return p.redirectWith(w, r, "/admin/integrations", flash{Notice: "The integration was deleted, with every user's token for it."})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// credentialInput is one credential field of a form, with the value sent
// when it is not secret.
type credentialInput struct {
	Kind  relay.Kind
	Field relay.CredentialField
	Value string
}

func fieldIn(kind relay.Kind, f relay.CredentialField, sent map[string]string) credentialInput {
	in := credentialInput{Kind: kind, Field: f}
	if !f.Secret {
		in.Value = sent[f.Name]
	}
	return in
}
