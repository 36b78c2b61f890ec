package hostsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// frontEnd is one host's wire format over the Sim's state.
type frontEnd interface {
	// route names the operation a request asks for (ok false: no route).
	route(r *http.Request) (Op, bool)
	// token extracts the credential the request presents ("" for none).
	token(r *http.Request) string
	// fault answers as the host does for an injected fault.
	fault(w http.ResponseWriter, r *http.Request, f Fault)
	// describe names the repository (full name) and branch a write
	// request concerns, from its path and body, for the write log.
	describe(r *http.Request, body []byte) (repo, ref string)
	// serve handles the request.
	serve(w http.ResponseWriter, r *http.Request)
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handler wraps a front-end with what every host shares: latency, faults,
// and the write log.
func (s *Sim) handler(fe frontEnd) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s.mu.Lock()
		latency := s.latency
		s.requests++
		s.mu.Unlock()
		op, _ := fe.route(r)
		sw := &statusWriter{ResponseWriter: w}
		if isWrite(r.Method) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			token := fe.token(r)
			repo, ref := fe.describe(r, body)
			defer func() {
				s.record(Write{
					At: s.now(), Op: op, Method: r.Method, Path: r.URL.Path,
					Repo: repo, Ref: ref,
					Login: s.loginOf(token), Token: Fingerprint(token),
					Status: sw.status,
				})
			}()
		}
		if !s.wait(ctx, latency) {
			return
		}
		if f, ok := s.takeFault(op, r.Method, r.URL.Path); ok {
			if !s.wait(ctx, f.Delay) {
				return
			}
			if f.Drop {
				// The server closes the connection, unanswered.
				panic(http.ErrAbortHandler)
			}
			if f.Cut {
				cut(fe, sw, r)
			}
			if f.Hang {
				select {
				case <-ctx.Done():
				case <-s.done: // released by Close: answer as an overloaded host
					fe.fault(sw, r, Fault{Status: http.StatusServiceUnavailable})
				}
				return
			}
			if f.Status != 0 || f.RetryAfter > 0 {
				fe.fault(sw, r, f)
				return
			}
		}
		s.serveConditional(fe, sw, r, op)
	})
}

// wait sleeps for d, or less once the Sim is closed; it is false when the
// request went away meanwhile.
func (s *Sim) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return true
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// frontMux serves every front-end from one handler, by path prefix.
type frontMux struct {
	github, enterprise http.Handler
}

func (m *frontMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v3" || strings.HasPrefix(r.URL.Path, "/api/v3/") {
		m.enterprise.ServeHTTP(w, r)
		return
	}
	m.github.ServeHTTP(w, r)
}

func (s *Sim) frontEnds() *frontMux {
	s.feOnce.Do(func() {
		s.fronts = &frontMux{
			github:     s.handler(newGitHub(s, "")),
			enterprise: s.handler(newGitHub(s, "/api/v3")),
		}
	})
	return s.fronts
}

// GitHub serves the GitHub.com REST API at "/" (as api.github.com does),
// plus the token-creation page at /settings/tokens/new.
func (s *Sim) GitHub() http.Handler { return s.frontEnds().github }

// GitHubEnterprise serves the GitHub Enterprise Server REST API under
// /api/v3/, with web pages at the root, as a GHES host does.
func (s *Sim) GitHubEnterprise() http.Handler { return s.frontEnds().enterprise }

// Handler serves every front-end: GitHub Enterprise under /api/v3/, GitHub
// at "/".
func (s *Sim) Handler() http.Handler { return s.frontEnds() }

// Transport returns a RoundTripper serving requests from Handler in
// process, without sockets, for benchmarks. Requests to any host reach the
// simulator; a request whose context ends while the simulator holds it (a
// Hang fault) fails with the context's error, as a real transport would.
func (s *Sim) Transport() http.RoundTripper { return transport{s.Handler()} }

type transport struct{ h http.Handler }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	r := req.Clone(ctx)
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RequestURI = req.URL.RequestURI()
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.RemoteAddr = "192.0.2.1:40000"
	rec := httptest.NewRecorder()
	dropped := serve(t.h, rec, r)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if dropped {
		return nil, io.ErrUnexpectedEOF
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// cut serves r, sends the headers and half the body of the answer, and
// closes the connection (a Cut fault).
func cut(fe frontEnd, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	fe.serve(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// serve runs h and tells whether it dropped the request (a Drop or Cut
// fault).
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (dropped bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			dropped = true
		}
	}()
	h.ServeHTTP(w, r)
	return false
}

// opMux is the router the REST front-ends share: a ServeMux that also
// knows which operation each route pattern serves, for faults and the
// write log. Front-ends embed it to get route and serve.
type opMux struct {
	mux *http.ServeMux
	ops map[string]Op // route pattern → operation
}

func newOpMux() opMux { return opMux{mux: http.NewServeMux(), ops: map[string]Op{}} }

// handle routes pattern to h, as operation op.
func (m opMux) handle(pattern string, op Op, h http.HandlerFunc) {
	m.ops[pattern] = op
	m.mux.HandleFunc(pattern, h)
}

func (m opMux) route(r *http.Request) (Op, bool) {
	_, pattern := m.mux.Handler(r)
	op, ok := m.ops[pattern]
	return op, ok
}

func (m opMux) serve(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// authorizationToken reads a token from "Authorization: Bearer T", "token
// T", or Basic with the token as the password, as GitHub and Gitea accept.
func authorizationToken(r *http.Request) string {
	scheme, value, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return value
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return ""
		}
		_, password, _ := strings.Cut(string(raw), ":")
		return password
	}
	return ""
}
