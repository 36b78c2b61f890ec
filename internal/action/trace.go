package action

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the action spans.
const tracerName = "github.com/gitrelay/gitrelay/internal/action"

// startSpan starts the span of one action (between the request's and its
// host calls and store queries) inside a recorded trace; otherwise it
// returns ctx and a span that does nothing, for the price of one lookup.
// Spans carry the action's name only: never an issue, a repository or a
// credential.
func startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return otel.Tracer(tracerName).Start(ctx, name)
}
