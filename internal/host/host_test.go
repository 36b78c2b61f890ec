package host_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// fakeAdapter records what the registry hands it.
type fakeAdapter struct {
	kind relay.Kind
	hc   *http.Client
}

func (a *fakeAdapter) Kind() relay.Kind { return a.kind }
func (a *fakeAdapter) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	cfg.BaseURL = strings.ToLower(cfg.BaseURL)
	return cfg, nil
}
func (a *fakeAdapter) Capabilities(relay.HostConfig) relay.Capabilities {
	return relay.Capabilities{PAT: true, TokenHelp: string(a.kind)}
}
func (a *fakeAdapter) NewClient(_ relay.HostConfig, _ relay.Credential, hc *http.Client) (relay.HostClient, error) {
	a.hc = hc
	return nil, nil
}
func (a *fakeAdapter) NewTokenURL(_ relay.HostConfig, name string) string {
	return "https://" + string(a.kind) + "/new?name=" + name
}

func TestRegistryDispatchesByKind(t *testing.T) {
	hc := &http.Client{}
	gl, gh := &fakeAdapter{kind: "gitlab"}, &fakeAdapter{kind: "github"}
	r := host.NewRegistry(hc, gl, gh)
	if got := r.Kinds(); !slices.Equal(got, []relay.Kind{"github", "gitlab"}) {
		t.Errorf("Kinds = %v, want sorted [github gitlab]", got)
	}
	cfg, err := r.CheckConfig(relay.HostConfig{Kind: "gitlab", BaseURL: "HTTPS://X"})
	if err != nil || cfg.BaseURL != "https://x" {
		t.Errorf("CheckConfig = %+v, %v; want the gitlab adapter's normalisation", cfg, err)
	}
	if c := r.Capabilities(relay.HostConfig{Kind: "github"}); c.TokenHelp != "github" {
		t.Errorf("Capabilities = %+v, want github's", c)
	}
	if _, err := r.Client(relay.HostConfig{Kind: "gitlab"}, relay.TokenCredential("t")); err != nil || gl.hc != hc {
		t.Errorf("Client did not reach the gitlab adapter with the shared client (err %v)", err)
	}
	if u := r.NewTokenURL(relay.HostConfig{Kind: "github"}, "n"); u != "https://github/new?name=n" {
		t.Errorf("NewTokenURL = %q", u)
	}
	if a, ok := r.Adapter("gitlab"); !ok || a != gl {
		t.Error("Adapter(gitlab) did not return the gitlab adapter")
	}
}

func TestRegistryRefusesUnknownKinds(t *testing.T) {
	r := host.NewRegistry(nil, &fakeAdapter{kind: "github"}, &fakeAdapter{kind: "gitlab"})
	for _, kind := range []relay.Kind{"bitbucket", ""} {
		_, err := r.CheckConfig(relay.HostConfig{Kind: kind})
		e, ok := relay.AsError(err)
		if !ok || e.Code != relay.EInvalid || !strings.Contains(e.Fields["kind"], "github, gitlab") {
			t.Errorf("CheckConfig(kind %q) = %v, want invalid_request naming the known kinds in Fields[kind]", kind, err)
		}
		if _, err := r.Client(relay.HostConfig{Kind: kind}, relay.Credential{}); relay.ErrorCode(err) != relay.EInvalid {
			t.Errorf("Client(kind %q) = %v, want invalid_request", kind, err)
		}
	}
	if c := r.Capabilities(relay.HostConfig{Kind: "bitbucket"}); c.PAT || c.TokenHelp != "" {
		t.Errorf("Capabilities of an unknown kind = %+v, want none", c)
	}
	if u := r.NewTokenURL(relay.HostConfig{Kind: "bitbucket"}, "n"); u != "" {
		t.Errorf("NewTokenURL of an unknown kind = %q, want empty", u)
	}
}

func TestRegistryPanicsOnDuplicateKinds(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering github twice did not panic")
		}
	}()
	host.NewRegistry(nil, &fakeAdapter{kind: "github"}, &fakeAdapter{kind: "github"})
}

