package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Service is the built-in directory: it authenticates users and answers
// View Development Tools from grants. It implements relay.Directory.
//
// It serves the built-in tenant only. A Jira site's users, administrators
// and permissions come from Jira, so every method that would keep a user,
// a password, an API token, a project or a grant for another tenant
// refuses (ErrExternalTenant): that rule lives here, once, whatever edge
// (API, pages, command line) asks.
type Service struct {
	store Store
	now   func() time.Time

	// hashSlots bounds concurrent argon2id work: each hash holds a 19 MiB
	// work area, so an unbounded burst of sign-ins would take unbounded
	// memory. A caller finding every slot taken is answered EBusy at once.
	hashSlots chan struct{}
	// duringHash, when set, runs inside every slot (tests hold slots with
	// it).
	duringHash func()
	// recent serves AuthenticateTokenChecked.
	recent recentTokens
}

var _ relay.Directory = (*Service)(nil)

// New builds a directory over its store.
func New(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

// SetHashing replaces the bound on concurrent password hashing with slots
// (at least 1); during, when not nil, runs while each slot is held. Call it
// before serving: tests use it to fill the slots deterministically.
func (d *Service) SetHashing(slots int, during func()) {
	d.hashSlots = make(chan struct{}, max(1, slots))
	d.duringHash = during
}

// hashRetryAfter is what a caller refused for lack of a hashing slot is
// told to wait: one argon2id hash takes tens of milliseconds.
const hashRetryAfter = 2 * time.Second

// hashing runs fn (argon2id work) in a hashing slot, or answers EBusy with
// a Retry-After when every slot is taken.
func (d *Service) hashing(fn func()) error {
	select {
	case d.hashSlots <- struct{}{}:
	default:
		return &relay.Error{Code: relay.EBusy, RetryAfter: hashRetryAfter,
			Message: "gitrelay is checking too many passwords at once. Try again in a few seconds."}
	}
	defer func() { <-d.hashSlots }()
	if d.duringHash != nil {
		d.duringHash()
	}
	fn()
	return nil
}

// MsgExternalTenant says why a Jira site has no users, passwords, API
// tokens, projects or grants in gitrelay.
const MsgExternalTenant = "This Jira site's users come from Jira; manage people in Jira. " +
	"gitrelay keeps no users, passwords, API tokens, projects or grants for a Jira site: " +
	"who may act, and who administers gitrelay, is what Jira says (Browse Projects, View Development Tools, Jira administrators)."

// builtIn refuses every tenant but the built-in directory's.
func builtIn(tenantID string) error {
	if tenantID != relay.LocalTenant {
		return relay.Errorf(relay.EForbidden, "%s", MsgExternalTenant)
	}
	return nil
}

// Principal turns a user into the acting principal.
func Principal(u relay.User) relay.Principal {
	return relay.Principal{TenantID: u.TenantID, UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Admin: u.Admin}
}

// CanViewDevTools implements relay.Directory from grants. Grants exist
// for the built-in tenant only: for any other tenant the answer is no.
func (d *Service) CanViewDevTools(ctx context.Context, p relay.Principal, projectKey string) (bool, error) {
	if builtIn(p.TenantID) != nil {
		return false, nil
	}
	return d.store.HasGrant(ctx, p.TenantID, projectKey, p.UserID)
}

// DevToolsProjects implements relay.Directory from grants (none for a
// tenant other than the built-in one).
func (d *Service) DevToolsProjects(ctx context.Context, p relay.Principal) ([]string, error) {
	if builtIn(p.TenantID) != nil {
		return []string{}, nil
	}
	return d.store.GrantedProjects(ctx, p.TenantID, p.UserID)
}

// NewUser describes a user to add.
type NewUser struct {
	Username    string
	DisplayName string
	Email       string
	Admin       bool
	// Password is generated when empty.
	Password string
}

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = 10

// AddUser adds a user. When no password is given one is generated and
// returned (it is shown once and stored only as an argon2id hash).
func (d *Service) AddUser(ctx context.Context, tenantID string, nu NewUser) (relay.User, string, error) {
	if err := builtIn(tenantID); err != nil {
		return relay.User{}, "", err
	}
	username := strings.ToLower(strings.TrimSpace(nu.Username))
	fields := map[string]string{}
	if msg := checkUsername(username); msg != "" {
		fields["username"] = msg
	}
	if nu.Email != "" && (!strings.Contains(nu.Email, "@") || strings.ContainsAny(nu.Email, " \t\r\n")) {
		fields["email"] = "Enter an email address such as name@example.com, or leave it empty."
	}
	password := nu.Password
	generated := ""
	if password == "" {
		password = RandomSecret(15)
		generated = password
	} else if len(password) < MinPasswordLength {
		fields["password"] = "Passwords must have at least 10 characters."
	}
	if len(fields) > 0 {
		return relay.User{}, "", &relay.Error{Code: relay.EInvalid, Message: "The user cannot be added.", Fields: fields}
	}
	display := strings.TrimSpace(nu.DisplayName)
	if display == "" {
		display = username
	}
	u := relay.User{ID: relay.NewID(), TenantID: tenantID, Username: username, DisplayName: display,
		Email: strings.TrimSpace(nu.Email), Admin: nu.Admin, CreatedAt: d.now()}
	var hash string
	if err := d.hashing(func() { hash = HashPassword(password) }); err != nil {
		return relay.User{}, "", err
	}
	if err := d.store.CreateUser(ctx, u, hash); err != nil {
		if relay.ErrorCode(err) == relay.EConflict {
			return relay.User{}, "", relay.Errorf(relay.EConflict, "A user named %s already exists.", username)
		}
		return relay.User{}, "", err
	}
	return u, generated, nil
}

// SetPassword changes a user's password.
func (d *Service) SetPassword(ctx context.Context, tenantID, userID, password string) error {
	if err := builtIn(tenantID); err != nil {
		return err
	}
	if len(password) < MinPasswordLength {
		return &relay.Error{Code: relay.EInvalid, Message: "The password is too short.",
			Fields: map[string]string{"password": "Passwords must have at least 10 characters."}}
	}
	var hash string
	if err := d.hashing(func() { hash = HashPassword(password) }); err != nil {
		return err
	}
	return d.store.SetPassword(ctx, tenantID, userID, hash)
}

// CheckPassword authenticates a user by password.
func (d *Service) CheckPassword(ctx context.Context, tenantID, username, password string) (relay.User, error) {
	if err := builtIn(tenantID); err != nil {
		return relay.User{}, err
	}
	refused := relay.Errorf(relay.EUnauthenticated, "Wrong username or password.")
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(strings.TrimSpace(username)))
	if relay.ErrorCode(err) == relay.ENotFound {
		// Spend the same time as a real check so usernames cannot be probed.
		if err := d.hashing(func() { VerifyPassword(dummyHash(), password) }); err != nil {
			return relay.User{}, err
		}
		return relay.User{}, refused
	}
	if err != nil {
		return relay.User{}, err
	}
	hash, err := d.store.PasswordHash(ctx, tenantID, u.ID)
	if err != nil {
		return relay.User{}, err
	}
	ok := false
	if err := d.hashing(func() { ok = VerifyPassword(hash, password) }); err != nil {
		return relay.User{}, err
	}
	if !ok {
		return relay.User{}, refused
	}
	return u, nil
}

