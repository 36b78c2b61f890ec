package store

import (
	"context"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// This file keeps the web app's state: browser sessions and the per-user,
// per-project repository default of the Create branch dialog.

const (
	msgSessionNotFound     = "session not found"
	msgRepoDefaultNotFound = "no default repository is saved for this project"
)

// Session is a signed-in browser. TokenHash is the SHA-256 of the cookie's
// token; the token itself is never stored.
type Session struct {
	TokenHash []byte
	TenantID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO web_sessions (token_hash, tenant_id, user_id, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, s.TokenHash, s.TenantID, s.UserID, micros(db.orNow(s.CreatedAt)), micros(s.ExpiresAt))
		return dbError(err, "create session", "", "a session with this token already exists")
	})
}

// Session returns the unexpired session whose token hashes to tokenHash, or
// ENotFound (also for an expired one: to the caller it is simply gone).
func (db *DB) Session(ctx context.Context, tokenHash []byte) (Session, error) {
	var s Session
	var created, expires int64
	err := db.reader().queryRow(ctx, `SELECT token_hash, tenant_id, user_id, created_at, expires_at
		FROM web_sessions WHERE token_hash = ? AND expires_at > ?`, tokenHash, micros(db.now())).
		Scan(&s.TokenHash, &s.TenantID, &s.UserID, &created, &expires)
	if err != nil {
		return Session{}, dbError(err, "read session", msgSessionNotFound, "")
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

// DeleteSession signs a browser out. Deleting a session that does not
// exist is not an error: signing out twice is harmless.
func (db *DB) DeleteSession(ctx context.Context, tokenHash []byte) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM web_sessions WHERE token_hash = ?`, tokenHash)
		return dbError(err, "delete session", "", "")
	})
}

// DeleteUserSessions signs the user out of every browser except the
// session hashing to keep (nil: every one), as a password change must.
func (db *DB) DeleteUserSessions(ctx context.Context, tenantID, userID string, keep []byte) error {
	return db.inTx(ctx, func(c conn) error {
		var err error
		if keep == nil {
			_, err = c.exec(ctx, `DELETE FROM web_sessions WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		} else {
			_, err = c.exec(ctx, `DELETE FROM web_sessions WHERE tenant_id = ? AND user_id = ? AND token_hash <> ?`,
				tenantID, userID, keep)
		}
		return dbError(err, "delete user sessions", "", "")
	})
}

// DeleteExpiredSessions removes sessions that expired before now and
// returns how many it removed.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ?`, micros(db.now()))
		if err != nil {
			return dbError(err, "delete expired sessions", "", "")
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// RepoDefault is the repository a user chose as the default for a
// project's Create branch dialog.
type RepoDefault struct {
	TenantID       string
	UserID         string
	ProjectKey     string
	IntegrationID  string
	RepositoryID   string
	RepositoryName string
	BaseBranch     string
	UpdatedAt      time.Time
}

// RepoDefault returns the user's default for the project, or ENotFound.
func (db *DB) RepoDefault(ctx context.Context, tenantID, userID, projectKey string) (RepoDefault, error) {
	d := RepoDefault{TenantID: tenantID, UserID: userID, ProjectKey: projectKey}
	var updated int64
	err := db.reader().queryRow(ctx, `SELECT integration_id, repository_id, repository_name, base_branch, updated_at
		FROM web_repo_defaults WHERE tenant_id = ? AND user_id = ? AND project_key = ?`, tenantID, userID, projectKey).
		Scan(&d.IntegrationID, &d.RepositoryID, &d.RepositoryName, &d.BaseBranch, &updated)
	if err != nil {
		return RepoDefault{}, dbError(err, "read repository default", msgRepoDefaultNotFound, "")
	}
	d.UpdatedAt = fromMicros(updated)
	return d, nil
}

// PutRepoDefault saves the user's default for the project, replacing any
// saved before.
func (db *DB) PutRepoDefault(ctx context.Context, d RepoDefault) error {
	if d.TenantID == "" || d.UserID == "" || d.ProjectKey == "" {
		return relay.Errorf(relay.EInvalid, "A repository default needs a tenant, a user and a project.")
	}
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO web_repo_defaults (tenant_id, user_id, project_key, integration_id,
				repository_id, repository_name, base_branch, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, user_id, project_key) DO UPDATE SET
				integration_id = excluded.integration_id,
				repository_id = excluded.repository_id,
				repository_name = excluded.repository_name,
				base_branch = excluded.base_branch,
				updated_at = excluded.updated_at`,
			d.TenantID, d.UserID, d.ProjectKey, d.IntegrationID, d.RepositoryID, d.RepositoryName, d.BaseBranch,
			micros(db.orNow(d.UpdatedAt)))
		return dbError(err, "put repository default", "", "")
	})
}