func TestNewHTTPClientBoundsEveryWait(t *testing.T) {
	c := host.NewHTTPClient(host.ClientConfig{Timeout: 7 * time.Second})
	tr := host.TransportOf(c)
	if tr == nil {
		t.Fatalf("Transport is %T, want one over *http.Transport", c.Transport)
	}
	if c.Timeout != 7*time.Second || tr.ResponseHeaderTimeout != 7*time.Second || tr.TLSHandshakeTimeout == 0 ||
		tr.IdleConnTimeout == 0 || tr.MaxIdleConnsPerHost < 2 || tr.Proxy == nil || c.CheckRedirect == nil {
		t.Errorf("client %+v / transport %+v lacks a bound", c, tr)
	}
	if d := host.NewHTTPClient(host.ClientConfig{}); d.Timeout != host.DefaultTimeout {
		t.Errorf("NewHTTPClient(0).Timeout = %v, want DefaultTimeout", d.Timeout)
	}
}

func TestRedirectsStayOnTheOrigin(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("followed a redirect to another origin")
	}))
	defer other.Close()
	var hops int
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/renamed":
			hops++
			http.Redirect(w, r, srv.URL+"/repositories/1", http.StatusMovedPermanently)
		case "/away":
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	c := hosttest.LocalClient(5 * time.Second)
	resp, err := c.Get(srv.URL + "/renamed")
	if err != nil || resp.StatusCode != 200 || hops != 1 {
		t.Fatalf("same-origin redirect: %v, %v", resp, err)
	}
	resp.Body.Close()
	_, err = c.Get(srv.URL + "/away")
	if !errors.Is(err, host.ErrRedirectRefused) {
		t.Errorf("cross-origin redirect: err = %v, want ErrRedirectRefused", err)
	}
	if e := host.TransportError("GitHub", err, time.Second); e.Code != relay.EHostError || !strings.Contains(e.Message, "redirected") {
		t.Errorf("TransportError = %+v, want host_error explaining the redirect", e)
	}
	if _, err := c.Get(srv.URL + "/loop"); err == nil {
		t.Error("a redirect loop was followed forever")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestTransportErrorClassifies(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	_, refused := http.Get(closedURL)

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	_, untrusted := http.Get(tlsSrv.URL)

	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, notTLS := http.Get(strings.Replace(plain.URL, "http://", "https://", 1))

	for _, tc := range []struct {
		name string
		err  error
		code string
		says string
	}{
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), relay.EHostTimeout, "timed out after 10s"},
		{"network timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, relay.EHostTimeout, "not answering"},
		{"cancelled", context.Canceled, relay.EHostError, "cancelled"},
		{"dns", &net.DNSError{Name: "ghe.example.invalid", Err: "no such host", IsNotFound: true}, relay.EHostError, `"ghe.example.invalid" does not resolve`},
		{"refused", refused, relay.EHostError, "refused the connection"},
		{"untrusted certificate", untrusted, relay.EHostError, "certificate"},
		{"unknown authority", x509.UnknownAuthorityError{}, relay.EHostError, "certificate"},
		{"not TLS", notTLS, relay.EHostError, "http://"},
		{"other", errors.New("boom"), relay.EHostError, "Could not reach GitHub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the setup produced no error")
			}
			e := host.TransportError("GitHub", tc.err, 10*time.Second+300*time.Millisecond)
			if e.Code != tc.code || !strings.Contains(e.Message, tc.says) || !errors.Is(e, tc.err) {
				t.Errorf("TransportError(%v) = %s %q, want %s mentioning %q and wrapping the cause", tc.err, e.Code, e.Message, tc.code, tc.says)
			}
		})
	}
	own := relay.Errorf(relay.ENotFound, "x")
	if e := host.TransportError("GitHub", fmt.Errorf("wrapped: %w", own), 0); e != own {
		t.Errorf("a *relay.Error was not passed through: %v", e)
	}
	if host.TransportError("GitHub", nil, 0) != nil {
		t.Error("TransportError(nil) != nil")
	}
}

