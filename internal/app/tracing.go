package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gitrelay/gitrelay/internal/host"
)

// TracingConfig says where spans go.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector's base URL
	// (OTEL_EXPORTER_OTLP_ENDPOINT, such as http://collector:4318); spans
	// are sent to its /v1/traces.
	Endpoint string
	// ServiceName names gitrelay in the traces (OTEL_SERVICE_NAME);
	// "gitrelay" when empty.
	ServiceName string
	Version     string
	// Egress is the policy of the server's other outbound requests; the
	// collector's host is allowed on top of it, for the exporter only.
	Egress host.Egress
	// Logger receives the exporter's failures (a collector that does not
	// answer); nil discards them.
	Logger *slog.Logger
}

// StartTracing makes every request a trace sent to c.Endpoint: the
// request's span, its action's, its host calls' (one per operation, one
// per HTTP attempt) and its store statements'. The exporter sends through
// gitrelay's one outbound client, with the egress policy widened by the
// collector's host alone: the collector's address is the operator's
// setting, as --egress-allow is. The returned function sends the spans
// still buffered and turns tracing off again (a no-op tracer, as when
// tracing was never started).
func StartTracing(ctx context.Context, c TracingConfig) (stop func(context.Context) error, err error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, errors.New("OTEL_EXPORTER_OTLP_ENDPOINT must be the collector's http:// or https:// URL, such as http://collector:4318")
	}
	collector, err := host.ParseAllowlist(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	egress := c.Egress
	egress.Allow = egress.Allow.With(collector)
	// No Observe: the exporter's requests are not host requests, and it
	// sends them outside any trace, so they make no spans either.
	hc := host.NewHTTPClient(host.ClientConfig{Timeout: 10 * time.Second, Egress: egress})
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(strings.TrimRight(c.Endpoint, "/")+"/v1/traces"),
		otlptracehttp.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	name := c.ServiceName
	if name == "" {
		name = "gitrelay"
	}
	res := resource.NewSchemaless(attribute.String("service.name", name), attribute.String("service.version", c.Version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: spans not sent", "error", err) }))
	otel.SetTracerProvider(tp)
	// A caller's traceparent (a proxy's, a client's) makes the request a
	// child of its trace.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return func(ctx context.Context) error {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
		return tp.Shutdown(ctx)
	}, nil
}
