package host_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
)

// A fault a flaky server answers one request with.
const (
	drop      = "drop"      // read the request, close the connection without answering
	reset     = "reset"     // read the request, reset the connection
	cut       = "cut"       // answer 200, close the connection halfway through the body
	throttled = "throttled" // 400 with an AWS-style throttling error
	refused   = "refused"   // 400 with another error
)

// flaky is a keep-alive HTTP/1.1 server that answers its requests with
// a script of faults, then "ok"; it records each request it read.
type flaky struct {
	srv *httptest.Server

	mu     sync.Mutex
	script []string
	seen   []string // method and body of each request
}

func newFlaky(t *testing.T, script ...string) *flaky {
	f := &flaky{script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flaky) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+string(body))
	next := ""
	if len(f.script) > 0 {
		next, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	switch next {
	case "":
		_, _ = io.WriteString(w, "ok")
	case drop:
		panic(http.ErrAbortHandler) // the server closes the connection, unanswered
	case reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_ = conn.(*net.TCPConn).SetLinger(0)
		_ = conn.Close()
	case cut:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\":")
		_ = conn.Close()
	case throttled:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	case refused:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ValidationException","message":"no"}`)
	default: // "503", or "429 1" for a status and a Retry-After
		status, after, _ := strings.Cut(next, " ")
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		code := map[string]int{"429": 429, "500": 500, "502": 502, "503": 503, "504": 504}[status]
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "busy")
	}
}

func (f *flaky) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// waits records the retry policy's waits instead of sleeping them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// retrying is an adapter's client (ClientFor) to the loopback interface,
// with instant waits and a debug log.
func retrying(t *testing.T, timeout time.Duration) (*http.Client, *waits, *bytes.Buffer) {
	w := &waits{}
	logs := &bytes.Buffer{}
	hc := host.NewHTTPClient(host.ClientConfig{
		Timeout: timeout,
		Egress:  host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: w.sleep, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
	})
	return host.ClientFor(hc, nil), w, logs
}

func send(t *testing.T, hc *http.Client, ctx context.Context, method, url, body string) (status int, answer string, err error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestReadsAreSentAgainAfterTransientFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault string
		wait  time.Duration // 0: a backoff between 50 and 100ms
	}{
		{"the connection closed before an answer", drop, 0},
		{"the connection was reset", reset, 0},
		{"the connection closed halfway through the answer", cut, 0},
		{"502 bad gateway", "502", 0},
		{"503 unavailable", "503", 0},
		{"504 gateway timeout", "504", 0},
		{"429 with Retry-After waits as asked", "429 1", time.Second},
		{"503 with Retry-After waits as asked", "503 2", 2 * time.Second},
		{"429 without Retry-After backs off", "429", 0},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			if tt.fault == cut && method == http.MethodHead {
				continue // a HEAD answer has no body to cut
			}
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				f := newFlaky(t, tt.fault)
				hc, w, _ := retrying(t, 5*time.Second)
				status, answer, err := send(t, hc, t.Context(), method, f.srv.URL, "")
				if err != nil || status != http.StatusOK || (method == http.MethodGet && answer != "ok") {
					t.Fatalf("%s after %s = %d %q, %v; want 200 ok", method, tt.fault, status, answer, err)
				}
				if n := len(f.requests()); n != 2 {
					t.Errorf("the server read %d requests, want 2", n)
				}
				got := w.all()
				switch {
				case len(got) != 1:
					t.Errorf("waits = %v, want one", got)
				case tt.wait != 0 && got[0] != tt.wait:
					t.Errorf("waited %v, want %v (Retry-After)", got[0], tt.wait)
				case tt.wait == 0 && (got[0] < host.DefaultRetryBackoff/2 || got[0] > host.DefaultRetryBackoff):
					t.Errorf("waited %v, want a backoff within [%v, %v]", got[0], host.DefaultRetryBackoff/2, host.DefaultRetryBackoff)
				}
			})
		}
	}
}

