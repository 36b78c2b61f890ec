package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// This file implements directory.Store: tenants and the built-in
// directory's users, API tokens, projects and grants.

const (
	msgUserNotFound     = "user not found"
	msgUsernameTaken    = "this username is already taken"
	msgAPITokenNotFound = "API token not found"
	msgProjectNotFound  = "project not found"
	msgProjectExists    = "a project with this key already exists"
	msgGrantNotFound    = "grant not found"
)

// EnsureTenant creates the tenant, or renames it when it exists.
func (db *DB) EnsureTenant(ctx context.Context, id, name string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`,
			id, name, micros(db.now()))
		if err != nil {
			return dbError(err, "ensure tenant", "", "")
		}
		return nil
	})
}

const userColumns = `tenant_id, id, username, display_name, email, admin, created_at`

// CreateUser inserts the user with a password hash ("" for none). It
// returns EConflict when the username (or id) is taken in the tenant.
// Usernames are compared exactly: callers normalise them first.
func (db *DB) CreateUser(ctx context.Context, u relay.User, passwordHash string) error {
	created := db.orNow(u.CreatedAt)
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO users (`+userColumns+`, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.TenantID, u.ID, u.Username, u.DisplayName, u.Email, u.Admin, micros(created), passwordHash)
		return dbError(err, "create user", "", msgUsernameTaken)
	})
}

// User returns the user, or ENotFound.
func (db *DB) User(ctx context.Context, tenantID, id string) (relay.User, error) {
	row := db.reader().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id)
	u, err := scanUser(row)
	if err != nil {
		return relay.User{}, dbError(err, "read user", msgUserNotFound, "")
	}
	return u, nil
}

// UserByUsername returns the user with exactly this (normalised) username,
// or ENotFound.
func (db *DB) UserByUsername(ctx context.Context, tenantID, username string) (relay.User, error) {
	row := db.reader().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ? AND username = ?`,
		tenantID, username)
	u, err := scanUser(row)
	if err != nil {
		return relay.User{}, dbError(err, "read user", msgUserNotFound, "")
	}
	return u, nil
}

// Users lists the tenant's users by username. The slice is never nil.
func (db *DB) Users(ctx context.Context, tenantID string) ([]relay.User, error) {
	rows, err := db.reader().query(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = ?
		ORDER BY username, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	out := []relay.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces the user's username, display name, email and admin
// flag. It returns ENotFound for an unknown user and EConflict when the new
// username is taken.
func (db *DB) UpdateUser(ctx context.Context, u relay.User) error {
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE users SET username = ?, display_name = ?, email = ?, admin = ?
			WHERE tenant_id = ? AND id = ?`,
			u.Username, u.DisplayName, u.Email, u.Admin, u.TenantID, u.ID)
		if err != nil {
			return dbError(err, "update user", "", msgUsernameTaken)
		}
		return mustAffect(res, "update user", msgUserNotFound)
	})
}

// SetPassword replaces the user's password hash, or returns ENotFound.
func (db *DB) SetPassword(ctx context.Context, tenantID, userID, hash string) error {
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `UPDATE users SET password_hash = ? WHERE tenant_id = ? AND id = ?`,
			hash, tenantID, userID)
		if err != nil {
			return dbError(err, "set password", "", "")
		}
		return mustAffect(res, "set password", msgUserNotFound)
	})
}

// PasswordHash returns the user's password hash ("" when the user has no
// password), or ENotFound.
func (db *DB) PasswordHash(ctx context.Context, tenantID, userID string) (string, error) {
	var hash string
	err := db.reader().queryRow(ctx, `SELECT password_hash FROM users WHERE tenant_id = ? AND id = ?`,
		tenantID, userID).Scan(&hash)
	if err != nil {
		return "", dbError(err, "read password hash", msgUserNotFound, "")
	}
	return hash, nil
}

// DeleteUser deletes the user with their PATs, API tokens and grants, or
// returns ENotFound. Audit events and branch/pull request records keep
// naming the user: they are history.
func (db *DB) DeleteUser(ctx context.Context, tenantID, userID string) error {
	return db.inTx(ctx, func(c conn) error {
		for _, table := range []string{"user_tokens", "api_tokens", "project_grants"} {
			_, err := c.exec(ctx, `DELETE FROM `+table+` WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
			if err != nil {
				return dbError(err, "delete user "+table, "", "")
			}
		}
		res, err := c.exec(ctx, `DELETE FROM users WHERE tenant_id = ? AND id = ?`, tenantID, userID)
		if err != nil {
			return dbError(err, "delete user", "", "")
		}
		return mustAffect(res, "delete user", msgUserNotFound)
	})
}

