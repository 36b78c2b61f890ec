package action

import (
	"context"

	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Development is an issue's development panel.
type Development struct {
	IssueKey     string
	Branches     []relay.BranchRecord
	PullRequests []relay.PullRequestRecord
	Integrations []DevIntegration
	// Indexed is what gitrelay read itself from the repositories of the
	// integrations associated with the issue's project (see
	// internal/index), whoever did the work; CommitURLs are the commits'
	// web pages, by sha, and BranchURLs the indexed branches', by
	// BranchKey.
	Indexed    relay.IssueIndex
	CommitURLs map[string]string
	BranchURLs map[string]string
	// Authors are the directory's users whose email wrote indexed
	// commits, by lower-cased email.
	Authors map[string]relay.User
}

// DevIntegration is an integration usable from the issue, with the user's
// token state for it.
type DevIntegration struct {
	ID              string
	Name            string
	Kind            relay.Kind
	RequireUserPAT  bool
	UserTokenStatus relay.TokenStatus
	SetupURL        string
}

// Development returns what gitrelay created for the issue and the
// integrations the user may act through. Users without View Development
// Tools on the issue's project are refused.
func (s *Service) Development(ctx context.Context, p relay.Principal, issueKey string) (Development, error) {
	ctx, span := startSpan(ctx, "action.development")
	defer span.End()
	project, err := branchname.IssueProject(issueKey)
	if err != nil {
		return Development{}, err
	}
	// Read first, then decide: a request's API token check
	// (relay.TokenCheck) is made with this read, and reads the grant
	// CanViewDevTools asks for, in one round trip. Nothing read is
	// shown before the permission is checked.
	got, err := s.store.PanelReads(ctx, p.TenantID, p.UserID, issueKey)
	if err != nil {
		return Development{}, err
	}
	ok, err := s.dir.CanViewDevTools(ctx, p, project)
	if err != nil {
		return Development{}, err
	}
	if !ok {
		return Development{}, relay.Errorf(relay.EForbidden,
			"You do not have the View Development Tools permission on project %s.", project)
	}
	status := make(map[string]relay.UserToken, len(got.Tokens))
	for _, t := range got.Tokens {
		status[t.IntegrationID] = t
	}
	d := Development{IssueKey: issueKey, Branches: make([]relay.BranchRecord, 0, len(got.Branches)),
		PullRequests: make([]relay.PullRequestRecord, 0, len(got.PullRequests)),
		Integrations: make([]DevIntegration, 0, len(got.Integrations))}
	usable := make(map[string]bool, len(got.Integrations))
	for _, in := range got.Integrations {
		if !in.Enabled || !in.AssociatedWith(project) {
			continue
		}
		usable[in.ID] = true
		di := DevIntegration{ID: in.ID, Name: in.Name, Kind: in.Kind, RequireUserPAT: in.RequireUserPAT,
			UserTokenStatus: relay.TokenMissing, SetupURL: s.links.SetupURL(in.ID, issueKey)}
		if !s.hosts.Capabilities(in.HostConfig()).PAT {
			di.UserTokenStatus = relay.TokenUnsupported
		} else if t, ok := status[in.ID]; ok {
			if tok, _ := usableToken(&t, s.hosts.Origin(in.HostConfig()), ""); tok != nil {
				di.UserTokenStatus = tok.StatusAt(s.now())
			}
		}
		d.Integrations = append(d.Integrations, di)
	}
	for _, b := range got.Branches {
		if usable[b.IntegrationID] {
			d.Branches = append(d.Branches, b)
		}
	}
	if err := s.readIndex(ctx, p.TenantID, &d, got.Index, got.Integrations, usable); err != nil {
		return Development{}, err
	}
	for _, pr := range got.PullRequests {
		if usable[pr.IntegrationID] {
			d.PullRequests = append(d.PullRequests, pr)
		}
	}
	return d, nil
}

// Audit lists audit events (administrators only).
func (s *Service) Audit(ctx context.Context, p relay.Principal, f relay.AuditFilter) ([]relay.AuditEvent, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return s.store.Audit(ctx, p.TenantID, f)
}

// Settings returns the app-wide settings.
func (s *Service) Settings(ctx context.Context, p relay.Principal) (relay.Settings, error) {
	return s.store.Settings(ctx, p.TenantID)
}

// UpdateSettings validates and saves app-wide settings (administrators only).
func (s *Service) UpdateSettings(ctx context.Context, p relay.Principal, st relay.Settings) (relay.Settings, error) {
	if err := requireAdmin(p); err != nil {
		return relay.Settings{}, err
	}
	fields := map[string]string{}
	if err := branchname.CheckTemplate(st.BranchTemplate); err != nil {
		fields["branch_template"] = relay.ErrorMessage(err)
	}
	switch st.Separator {
	case "-", "_", ".", "/":
	default:
		fields["separator"] = `The separator must be one of "-", "_", "." or "/".`
	}
	if st.MaxBranchLength < 20 || st.MaxBranchLength > 250 {
		fields["max_branch_length"] = "The maximum branch name length must be between 20 and 250."
	}
	if len(fields) == 0 {
		// The template must render with these very options for a sample
		// issue, so that a saved setting never fails at branch creation.
		sample := branchname.Vars{IssueKey: "ABC-123", Summary: "Sample issue summary", IssueType: "Bug",
			ProjectKey: "ABC", DisplayName: "Sample User", SourceBranch: "main"}
		opts := branchname.Options{Template: st.BranchTemplate, Separator: st.Separator, MaxLength: st.MaxBranchLength}
		if _, err := branchname.Render(opts, sample); err != nil {
			fields["branch_template"] = relay.ErrorMessage(err)
		}
	}
	if len(fields) > 0 {
		return relay.Settings{}, &relay.Error{Code: relay.EInvalid, Message: "The settings are invalid.", Fields: fields}
	}
	if err := s.store.PutSettings(ctx, p.TenantID, st); err != nil {
		return relay.Settings{}, err
	}
	return st, nil
}

// PreviewBranchName renders the branch name template for an issue, for
// dialogs that pre-fill the name.
func (s *Service) PreviewBranchName(ctx context.Context, p relay.Principal, v branchname.Vars) (string, error) {
	st, err := s.store.Settings(ctx, p.TenantID)
	if err != nil {
		return "", err
	}
	if v.DisplayName == "" {
		v.DisplayName = p.DisplayName
	}
	return branchname.Render(branchname.Options{Template: st.BranchTemplate, Separator: st.Separator, MaxLength: st.MaxBranchLength}, v)
}
