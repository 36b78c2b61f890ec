package jira

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultJWKSURL is where Forge publishes the keys that sign invocation
// tokens.
const DefaultJWKSURL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"

// fitIssuer is the issuer of every Forge Invocation Token.
// maxKeySet caps the key set's answer: a key set is a few KiB.
const maxKeySet = 1 << 20

const fitIssuer = "forge/invocation-token"

// fitLeeway absorbs clock skew between Forge and us. Tokens live about 25
// seconds, so it stays small.
const fitLeeway = 10 * time.Second

// Invocation is what a verified Forge Invocation Token says about a call.
type Invocation struct {
	// InstallationID is the tenant.
	InstallationID string
	AppID          string
	APIBaseURL     string
	ModuleKey      string
	// CloudID and SiteURL come from the invocation context, which backend
	// calls (triggers) do not carry; CloudID is then read from APIBaseURL.
	CloudID string
	SiteURL string
	// AccountID is the invoking user (UI calls only).
	AccountID string
}

type fitClaims struct {
	App struct {
		InstallationID string `json:"installationId"`
		APIBaseURL     string `json:"apiBaseUrl"`
		ID             string `json:"id"`
		Module         struct {
			Key string `json:"key"`
		} `json:"module"`
	} `json:"app"`
	Context struct {
		CloudID string `json:"cloudId"`
		SiteURL string `json:"siteUrl"`
	} `json:"context"`
	Principal string `json:"principal"`
	jwt.RegisteredClaims
}

// Verifier checks Forge Invocation Tokens: RS256 signatures by a key of the
// Forge JWKS, issuer, audience (our app id) and validity period.
type Verifier struct {
	appID string
	keys  *JWKS
	now   func() time.Time
}

// NewVerifier verifies tokens addressed to appID with keys from keys.
func NewVerifier(appID string, keys *JWKS, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{appID: appID, keys: keys, now: now}
}

// errInvalidToken is all a caller learns about a refused token; the reason
// goes to the log only.
var errInvalidToken = errors.New("invalid Forge invocation token")

// Verify checks raw and returns what it says. Errors wrap errInvalidToken;
// their text is for logs.
func (v *Verifier) Verify(ctx context.Context, raw string) (Invocation, error) {
	if v.appID == "" {
		return Invocation{}, fmt.Errorf("%w: no app id configured", errInvalidToken)
	}
	var c fitClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no key id")
		}
		return v.keys.Key(ctx, kid)
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(fitIssuer),
		jwt.WithAudience(v.appID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(fitLeeway),
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return Invocation{}, fmt.Errorf("%w: %v", errInvalidToken, err)
	}
	if c.App.InstallationID == "" || c.App.APIBaseURL == "" {
		return Invocation{}, fmt.Errorf("%w: no installation id or API base URL", errInvalidToken)
	}
	if c.App.ID != "" && c.App.ID != v.appID {
		return Invocation{}, fmt.Errorf("%w: app id claim differs from the audience", errInvalidToken)
	}
	inv := Invocation{
		InstallationID: c.App.InstallationID, AppID: v.appID, APIBaseURL: c.App.APIBaseURL,
		ModuleKey: c.App.Module.Key, CloudID: c.Context.CloudID, SiteURL: c.Context.SiteURL, AccountID: c.Principal,
	}
	if inv.CloudID == "" {
		inv.CloudID = cloudIDFromAPIBase(inv.APIBaseURL)
	}
	return inv, nil
}

// cloudIDFromAPIBase reads the cloud id from an API base URL of the form
// https://api.atlassian.com/ex/jira/<cloudId>.
func cloudIDFromAPIBase(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) >= 3 && parts[0] == "ex" && parts[1] == "jira" {
		return parts[2]
	}
	return ""
}

