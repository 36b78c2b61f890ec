package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Service is the built-in directory: it authenticates users and answers
// View Development Tools from grants. It implements relay.Directory.
type Service struct {
	store Store
	now   func() time.Time
}

var _ relay.Directory = (*Service)(nil)

// New builds a directory over its store.
func New(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Principal turns a user into the acting principal.
func Principal(u relay.User) relay.Principal {
	return relay.Principal{TenantID: u.TenantID, UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Admin: u.Admin}
}

// CanViewDevTools implements relay.Directory from grants.
func (d *Service) CanViewDevTools(ctx context.Context, p relay.Principal, projectKey string) (bool, error) {
	return d.store.HasGrant(ctx, p.TenantID, projectKey, p.UserID)
}

// DevToolsProjects implements relay.Directory from grants.
func (d *Service) DevToolsProjects(ctx context.Context, p relay.Principal) ([]string, error) {
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

// AddUser adds a user. When no password is given one is generated and
// returned (it is shown once and stored only as an argon2id hash).
func (d *Service) AddUser(ctx context.Context, tenantID string, nu NewUser) (relay.User, string, error) {
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
	} else if len(password) < 10 {
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
	if err := d.store.CreateUser(ctx, u, HashPassword(password)); err != nil {
		if relay.ErrorCode(err) == relay.EConflict {
			return relay.User{}, "", relay.Errorf(relay.EConflict, "A user named %s already exists.", username)
		}
		return relay.User{}, "", err
	}
	return u, generated, nil
}

// SetPassword changes a user's password.
func (d *Service) SetPassword(ctx context.Context, tenantID, userID, password string) error {
	if len(password) < 10 {
		return &relay.Error{Code: relay.EInvalid, Message: "The password is too short.",
			Fields: map[string]string{"password": "Passwords must have at least 10 characters."}}
	}
	return d.store.SetPassword(ctx, tenantID, userID, HashPassword(password))
}

// CheckPassword authenticates a user by password.
func (d *Service) CheckPassword(ctx context.Context, tenantID, username, password string) (relay.User, error) {
	refused := relay.Errorf(relay.EUnauthenticated, "Wrong username or password.")
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(strings.TrimSpace(username)))
	if relay.ErrorCode(err) == relay.ENotFound {
		// Spend the same time as a real check so usernames cannot be probed.
		VerifyPassword(dummyHash(), password)
		return relay.User{}, refused
	}
	if err != nil {
		return relay.User{}, err
	}
	hash, err := d.store.PasswordHash(ctx, tenantID, u.ID)
	if err != nil {
		return relay.User{}, err
	}
	if !VerifyPassword(hash, password) {
		return relay.User{}, refused
	}
	return u, nil
}

// APITokenPrefix marks gitrelay API tokens, so secret scanners can find
// them.
const APITokenPrefix = "grt_"

// NewAPIToken creates an API token for a user and returns it; only its hash
// is stored, so it cannot be shown again.
func (d *Service) NewAPIToken(ctx context.Context, tenantID, username, name string) (string, error) {
	u, err := d.store.UserByUsername(ctx, tenantID, strings.ToLower(username))
	if err != nil {
		return "", err
	}
	token := APITokenPrefix + RandomSecret(32)
	if name == "" {
		name = "api token"
	}
	err = d.store.CreateAPIToken(ctx, relay.APIToken{ID: relay.NewID(), TenantID: tenantID, UserID: u.ID,
		Name: name, Hash: HashToken(token), CreatedAt: d.now()})
	if err != nil {
		return "", err
	}
	return token, nil
}

// AuthenticateToken resolves an API token to its user.
func (d *Service) AuthenticateToken(ctx context.Context, token string) (relay.Principal, error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return relay.Principal{}, relay.Errorf(relay.EUnauthenticated, "The API token is not valid. Create a new one with `gitrelay users api-token USERNAME`.")
	}
	u, err := d.store.APITokenUser(ctx, HashToken(token))
	if relay.ErrorCode(err) == relay.ENotFound {
		return relay.Principal{}, relay.Errorf(relay.EUnauthenticated, "The API token is not valid. Create a new one with `gitrelay users api-token USERNAME`.")
	}
	if err != nil {
		return relay.Principal{}, err
	}
	return Principal(u), nil
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
