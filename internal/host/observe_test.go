package host_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The secrets and names the observations and spans must never carry.
const (
	obsToken = "TOKEN-CANARY-observe"
	obsRepo  = "secret-project-repo"
)

// wireAdapter is a minimal adapter whose client sends real requests
// through the registry's client: Branch is a GET, CreateBranch a POST,
// both to <base>/<repo>/..., with the credential in a header.
type wireAdapter struct{ kind relay.Kind }

func (a wireAdapter) Kind() relay.Kind { return a.kind }
func (a wireAdapter) CheckConfig(cfg relay.HostConfig) (relay.HostConfig, error) {
	return cfg, nil
}
func (a wireAdapter) Capabilities(relay.HostConfig) relay.Capabilities { return relay.Capabilities{} }
func (a wireAdapter) NewTokenURL(relay.HostConfig, string) string      { return "" }
func (a wireAdapter) NewClient(cfg relay.HostConfig, cred relay.Credential, hc *http.Client) (relay.HostClient, error) {
	c := host.ClientFor(hc, &host.Auth{Origin: cfg.BaseURL, Header: "Authorization", Value: host.NewSecret("token " + cred.Token())})
	return &wireClient{base: cfg.BaseURL, hc: c}, nil
}

type wireClient struct {
	relay.HostClient // the methods the tests do not call
	base             string
	hc               *http.Client
}

func (c *wireClient) send(ctx context.Context, method, path string) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return &relay.Error{Code: relay.EHostError, Message: "no answer", Err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 400 {
		return &relay.Error{Code: relay.EHostError, Message: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	return nil
}

func (c *wireClient) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	return relay.Branch{Name: name}, c.send(ctx, http.MethodGet, "/"+repo.FullName+"/branches/"+name)
}

func (c *wireClient) CreateBranch(ctx context.Context, repo relay.Repository, name, _ string) (relay.Branch, error) {
	return relay.Branch{Name: name}, c.send(ctx, http.MethodPost, "/"+repo.FullName+"/branches")
}

// observations collects what the outbound client reports.
type observations struct {
	mu  sync.Mutex
	got []host.Observation
}

func (o *observations) observe(ob host.Observation) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, ob)
}

// labels is each observation as "kind op status_class".
func (o *observations) labels() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, ob := range o.got {
		if ob.Duration < 0 {
			out = append(out, "negative duration")
		}
		out = append(out, ob.Kind+" "+ob.Op+" "+ob.StatusClass)
	}
	return out
}

func observedRegistry(t *testing.T, obs *observations) *host.Registry {
	t.Helper()
	hc := host.NewHTTPClient(host.ClientConfig{
		Egress:  host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }},
		Observe: obs.observe,
	})
	return host.NewRegistry(hc, wireAdapter{kind: "github"})
}

// Every request the outbound client sends, each attempt of a retried read
// included, is reported with the host kind, the registry operation it was
// sent for and its status class; a request that got no answer is "error".
// Nothing else is reported: no URL, repository or token.
func TestEveryOutboundRequestIsObservedByKindOperationAndStatusClass(t *testing.T) {
	var mu sync.Mutex
	gets := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		default:
			mu.Lock()
			gets++
			first := gets == 1
			mu.Unlock()
			if first {
				w.WriteHeader(http.StatusServiceUnavailable) // transient: read again
				return
			}
			_, _ = io.WriteString(w, "{}")
		}
	}))
	defer srv.Close()
	obs := &observations{}
	reg := observedRegistry(t, obs)
	ctx := context.Background()
	repo := relay.Repository{FullName: "acme/" + obsRepo}
	client, err := reg.Client(relay.HostConfig{Kind: "github", BaseURL: srv.URL}, relay.TokenCredential(obsToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Branch(ctx, repo, "main"); err != nil {
		t.Fatalf("Branch: %v", err)
	}
	if _, err := client.Branch(ctx, repo, "missing"); err == nil {
		t.Fatal("Branch(missing) succeeded, want the host's 404")
	}
	if _, err := client.CreateBranch(ctx, repo, "ABC-1-fix", "sha"); err != nil {
		t.Fatalf("CreateBranch: %v", err)
	}
	// A host that does not listen: the address of a closed listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	gone, err := reg.Client(relay.HostConfig{Kind: "github", BaseURL: closed}, relay.TokenCredential(obsToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.CreateBranch(ctx, repo, "ABC-1-fix", "sha"); err == nil {
		t.Fatal("CreateBranch on a closed port succeeded")
	}

	got := obs.labels()
	want := []string{
		"github get_branch 5xx", "github get_branch 2xx", // the 503, then the read sent again
		"github get_branch 4xx",
		"github create_branch 2xx",
	}
	if len(got) < len(want)+1 || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("observations = %q, want %q then the unreachable host's", got, want)
	}
	// A connection refused is sent again (the host never saw it): every
	// attempt is an error.
	for _, l := range got[len(want):] {
		if l != "github create_branch error" {
			t.Errorf("observation of the unreachable host = %q, want %q", l, "github create_branch error")
		}
	}
	for _, l := range got {
		if strings.Contains(l, obsToken) || strings.Contains(l, obsRepo) || strings.Contains(l, "127.0.0.1") {
			t.Errorf("observation %q carries a token, repository or address", l)
		}
	}
}

