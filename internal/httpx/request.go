package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
)

// RequestIDHeader names the request id a client may send and every answer
// carries.
const RequestIDHeader = "X-Request-ID"

// maxRequestID bounds a client's request id: longer ones are replaced.
const maxRequestID = 64

// Request is what the edges learn about one request while serving it: its
// id from the start, the acting tenant and user once authenticated. The
// access log reads it after the handler returns.
type Request struct {
	ID string

	mu             sync.Mutex
	tenant, userID string
}

// Who is the tenant and user id noted for the request (empty when no one
// was authenticated).
func (q *Request) Who() (tenant, userID string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.tenant, q.userID
}

type requestKey struct{}

// StartRequest gives r its request id (the client's when well-formed,
// otherwise a new one), echoes it in the answer's header and carries it in
// the returned request's context.
func StartRequest(w http.ResponseWriter, r *http.Request) (*http.Request, *Request) {
	q := &Request{ID: r.Header.Get(RequestIDHeader)}
	if !ValidRequestID(q.ID) {
		q.ID = NewRequestID()
	}
	w.Header().Set(RequestIDHeader, q.ID)
	return r.WithContext(context.WithValue(r.Context(), requestKey{}, q)), q
}

// ValidRequestID accepts 1 to 64 characters of [A-Za-z0-9._-]: enough for
// the ids proxies and clients generate, nothing that could forge a log
// line or a header.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewRequestID is a fresh random request id (32 hex characters).
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestOf is the request being served with ctx, or nil outside one.
func RequestOf(ctx context.Context) *Request {
	q, _ := ctx.Value(requestKey{}).(*Request)
	return q
}

// RequestID is the id of the request served with ctx, or "".
func RequestID(ctx context.Context) string {
	if q := RequestOf(ctx); q != nil {
		return q.ID
	}
	return ""
}

// NoteUser records who the request acts for, for its access-log line.
func NoteUser(ctx context.Context, tenant, userID string) {
	if q := RequestOf(ctx); q != nil {
		q.mu.Lock()
		q.tenant, q.userID = tenant, userID
		q.mu.Unlock()
	}
}

// LogHandler adds the request id to every record logged with the context
// of a request (the logger's *Context methods), so that each line a
// request causes can be found by its id.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
