package hosttest

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Exchange is one request a wire test expects and the answer replayed to
// it. Every field of the request is asserted: a zero field expects the
// zero request part (no query, no body), unless said otherwise.
type Exchange struct {
	Method string
	// Path is the escaped path, after the replay's Prefix.
	Path string
	// Query is the url.Values.Encode() form of the query; "" for none.
	Query string
	// ReqHeader are headers this request must carry, besides the replay's
	// RequireHeaders; "" means the header must be absent.
	ReqHeader map[string]string
	// Body is the JSON body the request must carry, compared structurally
	// and with the replay's JSONContentType; "" for no body.
	Body string
	// RawBody is the exact body of a request that carries no JSON (AWS STS
	// forms); it is compared byte for byte and replaces Body.
	RawBody string
	// SkipBody leaves the request body unchecked.
	SkipBody bool
	// Check, when set, makes further host-specific assertions on the
	// request (signatures, say).
	Check func(t testing.TB, r *http.Request, body []byte)

	// Status is the answer's status; default 200.
	Status int
	// Header are answer headers; "{server}" in a value is replaced by the
	// replay's URL.
	Header map[string]string
	// File is the answer body, read from the replay's testdata directory.
	File string
	// Reply is an inline answer body, used when File is empty.
	Reply string
}

// Option adjusts a Replay to the host it stands for.
type Option func(*config)

type config struct {
	prefix          string
	require         map[string]string
	jsonType        string
	generated       []string
	contentType     func(file string) string
	replyHeader     map[string]string
	dir             string
	unexpectedExtra func(r *http.Request) string
}

// Prefix is the path every exchange's Path is under, such as "/api/v4".
func Prefix(p string) Option { return func(c *config) { c.prefix = p } }

// RequireHeaders are headers every request must carry with exactly these
// values ("" means the header must be absent): the authorization form,
// User-Agent, Accept and the like.
func RequireHeaders(h map[string]string) Option {
	return func(c *config) {
		if c.require == nil {
			c.require = map[string]string{}
		}
		maps.Copy(c.require, h)
	}
}

// JSONContentType is the Content-Type a request carrying a JSON Body must
// have; default application/json.
func JSONContentType(ct string) Option { return func(c *config) { c.jsonType = ct } }

// GeneratedFields are top-level body fields the client generates (AWS's
// clientRequestToken): when an exchange's Body does not name one, the
// request's must be a non-empty string if present, and is then left out of
// the comparison.
func GeneratedFields(names ...string) Option {
	return func(c *config) { c.generated = append(c.generated, names...) }
}

// ContentType gives the Content-Type of an answer read from file when its
// exchange's Header sets none; default application/json.
func ContentType(f func(file string) string) Option { return func(c *config) { c.contentType = f } }

// ReplyHeaders are set on every answer, before the exchange's own Header.
func ReplyHeaders(h map[string]string) Option {
	return func(c *config) {
		if c.replyHeader == nil {
			c.replyHeader = map[string]string{}
		}
		maps.Copy(c.replyHeader, h)
	}
}

// Testdata is the directory of answer files; default "testdata".
func Testdata(dir string) Option { return func(c *config) { c.dir = dir } }

// Describe adds to the report of an unexpected request what the host
// needs to tell it (AWS's X-Amz-Target).
func Describe(f func(r *http.Request) string) Option {
	return func(c *config) { c.unexpectedExtra = f }
}

// Server is a running replay.
type Server struct {
	// URL is the server's base URL, with no trailing slash.
	URL string

	t      testing.TB
	cfg    config
	srv    *httptest.Server
	mu     sync.Mutex
	script []Exchange
	next   int
}

// Options are the options of one host's replays:
//
//	var github = hosttest.Options{hosttest.RequireHeaders(...), ...}
//	rp := github.Replay(t, hosttest.Exchange{Method: "GET", Path: "/user", File: "user.json"})
type Options []Option

// Replay is Options.Replay with no options.
func Replay(t testing.TB, exchanges ...Exchange) *Server {
	t.Helper()
	return Options(nil).Replay(t, exchanges...)
}

