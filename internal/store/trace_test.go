package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Inside a recorded trace each statement is a span under the caller's,
// named after the store method, with the dialect and the statement's verb
// and never its arguments; outside one, the store starts no span.
func TestStatementsAreSpansInsideATraceOnly(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	const canary = "TENANT-CANARY-trace"
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		exp.Reset()
		if _, err := db.CountUsers(context.Background(), canary); err != nil {
			t.Fatal(err)
		}
		if n := len(exp.GetSpans()); n != 0 {
			t.Fatalf("%d spans outside a trace, want none", n)
		}

		ctx, parent := tp.Tracer("test").Start(context.Background(), "action")
		if _, err := db.CountUsers(ctx, canary); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Integration(ctx, canary, "no-such-integration"); err == nil {
			t.Fatal("Integration of nothing succeeded, want not found")
		} else if e, ok := relay.AsError(err); !ok || e.Code != relay.ENotFound {
			t.Fatalf("Integration of nothing: %v, want not found", err)
		}
		parent.End()

		system := map[string]string{store.DialectSQLite: "sqlite", store.DialectPostgres: "postgresql"}[db.Dialect()]
		names := map[string]bool{}
		for _, s := range exp.GetSpans() {
			if s.Name == "action" {
				continue
			}
			names[s.Name] = true
			attrs := map[string]string{}
			for _, kv := range s.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			if s.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("span %s is not under the caller's", s.Name)
			}
			if attrs["db.system.name"] != system || attrs["db.operation.name"] != "SELECT" {
				t.Errorf("span %s attributes %v, want db.system.name %s and db.operation.name SELECT", s.Name, attrs, system)
			}
			if text := fmt.Sprint(s.Attributes, s.Status, s.Events); strings.Contains(text, canary) {
				t.Errorf("span %s carries an argument: %s", s.Name, text)
			}
		}
		for _, want := range []string{"store.CountUsers", "store.Integration"} {
			if !names[want] {
				t.Errorf("spans %v lack %s", names, want)
			}
		}
	})
}
