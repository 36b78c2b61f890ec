package hosttest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// MaxErrorMessage bounds the message of any error a host's answer
// produces: a host is quoted at most 300 printable characters (up to four
// bytes each in UTF-8), inside gitrelay's own sentence. The point is that a
// host can never make gitrelay repeat an unbounded body.
const MaxErrorMessage = 2048

// SecretMark in a fuzzed body is replaced with the credential's secret, so
// that the fuzzer tries hosts that echo the token back.
const SecretMark = "@SECRET@"

// Answer is one fuzzed host answer.
type Answer struct {
	Status      int
	ContentType string
	RetryAfter  string
	Body        []byte
}

// errorCodes are the codes a HostClient may return (relay.HostClient).
var errorCodes = map[string]bool{
	relay.ECredentialRejected: true, relay.EScopeMissing: true, relay.ENotFound: true, relay.EBranchExists: true,
	relay.EPullRequestExists: true, relay.EDraftUnsupported: true, relay.EInvalidBranchName: true,
	relay.ERateLimited: true, relay.EHostTimeout: true, relay.EHostError: true, relay.EInvalid: true,
}

// FuzzAnswers feeds arbitrary answers (status, Content-Type, Retry-After,
// body) from a host to every operation of the client a registry of adapter
// builds for the server at the URL it is given, with cred (whose secrets must not
// leak). Seeds are added for each of seedBodies. It asserts that every
// error is a *relay.Error with a documented code, whose message is
// non-empty, bounded, free of control characters and of the credential's
// secrets; that a wait is within host.MaxRetryAfter; and that every link
// in an error or a result is an http(s) address.
func FuzzAnswers(f *testing.F, adapter func(serverURL string) (host.Adapter, relay.HostConfig), cred relay.Credential, seedBodies ...string) {
	var (
		mu  sync.Mutex
		ans Answer
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := ans
		mu.Unlock()
		if a.ContentType != "" {
			w.Header().Set("Content-Type", a.ContentType)
		}
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body)
	}))
	f.Cleanup(srv.Close)
	a, cfg := adapter(srv.URL)
	cfg, err := a.CheckConfig(cfg)
	if err != nil {
		f.Fatalf("CheckConfig: %v", err)
	}
	var secrets []string
	for _, s := range []string{cred.Token(), cred.Password(), cred.SecretAccessKey(), fuzzHook.Secret.Password()} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	for op := range uint8(len(operations)) {
		for _, status := range []uint16{200, 201, 400, 401, 403, 404, 409, 422, 429, 500, 503} {
			for _, body := range seedBodies {
				f.Add(op, status, "application/json; charset=utf-8", "", []byte(body))
			}
		}
		f.Add(op, uint16(403), "text/html", "30", []byte("<html>Sign in</html>"))
		f.Add(op, uint16(429), "", "99999999999", []byte(nil))
		f.Add(op, uint16(204), "application/json", "", []byte(nil))
	}
	// Clients come from a registry, as gitrelay builds them; answers worth
	// another attempt get it at once, whatever wait they ask for.
	reg := host.NewRegistry(host.NewHTTPClient(host.ClientConfig{
		Timeout: 10 * time.Second,
		Egress:  host.Egress{Allow: host.MustAllowlist(LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
	}), a)
	f.Fuzz(func(t *testing.T, op uint8, status uint16, contentType, retryAfter string, body []byte) {
		code := int(status)
		if code < 200 || code > 599 {
			code = 200 + code%400
		}
		a2 := Answer{Status: code, ContentType: contentType, RetryAfter: retryAfter}
		if len(secrets) > 0 {
			a2.Body = bytes.ReplaceAll(body, []byte(SecretMark), []byte(secrets[0]))
		} else {
			a2.Body = body
		}
		if strings.ContainsAny(contentType+retryAfter, "\r\n\x00") {
			return // not a header value a server can send
		}
		mu.Lock()
		ans = a2
		mu.Unlock()
		client, err := reg.Client(cfg, cred)
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		o := operations[int(op)%len(operations)]
		links, err := o.call(ctx, client)
		for _, l := range links {
			checkLink(t, o.name+" result", l)
		}
		if err == nil {
			return
		}
		e, ok := relay.AsError(err)
		if !ok {
			t.Fatalf("%s, answer %d %q: error %T %v is not a *relay.Error", o.name, a2.Status, a2.Body, err, err)
		}
		if !errorCodes[e.Code] {
			t.Fatalf("%s, answer %d: code %q is not one a host client returns", o.name, a2.Status, e.Code)
		}
		if e.Message == "" || len(e.Message) > MaxErrorMessage {
			t.Fatalf("%s, answer %d: message of %d bytes: %.200q", o.name, a2.Status, len(e.Message), e.Message)
		}
		for _, s := range append([]string{e.Message, e.Scope, e.URL}, fieldValues(e)...) {
			if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
				t.Fatalf("%s, answer %d: control character %q in %q", o.name, a2.Status, s[i], s)
			}
			for _, secret := range secrets {
				if strings.Contains(s, secret) {
					t.Fatalf("%s, answer %d: the error shows the credential: %q", o.name, a2.Status, s)
				}
			}
		}
		if len(e.Scope) > 300 {
			t.Fatalf("%s: scope of %d bytes", o.name, len(e.Scope))
		}
		checkLink(t, o.name+" error", e.URL)
		if e.RetryAfter < 0 || e.RetryAfter > host.MaxRetryAfter || (e.Code == relay.ERateLimited && e.RetryAfter < time.Second) {
			t.Fatalf("%s, answer %d, Retry-After %q: wait %v", o.name, a2.Status, retryAfter, e.RetryAfter)
		}
	})
}

