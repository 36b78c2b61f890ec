package action

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// IntegrationInput creates an integration.
type IntegrationInput struct {
	Kind           relay.Kind
	Name           string
	BaseURL        string
	Options        map[string]string
	Credential     relay.Credential
	RequireUserPAT bool
	// Projects nil associates with all projects.
	Projects []string
	// Repositories nil includes every repository the integration account
	// can see; a list (of the host's repository ids) includes only those.
	Repositories []string
	// Enabled defaults to true.
	Enabled *bool
}

// IntegrationPatch changes an integration; nil fields stay as they are.
type IntegrationPatch struct {
	Name           *string
	BaseURL        *string
	Options        map[string]string
	Credential     *relay.Credential
	RequireUserPAT *bool
	Enabled        *bool
	// SetProjects true replaces the association with Projects (nil = all).
	SetProjects bool
	Projects    []string
	// SetRepositories true replaces the included repositories with
	// Repositories (nil = every repository the account can see).
	SetRepositories bool
	Repositories    []string
}

// MaxRepositories bounds an integration's chosen repositories: enough for
// the largest organisations' hand-picked lists, small enough to keep an
// integration row and its settings page cheap.
const MaxRepositories = 5000

// maxRepositoryID bounds one repository id; hosts' ids are numbers, GUIDs
// or paths well below it.
const maxRepositoryID = 1024

// CreateIntegration validates the host settings and the credential against
// the host, then stores the integration. Warnings tell the administrator
// about settings that will refuse actions (Require User PAT on a host
// without PATs).
func (s *Service) CreateIntegration(ctx context.Context, p relay.Principal, req IntegrationInput) (relay.Integration, []string, error) {
	ev := s.event(p, relay.ActionIntegrationCreate, "", "")
	ev.Detail = string(req.Kind)
	if err := requireAdmin(p); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in := relay.Integration{
		ID: relay.NewID(), TenantID: p.TenantID, Kind: req.Kind, Name: strings.TrimSpace(req.Name),
		BaseURL: strings.TrimSpace(req.BaseURL), Options: req.Options, Enabled: true,
		RequireUserPAT: req.RequireUserPAT, CreatedAt: s.now(), UpdatedAt: s.now(),
	}
	if req.Enabled != nil {
		in.Enabled = *req.Enabled
	}
	ev.IntegrationID = in.ID
	projects, err := s.checkIntegration(&in, req.Projects, req.Credential.IsZero())
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in.Projects = projects
	if in.Repositories, err = checkRepositories(req.Repositories); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	acct, err := s.validateIntegrationCredential(ctx, in, req.Credential)
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in.Account = acct
	sealed, err := relay.SealCredential(s.sealer, req.Credential, relay.IntegrationSecretOwner(in.TenantID, in.ID))
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	ev.Via, ev.Login = relay.ViaIntegration, acct.Login
	ev.Detail = fmt.Sprintf("created %s integration %q (require user PAT: %t; repositories: %s)",
		in.Kind, in.Name, in.RequireUserPAT, describeRepositories(in.Repositories))
	if err := s.store.CreateIntegration(ctx, in, sealed, s.succeed(ev)); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	return in, s.warnings(in), nil
}