// CountUsers counts the tenant's users.
func (db *DB) CountUsers(ctx context.Context, tenantID string) (int, error) {
	var n int64
	err := db.reader().queryRow(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ?`, tenantID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return int(n), nil
}

func scanUser(s scanner) (relay.User, error) {
	var (
		u       relay.User
		created int64
	)
	err := s.Scan(&u.TenantID, &u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Admin, &created)
	if err != nil {
		return relay.User{}, err
	}
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// CreateAPIToken stores the token's hash, and records e (who asked) with
// it. It returns ENotFound when the user does not exist and EConflict when
// the hash (or id) is already stored.
func (db *DB) CreateAPIToken(ctx context.Context, t relay.APIToken, e relay.AuditEvent) error {
	if len(t.Hash) == 0 {
		return fmt.Errorf("store: create API token: no hash")
	}
	created := db.orNow(t.CreatedAt)
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO api_tokens (tenant_id, id, user_id, name, hash, created_at, last_used_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.TenantID, t.ID, t.UserID, t.Name, t.Hash, micros(created), nullMicros(t.LastUsedAt), nullMicros(t.ExpiresAt))
		if err != nil {
			return dbError(err, "create API token", msgUserNotFound, "this API token already exists")
		}
		return db.insertAudit(ctx, c, t.TenantID, e)
	})
}

// APITokenUser returns the token with this SHA-256 hash and the user owning
// it, in whatever tenant that is, or ENotFound. It is the one directory
// lookup without a tenant: the token is what tells the tenant. The caller
// decides about expiry (ExpiresAt); the returned token has no Hash.
func (db *DB) APITokenUser(ctx context.Context, hash []byte) (relay.User, relay.APIToken, error) {
	var (
		u                 relay.User
		t                 relay.APIToken
		created, tCreated int64
		lastUsed, expires sql.NullInt64
	)
	err := db.hot().queryRow(ctx, `SELECT u.tenant_id, u.id, u.username, u.display_name, u.email, u.admin,
			u.created_at, t.id, t.name, t.created_at, t.last_used_at, t.expires_at
		FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
		WHERE t.hash = ?`, hash).Scan(&u.TenantID, &u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Admin,
		&created, &t.ID, &t.Name, &tCreated, &lastUsed, &expires)
	if err != nil {
		return relay.User{}, relay.APIToken{}, dbError(err, "read API token user", msgAPITokenNotFound, "")
	}
	u.CreatedAt = fromMicros(created)
	t.TenantID, t.UserID = u.TenantID, u.ID
	t.CreatedAt, t.LastUsedAt, t.ExpiresAt = fromMicros(tCreated), fromNullMicros(lastUsed), fromNullMicros(expires)
	return u, t, nil
}

// TouchAPIToken records that the token was used at at, unless its last
// use is recorded less than every before at: whichever replica comes first
// writes, the others' updates match no row, so a busy token costs at most
// one write per interval.
func (db *DB) TouchAPIToken(ctx context.Context, tenantID, id string, at time.Time, every time.Duration) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `UPDATE api_tokens SET last_used_at = ?
			WHERE tenant_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
			micros(at), tenantID, id, micros(at.Add(-every)))
		return dbError(err, "touch API token", "", "")
	})
}

// APITokens lists the user's API tokens, oldest first, without their
// hashes. The slice is never nil.
func (db *DB) APITokens(ctx context.Context, tenantID, userID string) ([]relay.APIToken, error) {
	rows, err := db.reader().query(ctx, `SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens
		WHERE tenant_id = ? AND user_id = ? ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list API tokens: %w", err)
	}
	defer rows.Close()
	out := []relay.APIToken{}
	for rows.Next() {
		t := relay.APIToken{TenantID: tenantID, UserID: userID}
		var (
			created           int64
			lastUsed, expires sql.NullInt64
		)
		if err := rows.Scan(&t.ID, &t.Name, &created, &lastUsed, &expires); err != nil {
			return nil, fmt.Errorf("store: list API tokens: %w", err)
		}
		t.CreatedAt, t.LastUsedAt, t.ExpiresAt = fromMicros(created), fromNullMicros(lastUsed), fromNullMicros(expires)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list API tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken revokes the user's token, and records e (who asked) with
// it: from the commit on, the token finds no row on any replica. It
// returns ENotFound when the user has no token with this id.
func (db *DB) DeleteAPIToken(ctx context.Context, tenantID, userID, id string, e relay.AuditEvent) error {
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ? AND id = ?`, tenantID, userID, id)
		if err != nil {
			return dbError(err, "delete API token", "", "")
		}
		if err := mustAffect(res, "delete API token", msgAPITokenNotFound); err != nil {
			return err
		}
		return db.insertAudit(ctx, c, tenantID, e)
	})
}

