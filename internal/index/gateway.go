package index

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// gateway is how git reaches a host: never directly. Each git run is given
// http://127.0.0.1:PORT/RUN as the repository's address, where RUN is a
// random name valid for that run only; the gateway sends each request on
// to the repository's real address with gitrelay's one outbound client
// (egress policy checked on the resolved address at every connection,
// same-origin redirects only, the operator's proxy), adds the credential
// there, for the repository's origin only, and stops the run once it has
// received more than its byte budget. So the credential never reaches git
// at all — not its arguments, environment, configuration or memory — and
// git's HTTP obeys the same egress policy as every other request.
type gateway struct {
	client *http.Client
	ln     net.Listener
	srv    *http.Server

	mu   sync.Mutex
	runs map[string]*gatewayRun
}

// gatewayRun is one git run's way out.
type gatewayRun struct {
	remote relay.GitRemote
	mu     sync.Mutex
	left   int64 // bytes it may still receive
	err    error // why the gateway stopped it, if it did
	// refs and fetches count the requests sent on (info/refs, and
	// git-upload-pack).
	refs, packs int
}

func newGateway(client *http.Client) (*gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &gateway{client: client, ln: ln, runs: map[string]*gatewayRun{}}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

func (g *gateway) Close() error { return g.srv.Close() }

// open makes a way out for one git run to remote, receiving at most
// maxBytes; close it when the run ends.
func (g *gateway) open(remote relay.GitRemote, maxBytes int64) (string, *gatewayRun, func()) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	r := &gatewayRun{remote: remote, left: maxBytes}
	g.mu.Lock()
	g.runs[name] = r
	g.mu.Unlock()
	return "http://" + g.ln.Addr().String() + "/" + name, r, func() {
		g.mu.Lock()
		delete(g.runs, name)
		g.mu.Unlock()
	}
}

// forwarded are the request headers git's smart HTTP protocol needs.
var forwarded = []string{"Content-Type", "Content-Encoding", "Accept", "Git-Protocol", "User-Agent"}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	g.mu.Lock()
	run := g.runs[name]
	g.mu.Unlock()
	if run == nil || (rest != "info/refs" && rest != "git-upload-pack") {
		// Unknown runs, and anything but reading (git-receive-pack), are
		// not served.
		http.NotFound(w, r)
		return
	}
	run.mu.Lock()
	left := run.left
	if rest == "info/refs" {
		run.refs++
	} else {
		run.packs++
	}
	run.mu.Unlock()
	target := strings.TrimRight(run.remote.URL, "/") + "/" + rest
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	ctx := host.WithBodyLimit(r.Context(), max(left, 1))
	out, err := http.NewRequestWithContext(ctx, r.Method, target, r.Body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out.ContentLength = r.ContentLength
	for _, h := range forwarded {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	out.Header.Set("Authorization", run.remote.Authorization.Token())
	resp, err := g.client.Do(out)
	if err != nil {
		run.fail(transportError(err))
		http.Error(w, "the host could not be reached", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Cache-Control", "Expires", "Pragma"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	n, err := io.Copy(w, resp.Body)
	run.mu.Lock()
	run.left -= n
	run.mu.Unlock()
	var tooLarge *host.BodyTooLargeError
	if errors.As(err, &tooLarge) {
		run.fail(relay.Errorf(relay.EHostError, "The repository is larger than gitrelay reads (--index-max-fetch, %s per read).", tooLarge.Error()))
		panic(http.ErrAbortHandler)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		panic(http.ErrAbortHandler)
	}
}

func (r *gatewayRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *gatewayRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
