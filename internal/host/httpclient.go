package host

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds one request to a git host, from dialling to the
// end of the response body.
const DefaultTimeout = 20 * time.Second

// DefaultMaxBody is how much of one answer gitrelay reads from a remote
// (one page of a paginated list): 4 MiB, far more than any answer gitrelay
// asks for, and little enough that no server can exhaust gitrelay's
// memory by answering without end.
const DefaultMaxBody = 4 << 20

// maxRedirects is how many same-origin redirects a request follows (GitHub
// answers 301 for renamed repositories).
const maxRedirects = 5

// ErrRedirectRefused is in the chain of a transport error when a host
// redirected a request to another origin: credentials are sent only to the
// host an integration names, so such redirects are not followed.
var ErrRedirectRefused = errors.New("redirect to another origin refused")

// ClientConfig configures the outbound client.
type ClientConfig struct {
	// Timeout bounds each request; <= 0 means DefaultTimeout.
	Timeout time.Duration
	// Egress is the policy on where connections may go.
	Egress Egress
	// MaxBody caps each answer's body; <= 0 means DefaultMaxBody. A call
	// may choose another cap with WithBodyLimit.
	MaxBody int64
	// Retries is the policy the clients of git host adapters (ClientFor)
	// follow on transient faults; zero fields take the defaults. Other
	// requests sent with the client are never retried.
	Retries RetryPolicy
	// Observe, when not nil, is told of every request sent (each attempt
	// of a retried one): its kind and operation (WithCall), status class
	// and duration. Never a URL, a header or a body.
	Observe func(Observation)
	// Budget, when set, holds indexing reads (ForIndexing) of the clients
	// ClientFor builds to their share of each account's rate limit.
	Budget *RateBudget
}

// NewHTTPClient returns gitrelay's one outbound client, for everything it
// fetches (git hosts, Jira, Atlassian's keys and OAuth endpoints):
//   - connections only where the egress policy allows (see Egress),
//     checked on the resolved address when connecting, for every redirect
//     hop too;
//   - each answer's body capped (see DefaultMaxBody): reading past the cap
//     fails with a *BodyTooLargeError;
//   - bounded dial, TLS handshake and response-header waits, and an
//     overall per-request timeout;
//   - connection reuse across integrations of the same host;
//   - the environment's proxy settings (HTTPS_PROXY, NO_PROXY);
//   - redirects followed only within the same origin, so that a
//     redirecting host can never make gitrelay send a token elsewhere;
//   - every request measured (c.Observe) and, inside a recorded trace,
//     one client span, named by its WithCall kind and operation.
func NewHTTPClient(c ClientConfig) *http.Client {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	connect := min(10*time.Second, timeout)
	g := &guard{policy: c.Egress, dialer: &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}}
	t := &http.Transport{
		Proxy:                 g.proxy,
		DialContext:           g.dial,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
	}
	capped := capBodies(&observed{base: t, observe: c.Observe}, c.MaxBody)
	capped.retries = c.Retries
	capped.budget = c.Budget
	return &http.Client{Transport: capped, Timeout: timeout, CheckRedirect: SameOriginRedirects}
}