func TestWritesAreSentOnce(t *testing.T) {
	for _, fault := range []string{drop, reset, cut, "502", "503", "504", "429 1"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			t.Run(fault+"/"+method, func(t *testing.T) {
				f := newFlaky(t, fault)
				hc, w, _ := retrying(t, 5*time.Second)
				status, _, err := send(t, hc, t.Context(), method, f.srv.URL, `{"ref":"refs/heads/ABC-1"}`)
				if err == nil && status == http.StatusOK {
					t.Fatalf("%s after %s succeeded: it was sent again", method, fault)
				}
				if got := f.requests(); len(got) != 1 {
					t.Errorf("the server read %q, want one request", got)
				}
				if got := w.all(); len(got) != 0 {
					t.Errorf("waits = %v, want none", got)
				}
			})
		}
	}
}

func TestReadOnlyRequestsAreSentAgainWithTheirBody(t *testing.T) {
	busy := func(status int, body []byte) bool {
		return status == http.StatusBadRequest && bytes.Contains(body, []byte("ThrottlingException"))
	}
	const payload = `{"repositoryName":"widgets"}`
	for _, fault := range []string{drop, "503", "429 1", throttled} {
		t.Run(fault, func(t *testing.T) {
			f := newFlaky(t, fault)
			hc, _, _ := retrying(t, 5*time.Second)
			status, answer, err := send(t, hc, host.ReadOnly(t.Context(), busy), http.MethodPost, f.srv.URL, payload)
			if err != nil || status != http.StatusOK || answer != "ok" {
				t.Fatalf("POST (read only) after %s = %d %q, %v; want 200 ok", fault, status, answer, err)
			}
			want := "POST " + payload
			if got := f.requests(); len(got) != 2 || got[0] != want || got[1] != want {
				t.Errorf("the server read %q, want the same request twice", got)
			}
		})
	}

	t.Run("another refusal is passed on whole", func(t *testing.T) {
		f := newFlaky(t, refused)
		hc, _, _ := retrying(t, 5*time.Second)
		status, answer, err := send(t, hc, host.ReadOnly(t.Context(), busy), http.MethodPost, f.srv.URL, payload)
		if err != nil || status != http.StatusBadRequest || !strings.Contains(answer, "ValidationException") {
			t.Fatalf("got %d %q, %v; want the 400 and its body", status, answer, err)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("the server read %d requests, want 1", n)
		}
	})

	t.Run("without ReadOnly a POST is sent once", func(t *testing.T) {
		f := newFlaky(t, throttled)
		hc, _, _ := retrying(t, 5*time.Second)
		status, _, _ := send(t, hc, t.Context(), http.MethodPost, f.srv.URL, payload)
		if n := len(f.requests()); status != http.StatusBadRequest || n != 1 {
			t.Errorf("got %d after %d requests, want the 400 after 1", status, n)
		}
	})

	t.Run("a body that cannot be sent again is not", func(t *testing.T) {
		f := newFlaky(t, "503")
		hc, _, _ := retrying(t, 5*time.Second)
		req, _ := http.NewRequestWithContext(host.ReadOnly(t.Context(), nil), http.MethodPost, f.srv.URL, io.NopCloser(strings.NewReader(payload)))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n := len(f.requests()); resp.StatusCode != http.StatusServiceUnavailable || n != 1 {
			t.Errorf("got %d after %d requests, want the 503 after 1", resp.StatusCode, n)
		}
	})
}

func TestRetriesAreBounded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script []string
		status int  // 0: no answer
		fails  bool // the request or the reading of its answer fails
	}{
		{"a host answering 503 every time", []string{"503", "503", "503", "503"}, http.StatusServiceUnavailable, false},
		{"a host rate limiting every time", []string{"429 1", "429 1", "429 1", "429 1"}, http.StatusTooManyRequests, false},
		{"a connection closing every time", []string{drop, drop, drop, drop}, 0, true},
		{"an answer cut short every time", []string{cut, cut, cut, cut}, http.StatusOK, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, tt.script...)
			hc, w, _ := retrying(t, 5*time.Second)
			status, _, err := send(t, hc, t.Context(), http.MethodGet, f.srv.URL, "")
			if status != tt.status || tt.fails != (err != nil) {
				t.Errorf("got %d, %v; want %d, failing %v", status, err, tt.status, tt.fails)
			}
			if n := len(f.requests()); n != host.DefaultRetryAttempts {
				t.Errorf("the server read %d requests, want %d", n, host.DefaultRetryAttempts)
			}
			if n := len(w.all()); n != host.DefaultRetryAttempts-1 {
				t.Errorf("waited %d times, want %d", n, host.DefaultRetryAttempts-1)
			}
		})
	}
}