// A request sent outside a registry client and without host.WithCall (a
// health check, a key set fetched by a test) is "other other"; WithCall
// names Jira's and the key set's calls.
func TestRequestsOutsideTheRegistryAreObservedAsTheirCallOrOther(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	obs := &observations{}
	hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)}, Observe: obs.observe})
	for _, ctx := range []context.Context{context.Background(), host.WithCall(context.Background(), host.KindJira, "get_issue")} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := obs.labels(), []string{"other other 2xx", "jira get_issue 2xx"}; !slices.Equal(got, want) {
		t.Errorf("observations = %q, want %q", got, want)
	}
}

// Inside a recorded trace, a registry client's call is one span named
// after its operation, and each HTTP attempt a child of it; the spans
// name the kind, operation, method and host name, never the path (which
// names the repository) or the credential.
func TestHostCallsAreSpansWithTheirAttemptsAsChildren(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer srv.Close()
	reg := observedRegistry(t, &observations{})
	client, err := reg.Client(relay.HostConfig{Kind: "github", BaseURL: srv.URL}, relay.TokenCredential(obsToken))
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := client.CreateBranch(ctx, relay.Repository{FullName: "acme/" + obsRepo}, "ABC-1-fix", "sha"); err != nil {
		t.Fatal(err)
	}
	parent.End()

	byName := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = s
		text := fmt.Sprint(s.Attributes, s.Status, s.Events)
		if strings.Contains(text, obsToken) || strings.Contains(text, obsRepo) {
			t.Errorf("span %q carries the token or the repository: %s", s.Name, text)
		}
	}
	call, attempt := byName["host.create_branch"], byName["HTTP POST"]
	switch {
	case !call.SpanContext.IsValid() || !attempt.SpanContext.IsValid():
		t.Fatalf("spans = %v, want host.create_branch and HTTP POST", slices.Collect(func(yield func(string) bool) {
			for n := range byName {
				if !yield(n) {
					return
				}
			}
		}))
	case call.Parent.SpanID() != parent.SpanContext().SpanID():
		t.Errorf("host.create_branch's parent = %v, want the request's span", call.Parent.SpanID())
	case attempt.Parent.SpanID() != call.SpanContext.SpanID():
		t.Errorf("HTTP POST's parent = %v, want host.create_branch", attempt.Parent.SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range attempt.Attributes {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["gitrelay.host.kind"] != "github" || attrs["gitrelay.host.op"] != "create_branch" || attrs["http.response.status_code"] != "201" {
		t.Errorf("HTTP POST's attributes = %v, want kind github, op create_branch, status 201", attrs)
	}
}

// Without a recorded trace (tracing off, or a request outside one), the
// client starts no span at all.
func TestNoSpansOutsideARecordedTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	client, err := observedRegistry(t, &observations{}).Client(relay.HostConfig{Kind: "github", BaseURL: srv.URL}, relay.TokenCredential(obsToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Branch(context.Background(), relay.Repository{FullName: "acme/r"}, "main"); err != nil {
		t.Fatal(err)
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Errorf("%d spans outside a trace, want none", len(spans))
	}
}