// SameOriginRedirects is an http.Client CheckRedirect policy: follow at most
// a few redirects, and only to the origin (scheme and host) of the first
// request.
func SameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if !sameOrigin(req.URL.Scheme, req.URL.Host, first.Scheme, first.Host) {
		return fmt.Errorf("%w: %s://%s redirected to %s://%s", ErrRedirectRefused, first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

func sameOrigin(scheme1, host1, scheme2, host2 string) bool {
	return strings.EqualFold(scheme1, scheme2) && strings.EqualFold(host1, host2)
}

// Auth is a credential sent in a header, to one origin only.
type Auth struct {
	// Origin is the scheme and host (with port, if any) the credential
	// belongs to, such as "https://ghe.example.com".
	Origin string
	// Header and Value are the header that carries it ("Authorization",
	// "Bearer …"; "PRIVATE-TOKEN", "glpat-…").
	Header string
	Value  Secret
}

// ClientFor returns the client an adapter sends its requests with, a copy
// of hc (which is never modified):
//   - with auth, requests to auth.Origin carry the credential header, and
//     requests to any other origin (a redirect, a link in an answer) never
//     do, whatever the redirect policy;
//   - answers are capped (DefaultMaxBody) when hc's transport does not cap
//     them already;
//   - redirects stay on the first request's origin unless hc has a policy
//     of its own;
//   - reads that meet a transient fault are sent again (see RetryPolicy:
//     the one NewHTTPClient was configured with, else the defaults);
//     writes never are.
//
// hc nil, or without a transport, means NewHTTPClient's with the default
// configuration: never Go's default transport, which has no egress
// policy.
func ClientFor(hc *http.Client, auth *Auth) *http.Client {
	if hc == nil {
		hc = NewHTTPClient(ClientConfig{})
	}
	base := hc.Transport
	if base == nil {
		base = NewHTTPClient(ClientConfig{Timeout: hc.Timeout}).Transport
	}
	var retries RetryPolicy
	var budget *RateBudget
	if c, capped := base.(*capTransport); capped {
		retries, budget = c.retries, c.budget
	} else {
		base = capBodies(base, 0)
	}
	// Outside the cap, inside the credential: every attempt is capped and
	// dialled through the egress policy, and carries the credential.
	base = &retryTransport{base: base, policy: retries.withDefaults()}
	base = withBudget(base, budget, auth)
	if auth != nil {
		base = &authTransport{base: base, auth: *auth}
	}
	c := &http.Client{Transport: base, CheckRedirect: hc.CheckRedirect, Jar: hc.Jar, Timeout: hc.Timeout}
	if c.CheckRedirect == nil {
		c.CheckRedirect = SameOriginRedirects
	}
	return c
}

// authTransport adds the credential to requests bound for its origin only,
// and removes the header from requests bound anywhere else. A request
// with a body is sent to the credential's origin only: what a client
// writes to its host (a webhook's secret, say) is no more for another
// host than the credential is, even when a redirect policy would follow.
type authTransport struct {
	base http.RoundTripper
	auth Auth
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	scheme, hostPort, _ := strings.Cut(t.auth.Origin, "://")
	r := req.Clone(req.Context())
	if sameOrigin(req.URL.Scheme, req.URL.Host, scheme, hostPort) {
		r.Header.Set(t.auth.Header, t.auth.Value.Reveal())
	} else {
		if req.Body != nil && req.Body != http.NoBody {
			_ = req.Body.Close()
			return nil, fmt.Errorf("%w: a request with a body for %s://%s, which is not %s", ErrRedirectRefused, req.URL.Scheme, req.URL.Host, t.auth.Origin)
		}
		r.Header.Del(t.auth.Header)
	}
	return t.base.RoundTrip(r)
}

type bodyLimitKey struct{}

// WithBodyLimit returns a context whose requests read at most n bytes of
// each answer's body, instead of the client's cap (n > 0).
func WithBodyLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, bodyLimitKey{}, n)
}

// BodyTooLargeError is the read error of an answer longer than the cap.
type BodyTooLargeError struct{ Limit int64 }

func (e *BodyTooLargeError) Error() string {
	return "the answer exceeded " + sizeText(e.Limit)
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// capTransport caps the bodies of the answers its base transport returns.
type capTransport struct {
	base http.RoundTripper
	max  int64
	// retries is not applied here: it is the policy ClientFor gives the
	// clients it builds on this transport.
	retries RetryPolicy
	budget  *RateBudget
}

func capBodies(base http.RoundTripper, maxBody int64) *capTransport {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return &capTransport{base: base, max: maxBody}
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	limit := t.max
	if n, ok := req.Context().Value(bodyLimitKey{}).(int64); ok && n > 0 {
		limit = n
	}
	resp.Body = &cappedBody{rc: resp.Body, left: limit, limit: limit}
	return resp, nil
}

// cappedBody reads up to limit bytes and then fails, rather than quietly
// stopping: a truncated answer must not pass for a whole one.
type cappedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		// At the cap: one more byte means the answer is longer.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, &BodyTooLargeError{Limit: b.limit}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