// APITokenPrefix marks gitrelay API tokens, so secret scanners can find
// them.
const APITokenPrefix = "grt_"

// MaxAPITokenDays bounds expires_in_days.
const MaxAPITokenDays = 3650

// NewToken describes an API token to create.
type NewToken struct {
	// Name says what the token is for (default "api token").
	Name string
	// ExpiresInDays is the token's lifetime in days, from 1 to
	// MaxAPITokenDays; 0 for a token that does not expire.
	ExpiresInDays int
}

// CommandLine is who the audit trail names for what gitrelay's commands
// do (they run as the operator, signed in as no user).
const CommandLine = "(command line)"

// NewAPIToken creates a token that does not expire, for the command line;
// see CreateAPIToken.
func (d *Service) NewAPIToken(ctx context.Context, tenantID, username, name string) (string, error) {
	token, _, err := d.CreateAPIToken(ctx, relay.Principal{TenantID: tenantID, Username: CommandLine}, username, NewToken{Name: name})
	return token, err
}

// tokenEvent is the audit event of a change by to an API token of owner.
func (d *Service) tokenEvent(by relay.Principal, action string, owner relay.User, t relay.APIToken) relay.AuditEvent {
	detail := fmt.Sprintf("API token %q (id %s) of %s", t.Name, t.ID, owner.Username)
	if action == relay.ActionAPITokenCreate && !t.ExpiresAt.IsZero() {
		detail += ", expires " + t.ExpiresAt.UTC().Format("2006-01-02")
	}
	return relay.AuditEvent{TenantID: by.TenantID, UserID: by.UserID, Username: by.Username, Action: action,
		Outcome: relay.OutcomeSuccess, Detail: detail, At: d.now()}
}

