package relay

import (
	"context"
	"encoding/json"
	"time"
)

// The interfaces below are what the action path needs from the outside
// world. Their implementations live in store/, host/, vault/ and
// directory/. Every method returns *Error values for conditions a caller
// can act on (ENotFound, EConflict, ...) and plain errors otherwise.

// IntegrationStore keeps integrations and their sealed credentials.
// Write methods record the given audit event in the same transaction.
type IntegrationStore interface {
	CreateIntegration(ctx context.Context, in Integration, sealedCredential []byte, e AuditEvent) error
	// Integration returns ENotFound when id is not an integration of tenant.
	Integration(ctx context.Context, tenantID, id string) (Integration, error)
	IntegrationCredential(ctx context.Context, tenantID, id string) ([]byte, error)
	Integrations(ctx context.Context, tenantID string) ([]Integration, error)
	// UpdateIntegration replaces the integration's fields; a nil
	// sealedCredential keeps the stored one.
	UpdateIntegration(ctx context.Context, in Integration, sealedCredential []byte, e AuditEvent) error
	// MoveIntegration is UpdateIntegration for a change of the host the
	// integration talks to: in the same transaction it deletes every
	// user's token for the integration, records drop.Event once per token
	// (naming the token's user) and keeps drop.Reason for each of those
	// users (TokenNotices). It returns how many tokens it deleted.
	MoveIntegration(ctx context.Context, in Integration, sealedCredential []byte, e AuditEvent, drop TokenDrop) (int, error)
	// DeleteIntegration deletes the integration and every user's token for it.
	DeleteIntegration(ctx context.Context, tenantID, id string, e AuditEvent) error
}

// TokenStore keeps users' sealed PATs, one per (tenant, user, integration).
type TokenStore interface {
	// UserToken returns ENotFound when the user has saved no token.
	UserToken(ctx context.Context, tenantID, userID, integrationID string) (UserToken, error)
	UserTokens(ctx context.Context, tenantID, userID string) ([]UserToken, error)
	// PutUserToken inserts or replaces the user's token.
	PutUserToken(ctx context.Context, t UserToken, e AuditEvent) error
	SetUserTokenStatus(ctx context.Context, tenantID, userID, integrationID string, s TokenStatus, at time.Time) error
	// DeleteUserToken returns ENotFound when there is nothing to delete.
	DeleteUserToken(ctx context.Context, tenantID, userID, integrationID string, e AuditEvent) error
	// TokenNotices lists why the user's tokens were deleted by gitrelay
	// (TokenDrop), for the integrations they have not saved a new token
	// for since.
	TokenNotices(ctx context.Context, tenantID, userID string) ([]TokenNotice, error)
	// UnboundUserTokens lists, across every tenant, tokens saved before
	// tokens were bound to their host's origin (UserToken.Origin empty),
	// with the UpdatedAt of their integration: at most limit of them, in
	// (tenant, user, integration) order, after the key of after when it is
	// not nil.
	UnboundUserTokens(ctx context.Context, after *UserToken, limit int) ([]UnboundUserToken, error)
	// BindUserToken stores t's new sealed value and origin, but only if
	// the row is still unbound with the sealed value read by
	// UnboundUserTokens (prev); it reports whether it did.
	BindUserToken(ctx context.Context, t UserToken, prev []byte) (bool, error)
	// DropUnboundUserToken deletes an unbound token whose sealed value is
	// still prev, keeps reason for its user (TokenNotices) and records e
	// naming the token's user, in one transaction; it reports whether it
	// deleted the token.
	DropUnboundUserToken(ctx context.Context, t UserToken, prev []byte, reason string, e AuditEvent) (bool, error)
	// DueTokenChecks lists, across every tenant, at most limit valid
	// tokens bound to an origin and neither checked nor saved since
	// before, the longest unchecked first.
	DueTokenChecks(ctx context.Context, before time.Time, limit int) ([]UserToken, error)
	// TokenChecked records that t was checked at, unless its sealed value
	// changed since it was read.
	TokenChecked(ctx context.Context, t UserToken, at time.Time) error
	// MarkCheckedToken sets t's status as the host's refusal found by a
	// check at time at, and records e naming the token's user, in one
	// transaction; unless t's sealed value changed since it was read or it
	// is no longer valid. It reports whether it marked the token.
	MarkCheckedToken(ctx context.Context, t UserToken, status TokenStatus, at time.Time, e AuditEvent) (bool, error)
}