// UpdateIntegration applies a patch. Ticking or unticking Require User PAT
// is audited as its own action.
func (s *Service) UpdateIntegration(ctx context.Context, p relay.Principal, id string, patch IntegrationPatch) (relay.Integration, []string, error) {
	ev := s.event(p, relay.ActionIntegrationUpdate, "", id)
	if err := requireAdmin(p); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	var changed []string
	if patch.Name != nil {
		in.Name = strings.TrimSpace(*patch.Name)
		changed = append(changed, "name")
	}
	if patch.BaseURL != nil {
		in.BaseURL = strings.TrimSpace(*patch.BaseURL)
		changed = append(changed, "base_url")
	}
	if patch.Options != nil {
		in.Options = patch.Options
		changed = append(changed, "options")
	}
	if patch.Enabled != nil {
		in.Enabled = *patch.Enabled
		changed = append(changed, "enabled")
	}
	if patch.RequireUserPAT != nil && *patch.RequireUserPAT != in.RequireUserPAT {
		in.RequireUserPAT = *patch.RequireUserPAT
		ev.Action = relay.ActionRequireUserPAT
		changed = append(changed, fmt.Sprintf("require_user_pat=%t", in.RequireUserPAT))
	}
	projects := in.Projects
	if patch.SetProjects {
		projects = patch.Projects
		changed = append(changed, "projects")
	}
	if patch.SetRepositories {
		repos, err := checkRepositories(patch.Repositories)
		if err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
		in.Repositories = repos
		changed = append(changed, "repositories="+describeRepositories(repos))
	}
	var cred relay.Credential
	if patch.Credential != nil {
		cred = *patch.Credential
		changed = append(changed, "credential")
	}
	hostChanged := patch.BaseURL != nil || patch.Options != nil
	if hostChanged && patch.Credential == nil {
		// The stored credential is never sent to a host it was not given
		// for: a mistyped (or hostile) URL must not receive it.
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, &relay.Error{Code: relay.EInvalid,
			Message: "Changing the host URL or options needs the credential again, so that it is only ever sent to the host it is for.",
			Fields:  map[string]string{"credential": "Enter the credential again to change the host."}})
	}
	projects, err = s.checkIntegration(&in, projects, patch.Credential != nil && patch.Credential.IsZero())
	if err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	in.Projects = projects
	var sealed []byte
	if patch.Credential != nil || hostChanged {
		acct, err := s.validateIntegrationCredential(ctx, in, cred)
		if err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
		in.Account = acct
		if sealed, err = relay.SealCredential(s.sealer, cred, relay.IntegrationSecretOwner(in.TenantID, in.ID)); err != nil {
			return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
		}
	}
	in.UpdatedAt = s.now()
	ev.Detail = "changed " + strings.Join(changed, ", ")
	if err := s.store.UpdateIntegration(ctx, in, sealed, s.succeed(ev)); err != nil {
		return relay.Integration{}, nil, s.fail(ctx, ev, nil, err)
	}
	return in, s.warnings(in), nil
}

// DeleteIntegration deletes an integration and every user's PAT for it.
func (s *Service) DeleteIntegration(ctx context.Context, p relay.Principal, id string) error {
	ev := s.event(p, relay.ActionIntegrationDelete, "", id)
	if err := requireAdmin(p); err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	ev.Detail = fmt.Sprintf("deleted %s integration %q and its users' tokens", in.Kind, in.Name)
	if err := s.store.DeleteIntegration(ctx, p.TenantID, id, s.succeed(ev)); err != nil {
		return s.fail(ctx, ev, nil, err)
	}
	return nil
}