func fieldValues(e *relay.Error) []string {
	var vs []string
	for _, v := range e.Fields {
		vs = append(vs, v)
	}
	return vs
}

// checkLink fails unless s is empty or an absolute http(s) address: a link
// a host answers with is shown to users.
func checkLink(t *testing.T, what, s string) {
	t.Helper()
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("%s: link %q is not an http(s) address", what, s)
	}
}

var fuzzRepo = relay.Repository{ID: "42", Name: "widgets", FullName: "acme/widgets", DefaultBranch: "main"}

// fuzzHook is registered by the fuzzed webhook operations; its secret is
// looked for in every error like the credential's.
var fuzzHook = relay.Hook{URL: "https://gitrelay.example.com/hooks/01JFUZZ", Events: []string{"push"},
	Secret: relay.PasswordCredential("gitrelay", "fuzzHOOKsecretCANARY0042")}

// operations are the client's calls, each returning the links its result
// carries.
var operations = []struct {
	name string
	call func(context.Context, relay.HostClient) ([]string, error)
}{
	{"Validate", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		_, err := c.Validate(ctx)
		return nil, err
	}},
	{"Repositories", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		rs, err := c.Repositories(ctx, "wid")
		var links []string
		for _, r := range rs {
			links = append(links, r.WebURL)
		}
		return links, err
	}},
	{"Repository", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		r, err := c.Repository(ctx, fuzzRepo.ID)
		return []string{r.WebURL}, err
	}},
	{"Branches", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		bs, err := c.Branches(ctx, fuzzRepo, "ABC")
		var links []string
		for _, b := range bs {
			links = append(links, b.URL)
		}
		return links, err
	}},
	{"Branch", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		b, err := c.Branch(ctx, fuzzRepo, "main")
		return []string{b.URL}, err
	}},
	{"CreateBranch", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		b, err := c.CreateBranch(ctx, fuzzRepo, "ABC-1-fix", "0123456789abcdef0123456789abcdef01234567")
		return []string{b.URL}, err
	}},
	{"DeleteBranch", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		return nil, c.DeleteBranch(ctx, fuzzRepo, "ABC-1-fix")
	}},
	{"CreatePullRequest", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		pr, err := c.CreatePullRequest(ctx, fuzzRepo, relay.NewPullRequest{Source: "ABC-1-fix", Target: "main", Title: "ABC-1 Fix", Draft: true})
		return []string{pr.URL}, err
	}},
	{"FindPullRequest", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		pr, err := c.FindPullRequest(ctx, fuzzRepo, "ABC-1-fix", "main")
		return []string{pr.URL}, err
	}},
	{"ListPullRequests", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		l, ok := host.PullRequests(c)
		if !ok {
			return nil, nil
		}
		page, err := l.ListPullRequests(ctx, fuzzRepo, host.PullRequestCursor{ETag: `W/"1"`})
		var links []string
		for _, p := range page.PullRequests {
			switch p.State {
			case host.PullRequestOpen, host.PullRequestDraft, host.PullRequestMerged, host.PullRequestDeclined:
			default:
				return nil, fmt.Errorf("pull request %d has the state %q", p.Number, p.State)
			}
			links = append(links, p.URL)
		}
		return links, err
	}},
	{"FindHook", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		h, ok := host.Hooks(c)
		if !ok {
			return nil, nil
		}
		_, err := h.FindHook(ctx, fuzzRepo, fuzzHook.URL)
		return nil, err
	}},
	{"EnsureHook", func(ctx context.Context, c relay.HostClient) ([]string, error) {
		h, ok := host.Hooks(c)
		if !ok {
			return nil, nil
		}
		hook := fuzzHook
		hook.Secret = relay.NewCredential(fuzzHook.Secret.Password(), "gitrelay", fuzzHook.Secret.Password(), "", "")
		_, err := h.EnsureHook(ctx, fuzzRepo, hook)
		return nil, err
	}},
}