// AuditLog records and reads action attempts.
type AuditLog interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// Audit lists events newest first.
	Audit(ctx context.Context, tenantID string, f AuditFilter) ([]AuditEvent, error)
}

// WriteAheadLog records host writes before they are sent, so that no write
// happens without an audit row even if the process dies during the call.
// A write is completed by recording its event (with Completes set) through
// AppendAudit, RecordBranch, ForgetBranch or RecordPullRequest, which also
// removes it from the pending list.
type WriteAheadLog interface {
	// BeginHostWrite durably records w.Event with outcome pending.
	BeginHostWrite(ctx context.Context, w HostWrite) error
	// PendingHostWrites lists, across every tenant, pending writes that
	// began before the given time, oldest first, at most limit.
	PendingHostWrites(ctx context.Context, before time.Time, limit int) ([]HostWrite, error)
	// DeferHostWrite counts a reconciliation that could not learn the
	// outcome, with its reason.
	DeferHostWrite(ctx context.Context, tenantID, auditID, reason string) error
}

// RecordStore remembers what gitrelay created for issues.
type RecordStore interface {
	// RecordBranch inserts the branch, or refreshes the live record of the
	// same (integration, repository, name).
	RecordBranch(ctx context.Context, b BranchRecord, e AuditEvent) error
	// ForgetBranch removes the live record of a deleted branch, if any.
	ForgetBranch(ctx context.Context, tenantID, integrationID, repositoryID, name string, e AuditEvent) error
	IssueBranches(ctx context.Context, tenantID, issueKey string) ([]BranchRecord, error)
	RecordPullRequest(ctx context.Context, pr PullRequestRecord, e AuditEvent) error
	IssuePullRequests(ctx context.Context, tenantID, issueKey string) ([]PullRequestRecord, error)
}

// WebhookRegistrationStore keeps where gitrelay registered integrations'
// webhooks, and with which secret.
type WebhookRegistrationStore interface {
	// RecordWebhookRegistration records reg, replacing an earlier record
	// of the same repository, and e, which completes the registration's
	// pending audit row, in one transaction.
	RecordWebhookRegistration(ctx context.Context, reg WebhookRegistration, e AuditEvent) error
	WebhookRegistrations(ctx context.Context, tenantID, integrationID string) ([]WebhookRegistration, error)
}

// SettingsStore keeps app-wide settings per tenant.
type SettingsStore interface {
	// Settings returns DefaultSettings when the tenant saved none.
	Settings(ctx context.Context, tenantID string) (Settings, error)
	PutSettings(ctx context.Context, tenantID string, s Settings) error
}

// RepositoryCache keeps, per integration, the repositories its account
// can see, so that repository pickers search the store rather than list
// every repository from the host on each keystroke. Deleting an
// integration deletes its cached repositories.
type RepositoryCache interface {
	// ReplaceRepositories replaces the integration's whole list and its
	// sync time in one transaction; ENotFound when the integration is gone.
	ReplaceRepositories(ctx context.Context, tenantID, integrationID string, repos []Repository, syncedAt time.Time) error
	// SearchRepositories lists cached repositories whose full name
	// contains query (case-insensitive; empty matches all), ordered by
	// full name, at most limit (limit <= 0: all).
	SearchRepositories(ctx context.Context, tenantID, integrationID, query string, limit int) ([]Repository, error)
	// RepositoriesSyncedAt returns when the list was last replaced, or
	// ENotFound when it never was.
	RepositoriesSyncedAt(ctx context.Context, tenantID, integrationID string) (time.Time, error)
}

// ActionReads is what an action reads before it calls the host.
type ActionReads struct {
	Settings Settings
	// Integration is set when Found.
	Integration Integration
	Found       bool
	// Token is the user's saved token for the integration, nil when none.
	Token *UserToken
}

// ActionReader reads an action's prologue in one round trip.
type ActionReader interface {
	// ActionReads returns the tenant's settings, the integration and the
	// user's token for it; Found is false (with the settings set) when the
	// tenant has no such integration.
	ActionReads(ctx context.Context, tenantID, userID, integrationID string) (ActionReads, error)
}