func TestLongWaitsAreLeftToThePerson(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fault   string
		timeout time.Duration
	}{
		{"Retry-After beyond the longest wait", "429 42", 5 * time.Minute},
		{"Retry-After beyond the deadline", "429 2", 1500 * time.Millisecond},
		{"a rate-limit reset an hour away", "429 3600", 5 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFlaky(t, tt.fault)
			hc, w, _ := retrying(t, tt.timeout)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			_, after, _ := strings.Cut(tt.fault, " ")
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != after {
				t.Errorf("got %d Retry-After %q, want the 429 with its Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if n, waited := len(f.requests()), w.all(); n != 1 || len(waited) != 0 {
				t.Errorf("%d requests, waits %v; want 1 and none", n, waited)
			}
		})
	}
}

func TestUnsentRequestsAreSentAgainWhateverTheMethod(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connections are refused
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		hc, w, _ := retrying(t, 5*time.Second)
		_, _, err := send(t, hc, t.Context(), method, "http://"+addr+"/", "x")
		if err == nil {
			t.Fatalf("%s to a closed port succeeded", method)
		}
		if n := len(w.all()); n != host.DefaultRetryAttempts-1 {
			t.Errorf("%s: waited %d times, want %d", method, n, host.DefaultRetryAttempts-1)
		}
	}

	t.Run("an address the egress policy refuses is not tried again", func(t *testing.T) {
		w := &waits{}
		hc := host.ClientFor(host.NewHTTPClient(host.ClientConfig{Retries: host.RetryPolicy{Sleep: w.sleep}}), nil)
		_, _, err := send(t, hc, t.Context(), http.MethodGet, "http://"+addr+"/", "")
		if !errors.As(err, new(*host.NotAllowedError)) {
			t.Fatalf("err = %v, want a NotAllowedError", err)
		}
		if n := len(w.all()); n != 0 {
			t.Errorf("waited %d times, want none", n)
		}
	})
}

func TestRetriedAnswersStayCapped(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(bytes.Repeat([]byte("x"), 2048))
	}))
	defer srv.Close()
	w := &waits{}
	hc := host.ClientFor(host.NewHTTPClient(host.ClientConfig{
		MaxBody: 1024,
		Egress:  host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)},
		Retries: host.RetryPolicy{Sleep: w.sleep},
	}), nil)
	_, _, err := send(t, hc, t.Context(), http.MethodGet, srv.URL, "")
	if !errors.As(err, new(*host.BodyTooLargeError)) || n.Load() != 2 {
		t.Errorf("after %d requests err = %v, want the second answer refused as too large", n.Load(), err)
	}
}

func TestEachRetryIsLoggedWithoutSecrets(t *testing.T) {
	f := newFlaky(t, drop, "503")
	hc, _, logs := retrying(t, 5*time.Second)
	hc = host.ClientFor(hc, &host.Auth{Origin: f.srv.URL, Header: "Authorization", Value: host.NewSecret("Bearer canary-header")})
	status, _, err := send(t, hc, t.Context(), http.MethodGet, f.srv.URL+"/api/v4/projects?private_token=canary-query", "")
	if err != nil || status != http.StatusOK {
		t.Fatalf("got %d, %v", status, err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "closed before an answer") ||
		!strings.Contains(lines[1], "HTTP 503") || !strings.Contains(lines[0], "/api/v4/projects") {
		t.Errorf("logs = %q, want one debug line per retry with its reason and path", lines)
	}
	if strings.Contains(logs.String(), "canary") {
		t.Errorf("logs show a secret: %s", logs)
	}
}
