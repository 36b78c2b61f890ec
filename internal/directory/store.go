// Package directory is the built-in user directory: users, passwords, API
// tokens, projects and View Development Tools grants.
package directory

import (
	"context"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Store is what the built-in directory keeps. Errors are *relay.Error with
// ENotFound or EConflict where a caller can act on them.
type Store interface {
	EnsureTenant(ctx context.Context, id, name string) error

	// CreateUser returns EConflict when the username is taken.
	CreateUser(ctx context.Context, u relay.User, passwordHash string) error
	User(ctx context.Context, tenantID, id string) (relay.User, error)
	UserByUsername(ctx context.Context, tenantID, username string) (relay.User, error)
	Users(ctx context.Context, tenantID string) ([]relay.User, error)
	UpdateUser(ctx context.Context, u relay.User) error
	SetPassword(ctx context.Context, tenantID, userID, hash string) error
	PasswordHash(ctx context.Context, tenantID, userID string) (string, error)
	// DeleteUser deletes the user with their PATs, API tokens and grants.
	DeleteUser(ctx context.Context, tenantID, userID string) error
	CountUsers(ctx context.Context, tenantID string) (int, error)

	// CreateAPIToken stores the token and records e with it.
	CreateAPIToken(ctx context.Context, t relay.APIToken, e relay.AuditEvent) error
	// APITokenUser returns the token with this SHA-256 hash and the user
	// owning it, or ENotFound.
	APITokenUser(ctx context.Context, hash []byte) (relay.User, relay.APIToken, error)
	// TouchAPIToken records a use at at, unless one is recorded less than
	// every before.
	TouchAPIToken(ctx context.Context, tenantID, id string, at time.Time, every time.Duration) error
	// APITokens lists the user's tokens (without hashes).
	APITokens(ctx context.Context, tenantID, userID string) ([]relay.APIToken, error)
	// DeleteAPIToken revokes a token of the user, recording e with it, or
	// returns ENotFound.
	DeleteAPIToken(ctx context.Context, tenantID, userID, id string, e relay.AuditEvent) error

	// CreateProject returns EConflict when the key is taken.
	CreateProject(ctx context.Context, p relay.Project) error
	Projects(ctx context.Context, tenantID string) ([]relay.Project, error)
	DeleteProject(ctx context.Context, tenantID, key string) error

	// PutGrant is idempotent. An empty UserID grants to everyone.
	PutGrant(ctx context.Context, g relay.Grant) error
	DeleteGrant(ctx context.Context, g relay.Grant) error
	Grants(ctx context.Context, tenantID string) ([]relay.Grant, error)
	// HasGrant is true when the user, or everyone, has the grant.
	HasGrant(ctx context.Context, tenantID, projectKey, userID string) (bool, error)
	// GrantedProjects lists project keys the user (or everyone) is granted.
	GrantedProjects(ctx context.Context, tenantID, userID string) ([]string, error)
}