// PanelReads is what an issue's development panel shows.
type PanelReads struct {
	// Integrations are the tenant's, oldest first. They may be shared
	// with other readers (the store keeps them): never modify them.
	Integrations []Integration
	// Tokens are the user's saved tokens, one per integration at most.
	Tokens       []UserToken
	Branches     []BranchRecord
	PullRequests []PullRequestRecord
	// Index is what the index holds for the issue, from every integration
	// of the tenant: the reader keeps what the user may see.
	Index IssueIndex
}

// PanelReader reads an issue's development panel in few round trips.
type PanelReader interface {
	PanelReads(ctx context.Context, tenantID, userID, issueKey string) (PanelReads, error)
}

// Store is everything the action path keeps.
type Store interface {
	ActionReader
	PanelReader
	IntegrationStore
	TokenStore
	AuditLog
	WriteAheadLog
	RecordStore
	SettingsStore
	RepositoryCache
	WebhookRegistrationStore
}

// Sealer encrypts secrets bound to their owner: a ciphertext sealed for one
// owner does not open for another.
type Sealer interface {
	Seal(plaintext []byte, owner string) ([]byte, error)
	Open(sealed []byte, owner string) ([]byte, error)
}

// IntegrationSecretOwner binds an integration credential to its row.
func IntegrationSecretOwner(tenantID, integrationID string) string {
	return "integration-credential\x00" + tenantID + "\x00" + integrationID
}

// UserTokenOwner binds a user's PAT to its row and to the origin of the
// host it was validated against (Hosts.Origin), so that it never opens for
// another host, even if its row survives a change of the integration's
// host. An empty origin is the owner of tokens saved before tokens were
// bound to origins; only the start-up binding (action.BindUserTokens)
// opens those.
func UserTokenOwner(tenantID, userID, integrationID, origin string) string {
	owner := "user-token\x00" + tenantID + "\x00" + userID + "\x00" + integrationID
	if origin != "" {
		owner += "\x00" + origin
	}
	return owner
}

// credentialWire is the sealed form of a Credential. Credential itself
// refuses to marshal its secrets, so that it can never leak by accident.
type credentialWire struct {
	Token           string `json:"t,omitempty"`
	Username        string `json:"u,omitempty"`
	Password        string `json:"p,omitempty"`
	AccessKeyID     string `json:"a,omitempty"`
	SecretAccessKey string `json:"s,omitempty"`
}

// SealCredential encodes and seals c for owner.
func SealCredential(s Sealer, c Credential, owner string) ([]byte, error) {
	b, err := json.Marshal(credentialWire{Token: c.Token(), Username: c.Username(), Password: c.Password(),
		AccessKeyID: c.AccessKeyID(), SecretAccessKey: c.SecretAccessKey()})
	if err != nil {
		return nil, err
	}
	return s.Seal(b, owner)
}

// OpenCredential opens a credential sealed by SealCredential.
func OpenCredential(s Sealer, sealed []byte, owner string) (Credential, error) {
	b, err := s.Open(sealed, owner)
	if err != nil {
		return Credential{}, err
	}
	var w credentialWire
	if err := json.Unmarshal(b, &w); err != nil {
		return Credential{}, err
	}
	return NewCredential(w.Token, w.Username, w.Password, w.AccessKeyID, w.SecretAccessKey), nil
}

// Directory answers what a user may do, from the built-in directory or from
// Jira.
type Directory interface {
	// CanViewDevTools reports whether p has View Development Tools (and, in
	// Jira, Browse Projects) on the project.
	CanViewDevTools(ctx context.Context, p Principal, projectKey string) (bool, error)
	// DevToolsProjects lists the project keys on which p has View
	// Development Tools.
	DevToolsProjects(ctx context.Context, p Principal) ([]string, error)
}