// CreateProject returns EConflict when the key is taken in the tenant.
func (db *DB) CreateProject(ctx context.Context, p relay.Project) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO projects (tenant_id, project_key, name) VALUES (?, ?, ?)`,
			p.TenantID, p.Key, p.Name)
		return dbError(err, "create project", "", msgProjectExists)
	})
}

// Projects lists the tenant's projects by key. The slice is never nil.
func (db *DB) Projects(ctx context.Context, tenantID string) ([]relay.Project, error) {
	rows, err := db.reader().query(ctx, `SELECT tenant_id, project_key, name FROM projects WHERE tenant_id = ?
		ORDER BY project_key`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	defer rows.Close()
	out := []relay.Project{}
	for rows.Next() {
		var p relay.Project
		if err := rows.Scan(&p.TenantID, &p.Key, &p.Name); err != nil {
			return nil, fmt.Errorf("store: list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list projects: %w", err)
	}
	return out, nil
}

// DeleteProject deletes the project with its grants, or returns ENotFound.
func (db *DB) DeleteProject(ctx context.Context, tenantID, key string) error {
	return db.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `DELETE FROM project_grants WHERE tenant_id = ? AND project_key = ?`, tenantID, key)
		if err != nil {
			return dbError(err, "delete project grants", "", "")
		}
		res, err := c.exec(ctx, `DELETE FROM projects WHERE tenant_id = ? AND project_key = ?`, tenantID, key)
		if err != nil {
			return dbError(err, "delete project", "", "")
		}
		return mustAffect(res, "delete project", msgProjectNotFound)
	})
}

// PutGrant grants View Development Tools on the project to the user, or to
// everyone when UserID is empty. Granting twice is not an error. It returns
// ENotFound when the project or the user does not exist.
func (db *DB) PutGrant(ctx context.Context, g relay.Grant) error {
	return db.inTx(ctx, func(c conn) error {
		// user_id has no foreign key ('' means everyone), so check the user
		// here, in the same transaction.
		if g.UserID != "" {
			var n int64
			err := c.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = ? AND id = ?`,
				g.TenantID, g.UserID).Scan(&n)
			if err != nil {
				return dbError(err, "put grant", "", "")
			}
			if n == 0 {
				return relay.Errorf(relay.ENotFound, "%s", msgUserNotFound)
			}
		}
		_, err := c.exec(ctx, `INSERT INTO project_grants (tenant_id, project_key, user_id) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, project_key, user_id) DO NOTHING`,
			g.TenantID, g.ProjectKey, g.UserID)
		return dbError(err, "put grant", msgProjectNotFound, "")
	})
}

// DeleteGrant removes the grant, or returns ENotFound when there is none.
func (db *DB) DeleteGrant(ctx context.Context, g relay.Grant) error {
	return db.inTx(ctx, func(c conn) error {
		res, err := c.exec(ctx, `DELETE FROM project_grants WHERE tenant_id = ? AND project_key = ? AND user_id = ?`,
			g.TenantID, g.ProjectKey, g.UserID)
		if err != nil {
			return dbError(err, "delete grant", "", "")
		}
		return mustAffect(res, "delete grant", msgGrantNotFound)
	})
}

// Grants lists the tenant's grants by project key then user id, with the
// username of each grantee ("" for everyone). The slice is never nil.
func (db *DB) Grants(ctx context.Context, tenantID string) ([]relay.Grant, error) {
	rows, err := db.reader().query(ctx, `SELECT g.tenant_id, g.project_key, g.user_id, COALESCE(u.username, '')
		FROM project_grants g LEFT JOIN users u ON u.tenant_id = g.tenant_id AND u.id = g.user_id
		WHERE g.tenant_id = ? ORDER BY g.project_key, g.user_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list grants: %w", err)
	}
	defer rows.Close()
	out := []relay.Grant{}
	for rows.Next() {
		var g relay.Grant
		if err := rows.Scan(&g.TenantID, &g.ProjectKey, &g.UserID, &g.Username); err != nil {
			return nil, fmt.Errorf("store: list grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list grants: %w", err)
	}
	return out, nil
}

// HasGrant reports whether the user, or everyone, has View Development
// Tools on the project.
func (db *DB) HasGrant(ctx context.Context, tenantID, projectKey, userID string) (bool, error) {
	// A request's token check reads the grant on the project it names.
	if check := relay.TokenCheckFrom(ctx); check != nil {
		if err := db.reader().settle(ctx); err != nil {
			return false, err
		}
		if granted, ok := check.Granted(tenantID, userID, projectKey); ok {
			return granted, nil
		}
	}
	var n int64
	err := db.hot().queryRow(ctx, `SELECT COUNT(*) FROM project_grants
		WHERE tenant_id = ? AND project_key = ? AND user_id IN (?, '')`,
		tenantID, projectKey, userID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: read grant: %w", err)
	}
	return n > 0, nil
}

// GrantedProjects lists, by key, the projects on which the user (or
// everyone) has View Development Tools. The slice is never nil.
func (db *DB) GrantedProjects(ctx context.Context, tenantID, userID string) ([]string, error) {
	rows, err := db.reader().query(ctx, `SELECT DISTINCT project_key FROM project_grants
		WHERE tenant_id = ? AND user_id IN (?, '') ORDER BY project_key`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list granted projects: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: list granted projects: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list granted projects: %w", err)
	}
	return out, nil
}
