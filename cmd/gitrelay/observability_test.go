package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

var metricsListening = regexp.MustCompile(`gitrelay metrics on (http://\S+/metrics)`)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With --metrics-addr, /metrics is served on that listener only: the
// public listener no longer answers it. The flag wins over
// GITRELAY_METRICS_ADDR (here an address nothing can listen on), like
// every other setting.
func TestMetricsAddrServesMetricsOnItsOwnListenerOnly(t *testing.T) {
	env := baseEnv("GITRELAY_DATA="+t.TempDir(), "GITRELAY_METRICS_ADDR=256.0.0.1:1")
	p := serve(t, env, "--metrics-addr", "127.0.0.1:0")
	m := metricsListening.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("serve did not say where the metrics are:\n%s", p.stdout)
	}
	status, body := get(t, m[1])
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", m[1], status)
	}
	for _, want := range []string{
		"gitrelay_build_info{",
		// SQLite: one write connection, a pool of readers.
		`gitrelay_db_max_open_connections{pool="write"} 1`,
		`gitrelay_db_open_connections{pool="read"}`,
		`gitrelay_db_in_use_connections{pool="write"}`,
		`gitrelay_db_idle_connections{pool="read"}`,
		`gitrelay_db_wait_count_total{pool="write"}`,
		`gitrelay_db_wait_duration_seconds_total{pool="read"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics listener's /metrics lacks %s", want)
		}
	}
	if status, _ := get(t, p.url+"/metrics"); status != http.StatusNotFound {
		t.Errorf("public GET /metrics with --metrics-addr = %d, want 404", status)
	}
	if status, _ := get(t, p.url+"/healthz"); status != http.StatusOK {
		t.Errorf("public GET /healthz = %d, want 200: the public listener serves the rest as before", status)
	}
}

// collector is a fake OpenTelemetry collector: it keeps the spans sent to
// its OTLP/HTTP traces endpoint and the raw bodies they came in.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.raw.Write(b)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(v.IntValue)
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, each request is a trace sent to
// the collector through gitrelay's one outbound client: the request's span,
// its action's under it, under that the host call (with its HTTP attempt)
// and the store's statements. No span carries a credential or an API
// token; a probe makes none. The collector's address is allowed for the
// exporter by that setting alone: --egress-allow names only the git host.
func TestTracesReachTheCollectorNestedAndWithoutSecrets(t *testing.T) {
	col := &collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()

	sim := hostsim.New()
	defer sim.Close()
	hs := httptest.NewServer(sim.Handler())
	defer hs.Close()
	sim.AddToken(hostsim.Token{Value: botPAT, Login: "bot", Scopes: []string{"repo"}})
	repo := sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "api", Private: true, Writers: []string{"bot"}})
	// The simulated host by name, so that allowing it does not allow the
	// collector's 127.0.0.1.
	hostURL := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1)

	env := baseEnv("GITRELAY_DATA="+t.TempDir(), "OTEL_EXPORTER_OTLP_ENDPOINT="+cs.URL, "OTEL_SERVICE_NAME=gitrelay-test")
	p := serve(t, env, "--egress-allow", "localhost")
	mustGitrelay(t, env, "projects", "add", "ABC", "--name", "Alpha")
	mustGitrelay(t, env, "projects", "grant", "ABC", "admin")
	admin := strings.TrimSpace(mustGitrelay(t, env, "users", "api-token", "admin"))
	status, body, _ := p.do("POST", "/api/v1/integrations", admin, map[string]any{
		"kind": "github-enterprise", "name": "GHE", "base_url": hostURL,
		"credential": map[string]string{"token": botPAT}, "projects": []string{"ABC"}})
	if status != http.StatusCreated {
		t.Fatalf("create integration: %d %v", status, body)
	}
	status, body, _ = p.do("POST", "/api/v1/issues/ABC-7/branches", admin, map[string]any{
		"integration_id": body["id"], "repository_id": fmt.Sprint(repo.ID), "summary": "Trace me"})
	if status != http.StatusCreated {
		t.Fatalf("create branch: %d %v", status, body)
	}
	// A probe makes no trace.
	if status, _ := get(t, p.url+"/readyz"); status != http.StatusOK {
		t.Fatalf("readyz: %d", status)
	}
	// Stopping sends the spans still buffered.
	p.stop()

	col.mu.Lock()
	defer col.mu.Unlock()
	if col.raw.Len() == 0 {
		t.Fatalf("the collector received no spans\nstderr: %s", p.stderr)
	}
	for name, secret := range map[string]string{"the integration's credential": botPAT, "the API token": admin} {
		if bytes.Contains(col.raw.Bytes(), []byte(secret)) {
			t.Errorf("the spans sent carry %s", name)
		}
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range col.spans {
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	parentOf := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }
	var request *tracepb.Span
	for _, s := range col.spans {
		switch s.Name {
		case "POST /api/v1/issues/{key}/branches":
			request = s
		case "GET /readyz", "GET":
			t.Errorf("the readiness probe made a span %q", s.Name)
		}
	}
	if request == nil {
		t.Fatalf("no span for the create-branch request among %d", len(col.spans))
	}
	if len(request.ParentSpanId) != 0 || attr(request, "http.response.status_code") != "201" || request.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("request span: parent %x, status %q, kind %v; want a root server span with status 201",
			request.ParentSpanId, attr(request, "http.response.status_code"), request.Kind)
	}
	// Each wanted span, with the name of the parent it must have.
	found := map[string]bool{}
	for _, s := range col.spans {
		if !bytes.Equal(s.TraceId, request.TraceId) {
			continue
		}
		parent := parentOf(s)
		switch {
		case s.Name == "action.create_branch" && parent == request:
			found["action"] = true
		case s.Name == "host.create_branch" && parent != nil && parent.Name == "action.create_branch":
			found["host call"] = true
		case s.Name == "HTTP POST" && parent != nil && parent.Name == "host.create_branch":
			found["HTTP attempt"] = attr(s, "gitrelay.host.kind") == "github-enterprise" && attr(s, "server.address") == "localhost"
		case strings.HasPrefix(s.Name, "store.") && parent != nil && parent.Name == "action.create_branch":
			found["store"] = true
		}
	}
	for _, want := range []string{"action", "host call", "HTTP attempt", "store"} {
		if !found[want] {
			var names []string
			for _, s := range col.spans {
				if p := parentOf(s); p != nil {
					names = append(names, s.Name+" < "+p.Name)
				}
			}
			t.Errorf("no %s span at its place under the request; spans (child < parent):\n%s", want, strings.Join(names, "\n"))
		}
	}
}