func TestStatusError(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := http.Header{"Retry-After": {"12"}}
	for _, tc := range []struct {
		status int
		code   string
	}{
		{401, relay.ECredentialRejected}, {429, relay.ERateLimited}, {500, relay.EHostError}, {503, relay.EHostError},
		{404, ""}, {422, ""}, {403, ""},
	} {
		e := host.StatusError("GitLab", tc.status, h, now)
		if got := relay.ErrorCode(errOrNil(e)); got != tc.code {
			t.Errorf("StatusError(%d) = %q, want %q", tc.status, got, tc.code)
		}
	}
	if e := host.StatusError("GitLab", 429, h, now); e.RetryAfter != 12*time.Second || !strings.Contains(e.Message, "in 12 seconds") {
		t.Errorf("429: %+v", e)
	}
}

func errOrNil(e *relay.Error) error {
	if e == nil {
		return nil
	}
	return e
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"seconds", http.Header{"Retry-After": {"30"}}, 30 * time.Second, true},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second, true},
		{"github reset epoch", http.Header{"X-Ratelimit-Reset": {"1700000125"}}, 125 * time.Second, true},
		{"reset in the past", http.Header{"X-Ratelimit-Reset": {"1699999000"}}, time.Second, true},
		{"ietf delta", http.Header{"Ratelimit-Reset": {"7"}}, 7 * time.Second, true},
		{"retry-after wins", http.Header{"Retry-After": {"3"}, "X-Ratelimit-Reset": {"1700000125"}}, 3 * time.Second, true},
		{"garbage", http.Header{"Retry-After": {"soon"}}, host.DefaultRetryAfter, false},
		{"none", http.Header{}, host.DefaultRetryAfter, false},
	} {
		got, ok := host.RetryAfter(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: RetryAfter = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRateLimitedSaysWhenToRetry(t *testing.T) {
	for d, says := range map[time.Duration]string{
		0:                      "in 60 seconds",
		500 * time.Millisecond: "in a second",
		42 * time.Second:       "in 42 seconds",
		10 * time.Minute:       "in 10 minutes",
		3 * time.Hour:          "in about 3 hours",
	} {
		e := host.RateLimited("GitHub", d)
		if e.Code != relay.ERateLimited || !strings.Contains(e.Message, says) || e.RetryAfter <= 0 {
			t.Errorf("RateLimited(%v) = %+v, want it to say %q", d, e, says)
		}
	}
}

func TestRedactRemovesSecretsEverywhere(t *testing.T) {
	const secret = "glpat-SECRET123"
	cause := fmt.Errorf("GET /x: header %s refused", secret)
	e := &relay.Error{
		Code: relay.EHostError, Message: "the host said " + secret, URL: "https://h/?t=" + secret,
		Fields: map[string]string{"token": secret}, Err: cause,
	}
	host.Redact(e, secret, "")
	var printed []string
	printed = append(printed, e.Error(), fmt.Sprintf("%+v", e), e.Message, e.URL, e.Fields["token"])
	for u := error(e); u != nil; u = errors.Unwrap(u) {
		printed = append(printed, u.Error())
	}
	for _, p := range printed {
		if strings.Contains(p, secret) {
			t.Errorf("still shows the secret: %s", p)
		}
	}
	clean := context.DeadlineExceeded
	if host.RedactError(clean, secret) != clean {
		t.Error("RedactError replaced an error that holds no secret, losing its chain")
	}
	if host.Redact(nil, secret) != nil {
		t.Error("Redact(nil) != nil")
	}
}

// Secret hides its text also as an unexported field of a printed struct,
// where fmt cannot call String.
func TestSecretNeverPrints(t *testing.T) {
	const text = "ghp_SECRETSECRET"
	type holder struct {
		name   string
		secret host.Secret
	}
	h := &holder{name: "x", secret: host.NewSecret(text)}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "h", h, "s", h.secret)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("m", "h", h, "s", h.secret)
	for _, p := range []string{
		fmt.Sprint(h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h), fmt.Sprintf("%+v", *h), fmt.Sprintf("%#v", *h),
		fmt.Sprint(h.secret), fmt.Sprintf("%#v", h.secret), fmt.Sprintf("%q", h.secret), fmt.Sprintf("%x", h.secret), logs.String(),
	} {
		if strings.Contains(p, text) || strings.Contains(p, fmt.Sprintf("%x", text)) {
			t.Errorf("printed the secret: %s", p)
		}
	}
	if h.secret.Reveal() != text || (host.Secret{}).Reveal() != "" {
		t.Error("Reveal does not return the text")
	}
}

func TestParseBaseURL(t *testing.T) {
	for _, tc := range []struct {
		in, want, problem string
	}{
		{"https://git.example.com", "https://git.example.com", ""},
		{"  HTTPS://Git.Example.com:8443/gitlab/ ", "https://git.example.com:8443/gitlab", ""},
		{"http://localhost:8080", "http://localhost:8080", ""},
		{"", "", "Enter the address"},
		{"git.example.com", "", "full address"},
		{"ftp://git.example.com", "", "must start with https://"},
		{"https://bob:pw@git.example.com", "", "user name and password"},
		{"https://git.example.com/?a=1", "", "query"},
		{"https://git.example.com/#top", "", "fragment"},
		{"https://git.example.com:99999", "", "port"},
		{"https://git.example.com:0", "", "port"},
		{"mailto:x@example.com", "", "URL"},
	} {
		u, err := host.ParseBaseURL(tc.in, "https://git.example.com")
		if tc.problem == "" {
			if err != nil || u.String() != tc.want {
				t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
			}
			continue
		}
		e, ok := relay.AsError(err)
		if !ok || e.Code != relay.EInvalid || !strings.Contains(e.Fields["base_url"], tc.problem) {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want invalid_request with base_url mentioning %q", tc.in, u, err, tc.problem)
		}
	}
}

func TestValidBranchName(t *testing.T) {
	for _, ok := range []string{"main", "ABC-1-fix-login", "feature/ABC-1", "bugfix/ABC-2_x", "v1.2", "a@b", "ünïcode"} {
		if !host.ValidBranchName(ok) {
			t.Errorf("ValidBranchName(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"", "@", "-x", "/x", "x/", "x.", "a..b", "a//b", "a@{b", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", `a\b`,
		"a\x00b", "a\x7fb", ".hidden", "a/.b", "x.lock", "a/b.lock/c"} {
		if host.ValidBranchName(bad) {
			t.Errorf("ValidBranchName(%q) = true, want false", bad)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := host.Quote("  Bad\n credentials "); got != `"Bad credentials"` {
		t.Errorf("Quote = %s", got)
	}
	if host.Quote(" ") != "" {
		t.Error(`Quote(" ") != ""`)
	}
	if got := host.Quote(strings.Repeat("é", 400)); len([]rune(got)) != host.MaxQuote+2 || !strings.HasSuffix(got, `…"`) {
		t.Errorf("Quote of 400 runes has %d runes, want %d ending with an ellipsis, plus quotes", len([]rune(got)), host.MaxQuote)
	}
}

// A host's text is shown to people: terminal escapes, invisible
// formatting characters (bidirectional overrides) and other control
// characters are removed, white space collapsed.
func TestSanitizeRemovesControlCharacters(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"terminal escape", "Bad\x1b[31m credentials\x07", "Bad[31m credentials"},
		{"bidirectional override", "main\u202egnp.exe", "maingnp.exe"},
		{"tabs and newlines", "a\tb\r\nc", "a b c"},
		{"NUL and DEL", "a\x00b\x7fc", "abc"},
		{"invalid UTF-8", "a\xffb", "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := host.Sanitize(tc.in); got != tc.want {
				t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