// Replay starts a server that answers the exchanges in order, asserting
// each request against the next one, and fails t when a request comes
// that no exchange is left for or, when the test ends (t.Cleanup), when an
// exchange was not asked for.
func (opts Options) Replay(t testing.TB, exchanges ...Exchange) *Server {
	t.Helper()
	s := &Server{t: t, script: exchanges, cfg: config{jsonType: "application/json", dir: "testdata"}}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.next != len(s.script) {
			t.Errorf("only %d of %d expected requests were made", s.next, len(s.script))
		}
	})
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	t := s.t
	s.mu.Lock()
	if s.next >= len(s.script) {
		s.mu.Unlock()
		extra := ""
		if s.cfg.unexpectedExtra != nil {
			extra = " " + s.cfg.unexpectedExtra(r)
		}
		t.Errorf("unexpected request %s %s%s (a retry?)", r.Method, r.URL, extra)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	ex := s.script[s.next]
	s.next++
	s.mu.Unlock()

	body, _ := io.ReadAll(r.Body)
	s.check(r, body, ex)
	s.answer(w, ex)
}

func (s *Server) check(r *http.Request, body []byte, ex Exchange) {
	t := s.t
	call := r.Method + " " + r.URL.String()
	if want := s.cfg.prefix + ex.Path; r.Method != ex.Method || r.URL.EscapedPath() != want {
		t.Errorf("request %s, want %s %s", call, ex.Method, want)
	}
	if got := r.URL.Query().Encode(); got != ex.Query || (ex.Query == "" && r.URL.RawQuery != "") {
		t.Errorf("%s: query %q, want %q", call, r.URL.RawQuery, ex.Query)
	}
	for _, h := range []map[string]string{s.cfg.require, ex.ReqHeader} {
		for k, want := range h {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: header %s = %q, want %q", call, k, got, want)
			}
		}
	}
	switch {
	case ex.SkipBody:
	case ex.RawBody != "":
		if string(body) != ex.RawBody {
			t.Errorf("%s: body %q, want %q", call, body, ex.RawBody)
		}
	case ex.Body == "":
		if len(bytes.TrimSpace(body)) > 0 {
			t.Errorf("%s: unexpected body %s", call, body)
		}
	default:
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", call, body, err)
		}
		if err := json.Unmarshal([]byte(ex.Body), &want); err != nil {
			t.Errorf("bad expected body %q: %v", ex.Body, err)
		}
		s.dropGenerated(call, got, want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: body %s, want %s", call, body, ex.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != s.cfg.jsonType {
			t.Errorf("%s: Content-Type %q, want %s", call, ct, s.cfg.jsonType)
		}
	}
	if ex.Check != nil {
		ex.Check(t, r, body)
	}
}

// dropGenerated removes from got the generated fields want does not name,
// checking each is a non-empty string.
func (s *Server) dropGenerated(call string, got, want any) {
	g, ok := got.(map[string]any)
	if !ok {
		return
	}
	w, _ := want.(map[string]any)
	for _, name := range s.cfg.generated {
		if _, named := w[name]; named {
			continue
		}
		if v, ok := g[name]; ok {
			if str, _ := v.(string); str == "" {
				s.t.Errorf("%s: empty %s", call, name)
			}
			delete(g, name)
		}
	}
}

func (s *Server) answer(w http.ResponseWriter, ex Exchange) {
	for k, v := range s.cfg.replyHeader {
		w.Header().Set(k, v)
	}
	for k, v := range ex.Header {
		w.Header().Set(k, strings.ReplaceAll(v, "{server}", s.URL))
	}
	payload := []byte(ex.Reply)
	if ex.File != "" {
		var err error
		if payload, err = os.ReadFile(filepath.Join(s.cfg.dir, ex.File)); err != nil {
			s.t.Errorf("answer file: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if ex.File != "" || ex.Reply != "" {
		if w.Header().Get("Content-Type") == "" {
			ct := "application/json"
			if s.cfg.contentType != nil {
				ct = s.cfg.contentType(ex.File)
			}
			w.Header().Set("Content-Type", ct)
		}
	}
	status := ex.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}