// CreateAPIToken creates an API token for a user and returns it with its
// description; only its hash is stored, so it cannot be shown again. by
// (who asked) is recorded in the audit trail with it.
func (d *Service) CreateAPIToken(ctx context.Context, by relay.Principal, username string, nt NewToken) (string, relay.APIToken, error) {
	tenantID := by.TenantID
	if err := builtIn(tenantID); err != nil {
		return "", relay.APIToken{}, err
	}
	name := strings.TrimSpace(nt.Name)
	fields := map[string]string{}
	if len(name) > 100 {
		fields["name"] = "A token name has at most 100 characters."
	}
	if nt.ExpiresInDays < 0 || nt.ExpiresInDays > MaxAPITokenDays {
		fields["expires_in_days"] = fmt.Sprintf("Give a number of days from 1 to %d, or leave it out for a token that does not expire.", MaxAPITokenDays)
	}
	if len(fields) > 0 {
		return "", relay.APIToken{}, &relay.Error{Code: relay.EInvalid, Message: "The API token cannot be created.", Fields: fields}
	}
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
	if err != nil {
		return "", relay.APIToken{}, err
	}
	token := APITokenPrefix + RandomSecret(32)
	if name == "" {
		name = "api token"
	}
	t := relay.APIToken{ID: relay.NewID(), TenantID: tenantID, UserID: u.ID, Name: name, CreatedAt: d.now()}
	if nt.ExpiresInDays > 0 {
		t.ExpiresAt = t.CreatedAt.AddDate(0, 0, nt.ExpiresInDays)
	}
	t.Hash = HashToken(token)
	if err := d.store.CreateAPIToken(ctx, t, d.tokenEvent(by, relay.ActionAPITokenCreate, u, t)); err != nil {
		return "", relay.APIToken{}, err
	}
	t.Hash = nil
	return token, t, nil
}

// APITokens lists a user's API tokens (never their secrets, which are not
// kept).
func (d *Service) APITokens(ctx context.Context, tenantID, username string) ([]relay.APIToken, error) {
	if err := builtIn(tenantID); err != nil {
		return nil, err
	}
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
	if err != nil {
		return nil, err
	}
	return d.store.APITokens(ctx, tenantID, u.ID)
}

// RevokeAPIToken deletes a user's API token: from then on it answers 401
// on every replica, since each request looks the token up in the database.
// by (who asked) is recorded in the audit trail with it.
func (d *Service) RevokeAPIToken(ctx context.Context, by relay.Principal, username, id string) error {
	tenantID := by.TenantID
	if err := builtIn(tenantID); err != nil {
		return err
	}
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
	if err != nil {
		return err
	}
	name := ""
	if tokens, err := d.store.APITokens(ctx, tenantID, u.ID); err == nil {
		for _, t := range tokens {
			if t.ID == id {
				name = t.Name
			}
		}
	}
	e := d.tokenEvent(by, relay.ActionAPITokenRevoke, u, relay.APIToken{ID: id, Name: name})
	if err := d.store.DeleteAPIToken(ctx, tenantID, u.ID, id, e); relay.ErrorCode(err) == relay.ENotFound {
		return relay.Errorf(relay.ENotFound, "%s has no API token with id %s. List the tokens to see their ids.", u.Username, id)
	} else if err != nil {
		return err
	}
	return nil
}

// lastUsedEvery bounds how often a token's last use is written: a script
// calling many times a second costs one write a minute.
const lastUsedEvery = time.Minute

