// Package relay is gitrelay's core vocabulary: domain types, the one error
// type, the identity policy (ChooseIdentity) that decides whose credential
// acts, and the small interfaces through which the action path
// (internal/action) reaches storage, hosts, secrets and the directory. It
// performs no I/O.
package relay

import (
	"log/slog"
	"strings"
	"time"
)

// Kind names a type of git host (the API value of an integration's kind).
type Kind string

// Principal is the user an action is performed for.
type Principal struct {
	TenantID    string
	UserID      string
	Username    string
	DisplayName string
	Admin       bool
}

// Integration is one connection to one git host.
type Integration struct {
	ID       string
	TenantID string
	Kind     Kind
	Name     string
	BaseURL  string
	// Options holds kind-specific settings (TFS suffix and version,
	// CodeCommit region, ...).
	Options        map[string]string
	Enabled        bool
	RequireUserPAT bool
	// Projects restricts the integration to these project keys; nil means
	// every project.
	Projects []string
	// Repositories restricts the integration to these repositories, by the
	// host's own ids (Repository.ID); nil means every repository the
	// integration account can see. An empty list includes none.
	Repositories []string
	// Account is the identity the integration credential authenticates as,
	// learnt when the credential was validated.
	Account   Account
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AssociatedWith reports whether issues of projectKey may use the integration.
func (in Integration) AssociatedWith(projectKey string) bool {
	if in.Projects == nil {
		return true
	}
	for _, k := range in.Projects {
		if k == projectKey {
			return true
		}
	}
	return false
}

// IncludesRepository reports whether the integration includes the
// repository with the host id repositoryID.
func (in Integration) IncludesRepository(repositoryID string) bool {
	if in.Repositories == nil {
		return true
	}
	for _, id := range in.Repositories {
		if id == repositoryID {
			return true
		}
	}
	return false
}

// HostConfig is what an adapter needs to know about an integration to reach
// its host.
func (in Integration) HostConfig() HostConfig {
	return HostConfig{Kind: in.Kind, BaseURL: in.BaseURL, Options: in.Options}
}

// HostConfig locates a host.
type HostConfig struct {
	Kind    Kind
	BaseURL string
	Options map[string]string
}

// Credential is a secret that authenticates to a host: a PAT, a
// username/password pair (TFS 2013/2015) or an access key pair (CodeCommit).
//
// It refuses to print, log or serialise its contents. The secrets sit
// behind a pointer, so that even a Credential inside another struct printed
// with %+v or %#v shows an address, never a secret (fmt does not follow
// nested pointers, and it cannot call String on unexported fields).
type Credential struct {
	s *credentialSecrets
}

type credentialSecrets struct {
	token, username, password, accessKeyID, secretAccessKey string
}

// NewCredential builds a credential from whichever fields the host kind
// uses; empty fields are unset.
func NewCredential(token, username, password, accessKeyID, secretAccessKey string) Credential {
	if token == "" && username == "" && password == "" && accessKeyID == "" && secretAccessKey == "" {
		return Credential{}
	}
	return Credential{s: &credentialSecrets{token: token, username: username, password: password,
		accessKeyID: accessKeyID, secretAccessKey: secretAccessKey}}
}

// TokenCredential is a personal access token.
func TokenCredential(token string) Credential { return NewCredential(token, "", "", "", "") }

// PasswordCredential is a username and password (TFS 2013/2015).
func PasswordCredential(username, password string) Credential {
	return NewCredential("", username, password, "", "")
}

// AccessKeyCredential is an access key pair (AWS).
func AccessKeyCredential(accessKeyID, secretAccessKey string) Credential {
	return NewCredential("", "", "", accessKeyID, secretAccessKey)
}

func (c Credential) field(f func(*credentialSecrets) string) string {
	if c.s == nil {
		return ""
	}
	return f(c.s)
}

// Token is the personal access token, if any.
func (c Credential) Token() string {
	return c.field(func(s *credentialSecrets) string { return s.token })
}

// Username is the account name of a password credential.
func (c Credential) Username() string {
	return c.field(func(s *credentialSecrets) string { return s.username })
}

// Password is the password of a password credential.
func (c Credential) Password() string {
	return c.field(func(s *credentialSecrets) string { return s.password })
}

// AccessKeyID is the id of an access key pair.
func (c Credential) AccessKeyID() string {
	return c.field(func(s *credentialSecrets) string { return s.accessKeyID })
}

// SecretAccessKey is the secret of an access key pair.
func (c Credential) SecretAccessKey() string {
	return c.field(func(s *credentialSecrets) string { return s.secretAccessKey })
}

// Trimmed returns the credential with surrounding white space removed from
// its token, username and keys (pasted tokens often carry a newline). A
// password is kept as typed: spaces may belong to it.
func (c Credential) Trimmed() Credential {
	t := strings.TrimSpace
	return NewCredential(t(c.Token()), t(c.Username()), c.Password(), t(c.AccessKeyID()), t(c.SecretAccessKey()))
}

// IsZero reports whether no secret is set.
func (c Credential) IsZero() bool {
	return c.Token() == "" && c.Username() == "" && c.Password() == "" && c.AccessKeyID() == "" && c.SecretAccessKey() == ""
}

func (Credential) String() string               { return "[redacted credential]" }
func (Credential) GoString() string             { return "[redacted credential]" }
func (Credential) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Credential) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
func (Credential) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Account is a git host identity and what the host says about the credential
// that authenticated as it.
type Account struct {
	Login string
	Name  string
	// Scopes the host reports for the credential; nil when the host cannot
	// tell (fine-grained GitHub tokens, Azure DevOps).
	Scopes []string
	// ExpiresAt is nil when the credential does not expire or the host does
	// not say.
	ExpiresAt *time.Time
}

