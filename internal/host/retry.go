package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// The retry policy's defaults.
const (
	// DefaultRetryAttempts is how many times one request is sent at most.
	DefaultRetryAttempts = 3
	// DefaultRetryBackoff is the wait before the second attempt; it
	// doubles before each next one.
	DefaultRetryBackoff = 100 * time.Millisecond
	// DefaultMaxRetryWait is the longest Retry-After gitrelay waits out
	// before asking again. A host asking for longer is answered at once
	// with its wait (rate_limited): a person would rather hear "try again
	// in a minute" than watch a page load for one.
	DefaultMaxRetryWait = 5 * time.Second
)

// RetryPolicy says when and how a request to a git host that met a
// transient fault is sent again. It is one policy for every adapter, in
// the transport of the clients ClientFor returns:
//
//   - A read (GET or HEAD, or a request made with a context from
//     ReadOnly) is sent again when the connection was reset or closed
//     before any answer came, or before the end of the answer, and when
//     the host answered 429, 502, 503 or 504 (or, for ReadOnly requests,
//     an answer its busy function recognises). So that an answer cut
//     short can be asked again, a read's answer is read whole before it is
//     handed on, except on the last attempt.
//   - Any request whose connection could not be made at all (refused,
//     unreachable) is sent again, whatever its method: the host cannot
//     have seen it.
//   - Nothing else is: a write (POST, PUT, PATCH, DELETE) that reached
//     the host is never repeated, since the host may have acted on it;
//     the write-ahead audit and its reconciliation find out what happened.
//
// Waits grow exponentially with jitter; a Retry-After (or rate-limit
// reset) header is honoured when it asks for at most MaxWait. Each wait
// must end before the request's deadline (the caller's, or the client's
// timeout): otherwise, and once Attempts requests were sent, the last
// answer or error is returned as it is, so a rate limit still reaches the
// person with its Retry-After. A request body is sent again from GetBody;
// without GetBody a request is not retried.
type RetryPolicy struct {
	// Attempts bounds how many times one request is sent; <= 0 means
	// DefaultRetryAttempts, 1 disables retries.
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// next one; each wait is drawn between half and all of it. <= 0 means
	// DefaultRetryBackoff.
	Backoff time.Duration
	// MaxWait is the longest wait a host may ask for and be waited out;
	// <= 0 means DefaultMaxRetryWait.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends (then returning ctx's error); nil
	// means a timer. Tests make it record the wait and return at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives one debug line per retry (host, method, path,
	// attempt, wait and reason; never a header, a query or a body); nil
	// means slog.Default().
	Logger *slog.Logger
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryAttempts
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultRetryBackoff
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxRetryWait
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	return p
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the jittered wait before attempt n+1 (n >= 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.Backoff << min(n-1, 16)
	return d/2 + rand.N(d/2+1)
}

type readOnlyKey struct{}

// BusyFunc recognises, from its status and the start of its body, an
// answer by which a host says it is busy (throttling) in a way of its own.
type BusyFunc func(status int, body []byte) bool

// busyPeek is how much of an answer's body a BusyFunc sees.
const busyPeek = 8 << 10

// ReadOnly returns a context whose requests only read, so that the retry
// policy treats them as it treats GETs although they are POSTs: the read
// operations of AWS's JSON and Query APIs. busy, when not nil, recognises
// a host's own way of saying it is busy (AWS throttles with HTTP 400 and
// an error code in the body). Never use it for a request that changes
// anything.
func ReadOnly(ctx context.Context, busy BusyFunc) context.Context {
	if busy == nil {
		busy = func(int, []byte) bool { return false }
	}
	return context.WithValue(ctx, readOnlyKey{}, busy)
}

// retryTransport applies a RetryPolicy to the requests it carries.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, marked := req.Context().Value(readOnlyKey{}).(BusyFunc)
	read := marked || req.Method == http.MethodGet || req.Method == http.MethodHead
	resp, err := t.roundTrip(req, read)
	if read {
		return resp, err
	}
	return confirmed(req, resp, err)
}

func (t *retryTransport) roundTrip(req *http.Request, read bool) (*http.Response, error) {
	ctx := req.Context()
	busy, _ := ctx.Value(readOnlyKey{}).(BusyFunc)
	p := t.policy
	for attempt := 1; ; attempt++ {
		resp, err := t.base.RoundTrip(req)
		if attempt >= p.Attempts || ctx.Err() != nil {
			return resp, err
		}
		why, wait, again := p.judge(read, busy, resp, err, attempt)
		if !again {
			return resp, err
		}
		next, ok := resend(req)
		if !ok {
			return resp, err
		}
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(deadline) {
			return resp, err
		}
		discard(resp)
		p.Logger.DebugContext(ctx, "retrying a request to a git host",
			"host", req.URL.Host, "method", req.Method, "path", req.URL.Path,
			"attempt", attempt+1, "attempts", p.Attempts, "wait", wait, "reason", why)
		if err := p.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		req = next
	}
}

