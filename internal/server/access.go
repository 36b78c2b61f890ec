package server

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

// tracerName is the instrumentation scope of the request spans.
const tracerName = "github.com/gitrelay/gitrelay/internal/server"

// observe is the outermost layer, around every surface (API, pages, Forge
// remote, operational endpoints): it gives the request its id, then, once
// the answer is written, measures it by route pattern and writes its one
// access-log line. The line names the route pattern, never the path or
// query (which may carry a secret), and no header. With tracing on, the
// request is the root span of what it causes (action, host calls, store),
// or a child of the caller's trace (traceparent); the span, too, names
// the route pattern only.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, q := httpx.StartRequest(w, r)
		// Probes and scrapes, every few seconds, would bury the traces
		// worth reading: they make none.
		span := trace.SpanFromContext(r.Context())
		if !operational[r.Method+" "+r.URL.Path] {
			ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span = otel.Tracer(tracerName).Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("gitrelay.request_id", q.ID)))
			r = r.WithContext(ctx)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			d := time.Since(start)
			// ServeMux records the pattern it matched on this request.
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			span.SetName(route)
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", sw.status))
			if sw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(sw.status))
			}
			span.End()
			s.metrics.observeRequest(route, sw.status, d)
			level := slog.LevelInfo
			if operational[r.Pattern] {
				level = slog.LevelDebug
			}
			tenant, user := q.Who()
			s.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", sw.status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Int64("bytes", sw.bytes),
				slog.String("tenant", tenant), slog.String("user_id", user))
		}()
		next.ServeHTTP(sw, r)
	})
}

// operational are the routes probes and scrapers call every few seconds:
// their access-log lines are at debug level, so they do not drown the rest.
var operational = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// statusWriter remembers the status and counts the body bytes written.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