// TokenStatus is the state of a user's PAT for one integration.
type TokenStatus string

const (
	TokenMissing           TokenStatus = "missing"
	TokenValid             TokenStatus = "valid"
	TokenExpiring          TokenStatus = "expiring"
	TokenExpired           TokenStatus = "expired"
	TokenRevoked           TokenStatus = "revoked"
	TokenInsufficientScope TokenStatus = "insufficient_scope"
	// TokenUnsupported: the host version has no PATs (TFS 2013/2015).
	TokenUnsupported TokenStatus = "unsupported"
)

// ExpiringWithin is how close to its expiry a valid token is called expiring.
const ExpiringWithin = 7 * 24 * time.Hour

// UserToken is a user's PAT for one integration. The secret itself travels
// sealed; only the vault opens it.
type UserToken struct {
	TenantID      string
	UserID        string
	IntegrationID string
	Account       Account
	// Status as last learnt from the host (valid, expired, revoked,
	// insufficient_scope). Expiry by the clock is applied by StatusAt.
	Status      TokenStatus
	ValidatedAt time.Time
	UpdatedAt   time.Time
	// Origin is the origin (Hosts.Origin) of the host the token was
	// validated against, part of its sealing owner (UserTokenOwner). Empty
	// for tokens saved before tokens were bound to origins.
	Origin string
	Sealed []byte
}

// TokenNotice tells a user why gitrelay deleted their token for an
// integration; it lasts until they save a new one.
type TokenNotice struct {
	IntegrationID string
	Reason        string
	At            time.Time
}

// TokenDrop deletes every user's token for an integration whose host
// changed (IntegrationStore.MoveIntegration).
type TokenDrop struct {
	// Reason is what each user is told (TokenNotice.Reason).
	Reason string
	// Event is recorded once per deleted token, with the token's user as
	// UserID and Username and its git login as Login.
	Event AuditEvent
}

// UnboundUserToken is a token saved before tokens were bound to origins,
// with when its integration last changed.
type UnboundUserToken struct {
	UserToken
	IntegrationUpdatedAt time.Time
}

// StatusAt is the token's status at now, taking its known expiry into
// account.
func (t UserToken) StatusAt(now time.Time) TokenStatus {
	if t.Status != TokenValid && t.Status != TokenExpiring && t.Status != "" {
		return t.Status
	}
	if t.Account.ExpiresAt != nil {
		if !now.Before(*t.Account.ExpiresAt) {
			return TokenExpired
		}
		if t.Account.ExpiresAt.Sub(now) <= ExpiringWithin {
			return TokenExpiring
		}
	}
	return TokenValid
}

// Repository is a repository on a host.
type Repository struct {
	ID            string
	Name          string
	FullName      string
	DefaultBranch string
	WebURL        string
}

// Branch is a branch on a host.
type Branch struct {
	Name string
	SHA  string
	URL  string
}

// PullRequest is a pull or merge request on a host.
type PullRequest struct {
	Number int
	Title  string
	URL    string
	Source string
	Target string
	Draft  bool
}

// NewPullRequest describes a pull request to create.
type NewPullRequest struct {
	Source      string
	Target      string
	Title       string
	Description string
	Draft       bool
}

// Settings are app-wide, per tenant.
type Settings struct {
	BranchesEnabled     bool
	PullRequestsEnabled bool
	BranchTemplate      string
	Separator           string
	MaxBranchLength     int
}

// DefaultSettings are what a new tenant starts with.
func DefaultSettings() Settings {
	return Settings{
		BranchesEnabled:     true,
		PullRequestsEnabled: true,
		BranchTemplate:      "${issuekey}-${summary}",
		Separator:           "-",
		MaxBranchLength:     250,
	}
}

// Via says whose credential performed a host action.
type Via string

const (
	ViaUserToken   Via = "user_token"
	ViaIntegration Via = "integration"
)

// ActedAs names the git identity that performed an action.
type ActedAs struct {
	Via   Via
	Login string
}