// AuthenticateToken resolves an API token to its user. The token is looked
// up in the database on every request, so a revoked or expired token is
// refused at once by every replica.
func (d *Service) AuthenticateToken(ctx context.Context, token string) (relay.Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return relay.Principal{}, errInvalidToken()
	}
	hash := HashToken(token)
	p, until, err := d.authenticate(ctx, hash, d.now())
	if err != nil {
		d.recent.forget(hash)
		return relay.Principal{}, err
	}
	// What the database said serves the issue routes for a while (see
	// AuthenticateTokenChecked).
	d.recent.put(hash, p, until)
	return p, nil
}

func errInvalidToken() error {
	return relay.Errorf(relay.EUnauthenticated, "%s", relay.MsgAPITokenInvalid)
}

// authenticate looks the token with this hash up, records its use when
// due, and returns its user and until when the use need not be recorded
// again (nor the token be used past its expiry).
func (d *Service) authenticate(ctx context.Context, hash []byte, now time.Time) (relay.Principal, time.Time, error) {
	u, t, err := d.store.APITokenUser(ctx, hash)
	if relay.ErrorCode(err) == relay.ENotFound {
		return relay.Principal{}, time.Time{}, errInvalidToken()
	}
	if err != nil {
		return relay.Principal{}, time.Time{}, err
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return relay.Principal{}, time.Time{}, errInvalidToken()
	}
	if builtIn(u.TenantID) != nil {
		// Only the built-in directory has API tokens; a row of another
		// tenant must never act there with a local admin flag.
		return relay.Principal{}, time.Time{}, errInvalidToken()
	}
	used := t.LastUsedAt
	if used.IsZero() || now.Sub(used) >= lastUsedEvery {
		if err := d.store.TouchAPIToken(ctx, t.TenantID, t.ID, now, lastUsedEvery); err != nil {
			return relay.Principal{}, time.Time{}, err
		}
		used = now
	}
	until := used.Add(lastUsedEvery)
	if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(until) {
		until = t.ExpiresAt
	}
	return Principal(u), until, nil
}

// HashToken is how API and session tokens are stored: SHA-256. They carry
// 256 random bits, so a fast hash is enough.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// RandomSecret returns n random bytes, base64url-encoded.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// argon2id parameters (OWASP's second recommended set: 19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// dummyHash is hashed on first use rather than at start-up: argon2id's
// work area is 19 MiB, which an idle server should not hold.
var dummyHash = sync.OnceValue(func() string { return HashPassword("not a real password, used for timing only") })

// HashPassword hashes a password with argon2id, in the PHC string format.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Bounds on the parameters of a stored hash. A hash whose parameters are
// out of bounds is refused rather than computed: argon2 panics on zero
// passes or threads, and a corrupt or planted hash could otherwise ask each
// sign-in for gigabytes of memory or hours of work.
const (
	maxArgonTime    = 10
	maxArgonMemory  = 64 * 1024 // KiB
	maxArgonThreads = 16
	minArgonKeyLen  = 16
	maxArgonKeyLen  = 64
	minSaltLen      = 8
	maxSaltLen      = 64
)

