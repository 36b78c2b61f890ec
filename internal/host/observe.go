package host

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// TracerName is the instrumentation scope of the spans the outbound client
// and the registry start.
const TracerName = "github.com/gitrelay/gitrelay/internal/host"

// Kinds of remote that are not git hosts, for requests sent outside a
// registry client.
const (
	// KindJira is Jira's REST API and Atlassian's OAuth endpoints.
	KindJira = "jira"
	// KindJWKS is Atlassian's key set for Forge invocation tokens.
	KindJWKS = "jwks"
	// KindOther is a request sent without WithCall.
	KindOther = "other"
)

// Operations of a git host client, one per relay.HostClient method: the
// op of the requests it sends.
const (
	OpValidate          = "validate"
	OpListRepositories  = "list_repositories"
	OpGetRepository     = "get_repository"
	OpListBranches      = "list_branches"
	OpGetBranch         = "get_branch"
	OpCreateBranch      = "create_branch"
	OpDeleteBranch      = "delete_branch"
	OpCreatePullRequest = "create_pull_request"
	OpFindPullRequest   = "find_pull_request"
	OpListPullRequests  = "list_pull_requests"
	OpFindHook          = "find_hook"
	OpEnsureHook        = "ensure_hook"
)

type callKey struct{}

// call is what a request is sent for: the kind of remote and the
// operation, both from fixed sets, never from input.
type call struct{ kind, op string }

// WithCall returns a context whose requests are measured and traced as
// operation op on a remote of kind: a git host kind ("github"), KindJira
// or KindJWKS. Both must come from a fixed set (a metric label each):
// never a URL, a repository or anything a user typed.
func WithCall(ctx context.Context, kind, op string) context.Context {
	return context.WithValue(ctx, callKey{}, call{kind: kind, op: op})
}

func callOf(ctx context.Context) call {
	if c, ok := ctx.Value(callKey{}).(call); ok {
		return c
	}
	return call{kind: KindOther, op: KindOther}
}

// Observation is one request sent by the outbound client: one attempt,
// from sending it to its answer's headers (or the error that ended it).
type Observation struct {
	// Kind and Op are the request's WithCall (KindOther when none).
	Kind, Op string
	// StatusClass is "2xx", "3xx", "4xx" or "5xx", or "error" when no
	// answer came (refused by the egress policy, unreachable, timed out).
	StatusClass string
	Duration    time.Duration
}

// statusClass is the class of an answer's status for metrics: "1xx" to
// "5xx", or "error" when there was no answer.
func statusClass(resp *http.Response, err error) string {
	if err != nil || resp == nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		return "error"
	}
	return strconv.Itoa(resp.StatusCode/100) + "xx"
}

// observed measures and traces each request its base sends: it is the
// outermost layer of NewHTTPClient's transport, inside the retries, so
// every attempt is one observation and one span.
type observed struct {
	base    http.RoundTripper
	observe func(Observation)
}

func (t *observed) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c := callOf(ctx)
	// A span only inside a recorded trace: off, or for requests sent
	// outside any (the trace exporter's own), this costs one lookup.
	var span trace.Span
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		ctx, span = otel.Tracer(TracerName).Start(ctx, "HTTP "+req.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(
				attribute.String("http.request.method", req.Method),
				// The host name only: the path names repositories and the
				// query may carry anything.
				attribute.String("server.address", req.URL.Hostname()),
				attribute.String("gitrelay.host.kind", c.kind),
				attribute.String("gitrelay.host.op", c.op)))
		req = req.WithContext(ctx)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	if t.observe != nil {
		t.observe(Observation{Kind: c.kind, Op: c.op, StatusClass: statusClass(resp, err), Duration: time.Since(start)})
	}
	if span != nil {
		if err != nil {
			// The error's kind, not its text: a transport error quotes the
			// URL.
			span.SetStatus(codes.Error, "no answer")
		} else {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			if resp.StatusCode >= 500 {
				span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
			}
		}
		span.End()
	}
	return resp, err
}

// traced is a HostClient (the registry's) whose calls are each one span,
// and whose requests are measured as their kind and operation.
type traced struct {
	next relay.HostClient
	kind string
}

func (c traced) start(ctx context.Context, op string) (context.Context, trace.Span) {
	ctx = WithCall(ctx, c.kind, op)
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return otel.Tracer(TracerName).Start(ctx, "host."+op,
		trace.WithAttributes(attribute.String("gitrelay.host.kind", c.kind), attribute.String("gitrelay.host.op", op)))
}

// end ends span (when there is one) with err's code, never its message.
func end(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		code := "error"
		if e, ok := relay.AsError(err); ok {
			code = string(e.Code)
		}
		span.SetStatus(codes.Error, code)
	}
	span.End()
}

func (c traced) Validate(ctx context.Context) (relay.Account, error) {
	ctx, span := c.start(ctx, OpValidate)
	a, err := c.next.Validate(ctx)
	end(span, err)
	return a, err
}

func (c traced) Repositories(ctx context.Context, query string) ([]relay.Repository, error) {
	ctx, span := c.start(ctx, OpListRepositories)
	rs, err := c.next.Repositories(ctx, query)
	end(span, err)
	return rs, err
}

func (c traced) Repository(ctx context.Context, id string) (relay.Repository, error) {
	ctx, span := c.start(ctx, OpGetRepository)
	r, err := c.next.Repository(ctx, id)
	end(span, err)
	return r, err
}

func (c traced) Branches(ctx context.Context, repo relay.Repository, query string) ([]relay.Branch, error) {
	ctx, span := c.start(ctx, OpListBranches)
	bs, err := c.next.Branches(ctx, repo, query)
	end(span, err)
	return bs, err
}

func (c traced) Branch(ctx context.Context, repo relay.Repository, name string) (relay.Branch, error) {
	ctx, span := c.start(ctx, OpGetBranch)
	b, err := c.next.Branch(ctx, repo, name)
	end(span, err)
	return b, err
}

func (c traced) CreateBranch(ctx context.Context, repo relay.Repository, name, baseSHA string) (relay.Branch, error) {
	ctx, span := c.start(ctx, OpCreateBranch)
	b, err := c.next.CreateBranch(ctx, repo, name, baseSHA)
	end(span, err)
	return b, err
}

func (c traced) DeleteBranch(ctx context.Context, repo relay.Repository, name string) error {
	ctx, span := c.start(ctx, OpDeleteBranch)
	err := c.next.DeleteBranch(ctx, repo, name)
	end(span, err)
	return err
}

func (c traced) CreatePullRequest(ctx context.Context, repo relay.Repository, pr relay.NewPullRequest) (relay.PullRequest, error) {
	ctx, span := c.start(ctx, OpCreatePullRequest)
	p, err := c.next.CreatePullRequest(ctx, repo, pr)
	end(span, err)
	return p, err
}

func (c traced) FindPullRequest(ctx context.Context, repo relay.Repository, source, target string) (relay.PullRequest, error) {
	ctx, span := c.start(ctx, OpFindPullRequest)
	p, err := c.next.FindPullRequest(ctx, repo, source, target)
	end(span, err)
	return p, err
}

// tracedLister is the pull-request capability of a traced client.
type tracedLister struct {
	next PullRequestLister
	kind string
}

func (c tracedLister) ListPullRequests(ctx context.Context, repo relay.Repository, since PullRequestCursor) (PullRequestPage, error) {
	ctx, span := traced{kind: c.kind}.start(ctx, OpListPullRequests)
	p, err := c.next.ListPullRequests(ctx, repo, since)
	end(span, err)
	return p, err
}