// Actions recorded in the audit trail.
const (
	ActionBranchCreate      = "branch.create"
	ActionBranchDelete      = "branch.delete"
	ActionPullRequestCreate = "pull_request.create"
	ActionTokenSave         = "token.save"
	ActionTokenRemove       = "token.remove"
	// ActionTokenDropped: gitrelay deleted a user's token because the
	// integration's host changed (or it could not tell which host the
	// token was validated against).
	ActionTokenDropped = "token.dropped"
	// ActionTokenChecked: the periodic token check found a user's saved
	// token refused by its host and marked it (revoked, expired or
	// lacking a scope).
	ActionTokenChecked      = "token.checked"
	ActionIntegrationCreate = "integration.create"
	ActionIntegrationUpdate = "integration.update"
	ActionIntegrationDelete = "integration.delete"
	ActionRequireUserPAT    = "integration.require_user_pat"
	// ActionWebhookRegister: an administrator had gitrelay register the
	// integration's webhook on one of its repositories, as the
	// integration account (one event per repository).
	ActionWebhookRegister = "webhook.register"
	// ActionAPITokenCreate and ActionAPITokenRevoke: an API token was
	// created for, or revoked from, the user the event's detail names (the
	// event's user is who asked; never the token itself).
	ActionAPITokenCreate = "api_token.create"
	ActionAPITokenRevoke = "api_token.revoke"
)

// AuditActions lists every action of the audit trail, in the order the
// audit page offers them as a filter.
var AuditActions = []string{ActionBranchCreate, ActionBranchDelete, ActionPullRequestCreate,
	ActionTokenSave, ActionTokenRemove, ActionTokenDropped, ActionTokenChecked, ActionIntegrationCreate,
	ActionIntegrationUpdate, ActionIntegrationDelete, ActionRequireUserPAT, ActionWebhookRegister,
	ActionAPITokenCreate, ActionAPITokenRevoke}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeRefused = "refused" // gitrelay's policy or validation said no
	OutcomeFailed  = "failed"  // the host said no or did not answer
	// OutcomePending marks an attempt recorded before its host write
	// (write-ahead): it is completed after the call, or by reconciliation
	// when the process died in between.
	OutcomePending = "pending"
	// OutcomeUnknown is a pending attempt whose outcome reconciliation
	// could not learn from the host; Detail says why.
	OutcomeUnknown = "unknown"
)

// AuditEvent is one recorded attempt.
type AuditEvent struct {
	ID            string
	TenantID      string
	At            time.Time
	UserID        string
	Username      string
	Action        string
	IntegrationID string
	Repository    string
	Ref           string
	IssueKey      string
	Via           Via
	Login         string
	Outcome       string
	ErrorCode     string
	Detail        string
	// Completes says that the event completes the pending row its ID names
	// (written by BeginHostWrite) instead of adding a row. It is not
	// stored.
	Completes bool
}

// HostWrite is a host write recorded before it is sent: the pending audit
// row, and what reconciliation needs to ask the host whether it happened.
type HostWrite struct {
	// Event is the attempt; its Outcome is OutcomePending.
	Event        AuditEvent
	RepositoryID string
	// Target is a pull request's target branch (Event.Ref is its source).
	Target string
	// Attempts counts reconciliations that could not learn the outcome;
	// LastError is the latest reason.
	Attempts  int
	LastError string
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Username      string
	IntegrationID string
	Action        string
	Outcome       string
	Since, Until  time.Time
	Limit         int
}

// BranchRecord is a branch gitrelay created for an issue.
type BranchRecord struct {
	ID            string
	TenantID      string
	IssueKey      string
	IntegrationID string
	RepositoryID  string
	Repository    string
	Name          string
	URL           string
	ActedAs       ActedAs
	CreatedBy     string
	CreatedAt     time.Time
}

// PullRequestRecord is a pull request gitrelay created for an issue.
type PullRequestRecord struct {
	ID            string
	TenantID      string
	IssueKey      string
	IntegrationID string
	RepositoryID  string
	Repository    string
	Number        int
	Title         string
	URL           string
	Source        string
	Target        string
	Draft         bool
	ActedAs       ActedAs
	CreatedBy     string
	CreatedAt     time.Time
}

// User is a member of the built-in directory.
type User struct {
	ID          string
	TenantID    string
	Username    string
	DisplayName string
	Email       string
	Admin       bool
	CreatedAt   time.Time
}

// Project is a project of the built-in directory.
type Project struct {
	TenantID string
	Key      string
	Name     string
}

// Grant gives View Development Tools on a project to a user, or to everyone
// when UserID is empty.
type Grant struct {
	TenantID   string
	ProjectKey string
	UserID     string
	Username   string
}

// APIToken lets a script act as a user. Only its SHA-256 hash is stored.
type APIToken struct {
	ID         string
	TenantID   string
	UserID     string
	Name       string
	Hash       []byte
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is when the token stops working; zero when it does not
	// expire.
	ExpiresAt time.Time
}

// LocalTenant is the tenant of the built-in directory.
const LocalTenant = "local"