// HostClient performs operations on one git host with one credential.
//
// Errors are *Error values:
//   - ECredentialRejected: the host refused the credential (401, or an ADO
//     sign-in page): expired, revoked or malformed;
//   - EScopeMissing: the credential is valid but lacks a permission or scope
//     (Scope names it when the host tells);
//   - ENotFound: no such repository, branch or ref, or the credential cannot
//     see it (hosts hide private repositories);
//   - EBranchExists: the branch name is taken (URL may name it);
//   - EPullRequestExists: an open pull request for the same source and target
//     exists; URL points at it;
//   - EDraftUnsupported: the repository refuses drafts;
//   - EInvalidBranchName: the host rejected the name;
//   - ERateLimited (with RetryAfter), EHostTimeout, EHostError: the host is
//     busy, slow or broken.
type HostClient interface {
	// Validate returns the identity the credential authenticates as, with
	// its scopes and expiry where the host tells.
	Validate(ctx context.Context) (Account, error)
	// Repositories lists repositories the credential can write to whose
	// name contains query (case-insensitive; empty matches all).
	Repositories(ctx context.Context, query string) ([]Repository, error)
	Repository(ctx context.Context, id string) (Repository, error)
	Branches(ctx context.Context, repo Repository, query string) ([]Branch, error)
	Branch(ctx context.Context, repo Repository, name string) (Branch, error)
	// CreateBranch creates name at the commit base points to.
	CreateBranch(ctx context.Context, repo Repository, name, baseSHA string) (Branch, error)
	DeleteBranch(ctx context.Context, repo Repository, name string) error
	CreatePullRequest(ctx context.Context, repo Repository, pr NewPullRequest) (PullRequest, error)
	// FindPullRequest returns the open pull request from source to target,
	// or ENotFound.
	FindPullRequest(ctx context.Context, repo Repository, source, target string) (PullRequest, error)
}

// HookRegistrar is an optional capability of a HostClient: managing a
// repository's webhooks, which needs more of the account than acting on
// branches does (admin rights on the repository, and a scope for hooks
// where the host has one). Hosts.Hooks finds it. Errors are as for
// HostClient; EScopeMissing says what the account lacks.
type HookRegistrar interface {
	// FindHook returns the repository's hook delivering to url, or
	// ENotFound when it has none.
	FindHook(ctx context.Context, repo Repository, url string) (HostHook, error)
	// EnsureHook makes the repository's hook delivering to h.URL deliver
	// h.Events, active, proved with h.Secret: it sets the hook that
	// delivers there again (several with one URL on hosts that keep one
	// per event), or creates it, and says which. A hook already right is
	// left as it is only when h.SecretSet.
	EnsureHook(ctx context.Context, repo Repository, h Hook) (HookChange, error)
}

// Capabilities say what a host (of a given version) supports.
type Capabilities struct {
	// PAT is false for hosts without personal access tokens (TFS 2013/2015).
	PAT bool
	// Drafts is true when pull requests can be drafts.
	Drafts bool
	// RequiredScopes lists scope alternatives a PAT needs: every inner list
	// needs one of its members. Empty when the host cannot report scopes.
	RequiredScopes [][]string
	// TokenHelp says in a sentence what a user's token needs.
	TokenHelp string
}

// Hosts builds host clients; it is the registry of adapters.
type Hosts interface {
	// CheckConfig validates and normalises an integration's host settings
	// (base URL, options); errors are EInvalid with Fields.
	CheckConfig(cfg HostConfig) (HostConfig, error)
	Capabilities(cfg HostConfig) Capabilities
	Client(cfg HostConfig, cred Credential) (HostClient, error)
	// NewTokenURL is the host's page for creating a PAT, pre-filled with
	// name and the minimal scopes where the host allows.
	NewTokenURL(cfg HostConfig, name string) string
	// Origin names where a client for cfg sends credentials: the API root
	// (scheme, host, port and path) of the host, or every endpoint for
	// hosts with several. Two configurations with the same origin talk to
	// the same host; a user's PAT is bound to it. Never empty.
	Origin(cfg HostConfig) string
	// Hooks returns c's HookRegistrar, if its host kind registers
	// webhooks (c was made by Client).
	Hooks(c HostClient) (HookRegistrar, bool)
}

// Links builds gitrelay's own URLs, which the server owns.
type Links interface {
	// SetupURL is the user settings entry for an integration; returnTo is
	// where to go back to after saving (an issue key, or empty).
	SetupURL(integrationID, issueKey string) string
}

// SealedSecret is one stored secret as key rotation sees it: its sealed
// bytes and the owner they are bound to.
type SealedSecret struct {
	Owner  string
	Sealed []byte
}

// SecretStore lets key rotation re-seal every stored secret of every tenant.
type SecretStore interface {
	// ResealSecrets calls fn (never concurrently) for every stored secret, in batches of at most
	// batch rows, each batch in its own transaction. When fn returns non-nil
	// bytes the row is updated to them (only if it did not change since it
	// was read). It returns how many secrets it saw and how many it updated.
	ResealSecrets(ctx context.Context, batch int, fn func(SealedSecret) ([]byte, error)) (seen, updated int, err error)
}