// Integrations lists the integrations p may see: all of them for an
// administrator, otherwise the enabled ones associated with a project on
// which p has View Development Tools.
func (s *Service) Integrations(ctx context.Context, p relay.Principal) ([]relay.Integration, error) {
	all, err := s.store.Integrations(ctx, p.TenantID)
	if err != nil || p.Admin {
		return all, err
	}
	projects, err := s.dir.DevToolsProjects(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []relay.Integration
	for _, in := range all {
		if in.Enabled && visibleIn(in, projects) {
			out = append(out, in)
		}
	}
	return out, nil
}

// Integration returns one integration p may see; others are not_found.
func (s *Service) Integration(ctx context.Context, p relay.Principal, id string) (relay.Integration, error) {
	in, err := s.store.Integration(ctx, p.TenantID, id)
	if err != nil || p.Admin {
		return in, err
	}
	projects, err := s.dir.DevToolsProjects(ctx, p)
	if err != nil {
		return relay.Integration{}, err
	}
	if !in.Enabled || !visibleIn(in, projects) {
		return relay.Integration{}, relay.Errorf(relay.ENotFound, "Integration not found.")
	}
	return in, nil
}

// Repositories lists the repositories an integration includes whose name
// contains query, read with the integration account: all it can see, or
// only the chosen ones among them.
func (s *Service) Repositories(ctx context.Context, p relay.Principal, integrationID, query string) ([]relay.Repository, error) {
	in, client, err := s.readClient(ctx, p, integrationID)
	if err != nil {
		return nil, err
	}
	repos, err := s.listRepositories(ctx, client, query)
	if err != nil || in.Repositories == nil {
		return repos, err
	}
	included := make([]relay.Repository, 0, len(in.Repositories))
	for _, r := range repos {
		if in.IncludesRepository(r.ID) {
			included = append(included, r)
		}
	}
	return included, nil
}

// AvailableRepositories lists every repository the integration account can
// see whose name contains query, included or not: what an administrator
// chooses the included ones from.
func (s *Service) AvailableRepositories(ctx context.Context, p relay.Principal, integrationID, query string) ([]relay.Repository, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	_, client, err := s.readClient(ctx, p, integrationID)
	if err != nil {
		return nil, err
	}
	return s.listRepositories(ctx, client, query)
}

func (s *Service) listRepositories(ctx context.Context, client relay.HostClient, query string) ([]relay.Repository, error) {
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	repos, err := client.Repositories(hctx, query)
	if err != nil {
		return nil, s.readError(err)
	}
	sort.Slice(repos, func(i, j int) bool { return strings.ToLower(repos[i].FullName) < strings.ToLower(repos[j].FullName) })
	return repos, nil
}

// Branches lists branches of a repository, read with the integration
// account.
func (s *Service) Branches(ctx context.Context, p relay.Principal, integrationID, repositoryID, query string) ([]relay.Branch, error) {
	in, client, err := s.readClient(ctx, p, integrationID)
	if err != nil {
		return nil, err
	}
	if err := notIncluded(in, repositoryID, ""); err != nil {
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	repo, err := client.Repository(hctx, repositoryID)
	if err != nil {
		return nil, s.readError(err)
	}
	if err := notIncluded(in, repo.ID, repo.FullName); err != nil {
		return nil, err
	}
	branches, err := client.Branches(hctx, repo, query)
	if err != nil {
		return nil, s.readError(err)
	}
	return branches, nil
}

func (s *Service) readClient(ctx context.Context, p relay.Principal, integrationID string) (relay.Integration, relay.HostClient, error) {
	in, err := s.Integration(ctx, p, integrationID)
	if err != nil {
		return relay.Integration{}, nil, err
	}
	sealed, err := s.store.IntegrationCredential(ctx, p.TenantID, in.ID)
	if err != nil {
		return relay.Integration{}, nil, err
	}
	cred, err := relay.OpenCredential(s.sealer, sealed, relay.IntegrationSecretOwner(p.TenantID, in.ID))
	if err != nil {
		return relay.Integration{}, nil, err
	}
	client, err := s.hosts.Client(in.HostConfig(), cred)
	return in, client, err
}

// notIncluded refuses a repository the integration does not include. name
// is the repository's full name when known (after the host was asked),
// otherwise the id the request gave is shown.
func notIncluded(in relay.Integration, repositoryID, name string) error {
	if in.IncludesRepository(repositoryID) || (repositoryID == "" && name == "") {
		// Nothing named yet: the check runs again on the id the host
		// answers with.
		return nil
	}
	what := "Repository " + name
	if name == "" {
		what = fmt.Sprintf("The repository with id %q", repositoryID)
	}
	return relay.Errorf(relay.EForbidden,
		"%s is not included in integration %s. An administrator can include the repository in the integration's settings.", what, in.Name)
}

// checkRepositories validates and normalises chosen repository ids: nil
// stays nil (every repository), blanks are refused, duplicates dropped and
// the administrator's order kept.
func checkRepositories(ids []string) ([]string, error) {
	if ids == nil {
		return nil, nil
	}
	fields := map[string]string{}
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			fields["repositories"] = fmt.Sprintf("Repository %d of the list has an empty id.", i+1)
		case len(id) > maxRepositoryID:
			fields["repositories"] = fmt.Sprintf("Repository %d of the list has an id longer than %d characters.", i+1, maxRepositoryID)
		case !seen[id]:
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) > MaxRepositories {
		fields["repositories"] = fmt.Sprintf("An integration can include at most %d chosen repositories (got %d). Choose fewer, or include all repositories.", MaxRepositories, len(out))
	}
	if len(fields) > 0 {
		return nil, &relay.Error{Code: relay.EInvalid, Message: "The chosen repositories are invalid.", Fields: fields}
	}
	return out, nil
}

// describeRepositories says in the audit trail what an integration
// includes.
func describeRepositories(ids []string) string {
	if ids == nil {
		return "all"
	}
	return fmt.Sprintf("%d chosen", len(ids))
}

// readError explains a refused integration credential on reads.
func (s *Service) readError(err error) error {
	switch relay.ErrorCode(err) {
	case relay.ECredentialRejected, relay.EScopeMissing:
		return &relay.Error{Code: relay.EHostError, Err: err,
			Message: "The host refused the integration account's credential. An administrator must update it in the integration's settings."}
	}
	return err
}

// checkIntegration validates an integration's fields and normalises its host
// settings and project list.
func (s *Service) checkIntegration(in *relay.Integration, projects []string, credentialMissing bool) ([]string, error) {
	fields := map[string]string{}
	if in.Name == "" {
		fields["name"] = "A display name is required."
	} else if len(in.Name) > 100 {
		fields["name"] = "The display name must be at most 100 characters."
	}
	if credentialMissing {
		fields["credential"] = "A credential is required: the integration account's personal access token (or the fields your host kind needs)."
	}
	cfg, err := s.hosts.CheckConfig(in.HostConfig())
	if e, ok := relay.AsError(err); ok && e.Code == relay.EInvalid {
		for k, v := range e.Fields {
			fields[k] = v
		}
		if len(e.Fields) == 0 {
			fields["kind"] = e.Message
		}
	} else if err != nil {
		return nil, err
	}
	in.BaseURL, in.Options = cfg.BaseURL, cfg.Options
	var out []string
	if projects != nil {
		out = []string{}
		seen := map[string]bool{}
		for _, k := range projects {
			k = strings.ToUpper(strings.TrimSpace(k))
			if !validProjectKey(k) {
				fields["projects"] = fmt.Sprintf("%q is not a project key (a letter, then letters, digits or _).", k)
				continue
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		sort.Strings(out)
	}
	if len(fields) > 0 {
		return nil, &relay.Error{Code: relay.EInvalid, Message: "The integration settings are incomplete or invalid.", Fields: fields}
	}
	return out, nil
}

// validateIntegrationCredential asks the host who the credential is and
// whether it can do the job.
func (s *Service) validateIntegrationCredential(ctx context.Context, in relay.Integration, cred relay.Credential) (relay.Account, error) {
	hctx, cancel := context.WithTimeout(ctx, s.hostTimeout)
	defer cancel()
	var acct relay.Account
	client, err := s.hosts.Client(in.HostConfig(), cred)
	if err == nil {
		acct, err = client.Validate(hctx)
	}
	switch relay.ErrorCode(err) {
	case "":
	case relay.ECredentialRejected:
		return relay.Account{}, &relay.Error{Code: relay.ETokenInvalid, Err: err,
			Message: "The host rejected the integration credential (invalid, expired or revoked). Check it and the host URL, then try again."}
	case relay.EScopeMissing:
		e, _ := relay.AsError(err)
		return relay.Account{}, &relay.Error{Code: relay.ETokenInsufficientScope, Scope: e.Scope, Err: err,
			Message: "The integration credential lacks a permission gitrelay needs" + scopeSuffix(e.Scope) + ". " + s.hosts.Capabilities(in.HostConfig()).TokenHelp}
	default:
		return relay.Account{}, err
	}
	caps := s.hosts.Capabilities(in.HostConfig())
	if acct.ExpiresAt != nil && !s.now().Before(*acct.ExpiresAt) {
		return relay.Account{}, relay.Errorf(relay.ETokenExpired, "The integration credential has expired. Create a new one and try again.")
	}
	if missing := relay.MissingScope(caps.RequiredScopes, acct.Scopes); missing != "" {
		return relay.Account{}, &relay.Error{Code: relay.ETokenInsufficientScope, Scope: missing,
			Message: fmt.Sprintf("The integration credential lacks the %s scope. %s", missing, caps.TokenHelp)}
	}
	return acct, nil
}

func (s *Service) warnings(in relay.Integration) []string {
	if in.RequireUserPAT && !s.hosts.Capabilities(in.HostConfig()).PAT {
		return []string{"This server version has no personal access tokens: with Require User PAT ticked, creating and deleting branches and creating pull requests will be refused for " + in.Name + "."}
	}
	return nil
}

func visibleIn(in relay.Integration, projects []string) bool {
	if len(projects) == 0 {
		return false
	}
	for _, k := range projects {
		if in.AssociatedWith(k) {
			return true
		}
	}
	return false
}

func validProjectKey(k string) bool {
	if k == "" || len(k) > 255 || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