// JWKS fetches and caches a JSON Web Key Set. Keys are refreshed when the
// cache is older than its TTL, and when a token names a key id the cache
// does not know (key rotation), but not more often than minRefresh, so
// that tokens with made-up key ids cannot make us hammer the key server.
//
// Requests never queue behind a refresh they do not need: after the TTL the
// cached keys keep verifying while one refresh runs in the background (a
// slow or failing key server costs no request anything); only a request
// whose key id the cache does not know, or the very first one, waits, and
// then for the one refresh in flight rather than a fetch of its own.
type JWKS struct {
	url        string
	client     *http.Client
	now        func() time.Time
	ttl        time.Duration
	minRefresh time.Duration

	mu   sync.Mutex
	keys map[string]*rsa.PublicKey
	// fetchedAt is the last successful fetch, attemptedAt the start of the
	// last attempt (successful or not), which minRefresh spaces.
	fetchedAt, attemptedAt time.Time
	// refreshing is closed when the refresh in flight ends; nil when none
	// runs. lastErr is the last attempt's error.
	refreshing chan struct{}
	lastErr    error
}

// jwksFetchTimeout bounds a refresh, which no request's context bounds: it
// outlives the request that started it.
const jwksFetchTimeout = time.Minute

// NewJWKS caches the key set at url, fetched with client.
func NewJWKS(url string, client *http.Client, now func() time.Time) *JWKS {
	if client == nil {
		client = defaultHTTPClient()
	}
	if now == nil {
		now = time.Now
	}
	return &JWKS{url: url, client: client, now: now, ttl: time.Hour, minRefresh: 30 * time.Second}
}

// Key returns the RSA key with id kid.
func (j *JWKS) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	now := j.now()
	k, known := j.keys[kid]
	mayRefresh := now.Sub(j.attemptedAt) >= j.minRefresh
	var wait chan struct{}
	switch {
	case known:
		if now.Sub(j.fetchedAt) > j.ttl && mayRefresh {
			j.refreshLocked(ctx, now)
		}
		j.mu.Unlock()
		return k, nil
	case j.keys == nil:
		// Nothing to verify with yet: every request may try (one at a
		// time), as a key server down at start-up must not lock gitrelay
		// out for minRefresh.
		wait = j.refreshLocked(ctx, now)
	case j.refreshing != nil:
		wait = j.refreshing
	case mayRefresh:
		wait = j.refreshLocked(ctx, now)
	}
	j.mu.Unlock()
	if wait == nil {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, fmt.Errorf("jwks: %w", ctx.Err())
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.keys == nil && j.lastErr != nil {
		return nil, j.lastErr
	}
	if k, ok := j.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

// refreshLocked starts a refresh unless one runs, and returns the channel
// closed when the running one ends. Callers hold mu.
func (j *JWKS) refreshLocked(ctx context.Context, now time.Time) chan struct{} {
	if j.refreshing != nil {
		return j.refreshing
	}
	done := make(chan struct{})
	j.refreshing, j.attemptedAt = done, now
	// The request that noticed the need may end before the fetch does.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	go func() {
		defer cancel()
		keys, err := j.fetch(fctx)
		j.mu.Lock()
		defer j.mu.Unlock()
		j.lastErr = err
		if err == nil {
			j.keys, j.fetchedAt = keys, now
		}
		j.refreshing = nil
		close(done)
	}()
	return done
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (j *JWKS) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	// A key set is a few KiB: 1 MiB is plenty.
	ctx = host.WithCall(host.WithBodyLimit(ctx, maxKeySet), host.KindJWKS, "fetch_keys")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		pk, err := rsaKey(k.N, k.E)
		if err != nil {
			continue
		}
		keys[k.Kid] = pk
	}
	return keys, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		return nil, err
	}
	if len(eb) == 0 || len(eb) > 4 || len(nb) < 256 {
		// Under 2048 bits, or an exponent that does not fit: not a key
		// we will trust.
		return nil, errors.New("unacceptable RSA key")
	}
	exp := 0
	for _, b := range eb {
		exp = exp<<8 | int(b)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: exp}, nil
}