// judge decides whether an attempt's outcome is worth another, why (for
// the log) and after how long. It may read resp's body (a read's answer,
// whole, to find it cut short; the start of an error, for busy), and then
// puts what it read back: the caller reads the same bytes and meets the
// same error, if any, at the same place.
func (p RetryPolicy) judge(read bool, busy BusyFunc, resp *http.Response, err error, attempt int) (why string, wait time.Duration, again bool) {
	if err != nil {
		switch {
		case unsent(err):
			return "the connection could not be made", p.backoff(attempt), true
		case read && dropped(err):
			return "the connection closed before an answer", p.backoff(attempt), true
		}
		return "", 0, false
	}
	if !read {
		return "", 0, false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		why = fmt.Sprintf("HTTP %d", resp.StatusCode)
	default:
		if busy != nil && resp.StatusCode >= 400 && peekBusy(resp, busy) {
			why = fmt.Sprintf("HTTP %d, throttled", resp.StatusCode)
			break
		}
		if cutShort(resp) {
			return "the connection closed during the answer", p.backoff(attempt), true
		}
		return "", 0, false
	}
	d, asked := RetryAfter(resp.Header, time.Now())
	switch {
	case !asked:
		return why, p.backoff(attempt), true
	case d > p.MaxWait:
		return "", 0, false // the person hears how long to wait
	}
	return why + ", Retry-After", d, true
}

// peekBusy shows busy the start of resp's body, which it puts back.
func peekBusy(resp *http.Response, busy BusyFunc) bool {
	if resp.Body == nil {
		return busy(resp.StatusCode, nil)
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, busyPeek))
	resp.Body = &rejoined{Reader: io.MultiReader(bytes.NewReader(head), errReader{err}, resp.Body), Closer: resp.Body}
	return err == nil && busy(resp.StatusCode, head)
}

type rejoined struct {
	io.Reader
	io.Closer
}

// errReader replays a read error of the peek in its place in the body.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// cutShort reads resp's body whole, and puts it back: true when the
// connection broke before its end (a reset, a closed connection, fewer
// bytes than announced). Another failure (the cap, a timeout) stays in
// the body, where the caller meets it as it would have.
func cutShort(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body = &rejoined{Reader: io.MultiReader(bytes.NewReader(body), errReader{err}), Closer: resp.Body}
	return err != nil && dropped(err)
}

// resend is the request to send next: req with a fresh body.
func resend(req *http.Request) (*http.Request, bool) {
	next := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return next, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	next.Body = body
	return next, true
}

// discard closes an answer that will not be used, after reading a little
// of it so that the connection can serve the next attempt.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}

// unsent is true for an error that says the connection to the host was
// never made, so no request reached it. A refusal by the egress policy,
// a name that does not resolve and a timeout are not transient.
func unsent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !op.Timeout() &&
		!errors.As(err, new(*NotAllowedError)) && !errors.As(err, new(*net.DNSError))
}

// dropped is true for an error that says the connection ended before an
// answer began: reset, closed (a keep-alive connection the server or a
// proxy closed), or cut short.
func dropped(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		// net/http's own words for a keep-alive connection the server
		// closed; the error has no exported identity.
		strings.Contains(err.Error(), "server closed idle connection")
}

// UnconfirmedError is the error of a write whose answer was lost after
// the request was sent: the connection closed or was reset before the
// answer began or before its end. The host may have acted, so the write's
// outcome is unknown (relay.ErrOutcomeUnknown is in its chain);
// TransportError words it for the person.
type UnconfirmedError struct {
	Method string
	// Status is the answer's status when its headers arrived, else 0.
	Status int
	Err    error
}

func (e *UnconfirmedError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s answered HTTP %d, then the connection closed before the answer's end: %v", e.Method, e.Status, e.Err)
	}
	return fmt.Sprintf("%s sent, then the connection closed before an answer: %v", e.Method, e.Err)
}

func (e *UnconfirmedError) Unwrap() []error { return []error{relay.ErrOutcomeUnknown, e.Err} }

// confirmed returns a write's answer only once it is whole: its body is
// read here (answers to writes are small, and capped), so that an answer
// cut short, like a connection that closed before any answer, is an
// *UnconfirmedError rather than a truncated body the adapter would take
// for a malformed answer, or a refusal without its reason.
func confirmed(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		if dropped(err) && !unsent(err) {
			return nil, &UnconfirmedError{Method: req.Method, Err: err}
		}
		return resp, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	if rerr != nil && dropped(rerr) {
		_ = resp.Body.Close()
		return nil, &UnconfirmedError{Method: req.Method, Status: resp.StatusCode, Err: rerr}
	}
	resp.Body = &rejoined{Reader: io.MultiReader(bytes.NewReader(body), errReader{rerr}), Closer: resp.Body}
	return resp, nil
}
