package store

import (
	"context"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the store's spans.
const tracerName = "github.com/gitrelay/gitrelay/internal/store"

// startSpan starts the span of one statement inside a recorded trace,
// named after the store method that sends it ("store.Integration"), with
// the dialect and the statement's verb: never its arguments, which hold
// names, hashes and sealed secrets. Outside a recorded trace (tracing off,
// background work) it returns nil for the price of one lookup.
func (c conn) startSpan(ctx context.Context, query string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	name := "store"
	// 0 is startSpan, 1 exec/query/queryRow, 2 the store method.
	if pc, _, _, ok := runtime.Caller(2); ok {
		if f := runtime.FuncForPC(pc); f != nil {
			name = "store." + methodName(f.Name())
		}
	}
	system := "sqlite"
	if c.postgres {
		system = "postgresql"
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return otel.Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.operation.name", strings.ToUpper(verb))))
}

// endSpan ends span, when there is one, marking a failed statement; the
// error's text stays out (a driver may quote values).
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

// methodName is the store method a function belongs to:
// ".../store.(*DB).Integration.func1" is "Integration".
func methodName(fn string) string {
	fn = fn[strings.LastIndex(fn, "/")+1:]
	fn = strings.TrimPrefix(fn, "store.")
	fn = strings.TrimPrefix(fn, "(*DB).")
	if i := strings.Index(fn, ".func"); i > 0 {
		fn = fn[:i]
	}
	return fn
}