// VerifyPassword checks a password against a HashPassword hash. A hash that
// is malformed or whose parameters are out of bounds matches no password.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 {
		return false
	}
	if t < 1 || t > maxArgonTime || p < 1 || p > maxArgonThreads || m < 8*uint32(p) || m > maxArgonMemory {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen || len(want) < minArgonKeyLen || len(want) > maxArgonKeyLen {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func checkUsername(u string) string {
	if u == "" {
		return "A username is required."
	}
	if len(u) > 64 {
		return "Usernames have at most 64 characters."
	}
	for _, r := range u {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "Usernames may use only letters, digits, '.', '_' and '-'."
		}
	}
	return ""
}

// AddProject adds a project to the directory.
func (d *Service) AddProject(ctx context.Context, tenantID, key, name string) (relay.Project, error) {
	if err := builtIn(tenantID); err != nil {
		return relay.Project{}, err
	}
	key = strings.ToUpper(strings.TrimSpace(key))
	if !validKey(key) {
		return relay.Project{}, &relay.Error{Code: relay.EInvalid, Message: "The project cannot be added.",
			Fields: map[string]string{"key": "A project key starts with a letter, then upper-case letters, digits or _ (at most 10 characters), e.g. ABC."}}
	}
	if strings.TrimSpace(name) == "" {
		name = key
	}
	p := relay.Project{TenantID: tenantID, Key: key, Name: strings.TrimSpace(name)}
	if err := d.store.CreateProject(ctx, p); err != nil {
		if relay.ErrorCode(err) == relay.EConflict {
			return relay.Project{}, relay.Errorf(relay.EConflict, "Project %s already exists.", key)
		}
		return relay.Project{}, err
	}
	return p, nil
}

// Grant gives View Development Tools on a project to a user, or to
// everyone when username is empty.
func (d *Service) Grant(ctx context.Context, tenantID, projectKey, username string) (relay.Grant, error) {
	g, err := d.grant(ctx, tenantID, projectKey, username)
	if err != nil {
		return relay.Grant{}, err
	}
	return g, d.store.PutGrant(ctx, g)
}

// Revoke removes a grant.
func (d *Service) Revoke(ctx context.Context, tenantID, projectKey, username string) error {
	g, err := d.grant(ctx, tenantID, projectKey, username)
	if err != nil {
		return err
	}
	return d.store.DeleteGrant(ctx, g)
}

func (d *Service) grant(ctx context.Context, tenantID, projectKey, username string) (relay.Grant, error) {
	if err := builtIn(tenantID); err != nil {
		return relay.Grant{}, err
	}
	projectKey = strings.ToUpper(projectKey)
	projects, err := d.store.Projects(ctx, tenantID)
	if err != nil {
		return relay.Grant{}, err
	}
	found := false
	for _, p := range projects {
		found = found || p.Key == projectKey
	}
	if !found {
		return relay.Grant{}, relay.Errorf(relay.ENotFound, "Project %s does not exist. Add it first.", projectKey)
	}
	g := relay.Grant{TenantID: tenantID, ProjectKey: projectKey}
	if username != "" {
		u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
		if relay.ErrorCode(err) == relay.ENotFound {
			return relay.Grant{}, relay.Errorf(relay.ENotFound, "User %s does not exist.", username)
		}
		if err != nil {
			return relay.Grant{}, err
		}
		g.UserID, g.Username = u.ID, u.Username
	}
	return g, nil
}

func validKey(k string) bool {
	if k == "" || len(k) > 10 || k[0] < 'A' || k[0] > 'Z' {
		return false
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Users lists the directory's users.
func (d *Service) Users(ctx context.Context, tenantID string) ([]relay.User, error) {
	if err := builtIn(tenantID); err != nil {
		return nil, err
	}
	return d.store.Users(ctx, tenantID)
}

// DeleteUser deletes a user (by username) with their PATs, API tokens and
// grants; their browser sessions then resolve to nobody. by is the acting
// user's id: nobody deletes themselves.
func (d *Service) DeleteUser(ctx context.Context, tenantID, username, by string) error {
	if err := builtIn(tenantID); err != nil {
		return err
	}
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
	if err != nil {
		return err
	}
	if u.ID == by {
		return relay.Errorf(relay.EInvalid, "You cannot delete your own account.")
	}
	return d.store.DeleteUser(ctx, tenantID, u.ID)
}

// Projects lists the directory's projects.
func (d *Service) Projects(ctx context.Context, tenantID string) ([]relay.Project, error) {
	if err := builtIn(tenantID); err != nil {
		return nil, err
	}
	return d.store.Projects(ctx, tenantID)
}

// DeleteProject deletes a project with its grants.
func (d *Service) DeleteProject(ctx context.Context, tenantID, key string) error {
	if err := builtIn(tenantID); err != nil {
		return err
	}
	return d.store.DeleteProject(ctx, tenantID, strings.ToUpper(key))
}

// Grants lists the directory's View Development Tools grants.
func (d *Service) Grants(ctx context.Context, tenantID string) ([]relay.Grant, error) {
	if err := builtIn(tenantID); err != nil {
		return nil, err
	}
	return d.store.Grants(ctx, tenantID)
}
