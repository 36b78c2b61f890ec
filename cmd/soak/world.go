package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// database creates a fresh database next to the one adminURL names; drop
// removes it.
func database(ctx context.Context, adminURL string) (dbURL string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to PostgreSQL (-database-url): %w", err)
	}
	defer conn.Close(ctx)
	name := "soak_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// terminateBackends ends every PostgreSQL connection to the soak's
// database, as a failover or an administrator does.
func terminateBackends(ctx context.Context, adminURL, dbURL string) (int, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0, err
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()) t`, u.Path[1:]).Scan(&n)
	return n, err
}

// replica is one `gitrelay serve` process.
type replica struct {
	index int
	cmd   *exec.Cmd
	url   string
	log   *os.File
	done  chan struct{} // closed when the process has exited
	err   error         // how it exited, once done is closed
}

var listening = regexp.MustCompile(`gitrelay listening on (http://\S+)`)

// startReplica starts `gitrelay serve` on a free loopback port and waits
// until it listens.
func startReplica(ctx context.Context, bin string, env []string, index int, logDir string, start int) (*replica, error) {
	logFile, err := os.OpenFile(filepath.Join(logDir, fmt.Sprintf("replica-%d.log", index)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "--- start %d\n", start)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(logFile, pw)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	r := &replica{index: index, cmd: cmd, log: logFile, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		r.err = cmd.Wait()
		pw.Close()
		close(r.done)
	}()
	select {
	case r.url = <-found:
		return r, nil
	case <-r.done:
		logFile.Close()
		return nil, fmt.Errorf("replica %d exited at start (%v); its log is in %s", index, r.err, logDir)
	case <-time.After(60 * time.Second):
		r.kill()
		return nil, fmt.Errorf("replica %d did not start in 60s; its log is in %s", index, logDir)
	case <-ctx.Done():
		r.kill()
		return nil, ctx.Err()
	}
}

// kill ends the process at once (SIGKILL): requests in flight are lost.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
	r.log.Close()
}

// running is true until the process has exited.
func (r *replica) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// stop asks the process to finish (SIGTERM) and waits for it.
func (r *replica) stop() error {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		r.log.Close()
		return r.err
	case <-time.After(30 * time.Second):
		r.kill()
		return fmt.Errorf("replica %d did not stop in 30s after SIGTERM", r.index)
	}
}

// gitrelayCLI runs a gitrelay command to completion.
func gitrelayCLI(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitrelay %v: %w: %s", args, err, errb.String())
	}
	return out.String(), nil
}

// proxy is a small round-robin reverse proxy, as a load balancer in front
// of the replicas. A backend taken out (killed) gets no new requests; a
// request whose backend refuses the connection goes to the next one (it
// never reached gitrelay). Any other transport failure is answered 502
// with X-Soak-Proxy saying whether the backend was killed during the
// request.
type proxy struct {
	backends []*backend
	next     atomic.Uint64
	client   *http.Client
}

type backend struct {
	mu  sync.Mutex
	url string
	up  bool
	gen int // incremented when the backend is killed
}

func (b *backend) state() (string, bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.url, b.up, b.gen
}

// takeDown marks the backend killed: no new requests, and requests in
// flight to it may fail.
func (b *backend) takeDown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.up = false
	b.gen++
}

func (b *backend) bringUp(u string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.url, b.up = u, true
}

const (
	proxyHeader     = "X-Soak-Proxy"
	proxyLostKilled = "lost-with-killed-replica"
	proxyLostLive   = "failed-on-live-replica"
)

func newProxy(n int) *proxy {
	p := &proxy{client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, IdleConnTimeout: 30 * time.Second,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for range n {
		p.backends = append(p.backends, &backend{})
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the request", http.StatusBadRequest)
		return
	}
	for range 2 * len(p.backends) {
		b := p.backends[p.next.Add(1)%uint64(len(p.backends))]
		base, up, gen := b.state()
		if !up {
			continue
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		req.Header.Set("X-Forwarded-For", host)
		resp, err := p.client.Do(req)
		var answer []byte
		if err == nil {
			// Read whole before answering, so that an answer cut off by a
			// killed replica is a 502 here rather than a short body.
			answer, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			var op *net.OpError
			if resp == nil && errors.As(err, &op) && op.Op == "dial" {
				continue // never reached gitrelay: the next backend
			}
			_, _, now := b.state()
			lost := proxyLostLive
			if now != gen {
				lost = proxyLostKilled
			}
			w.Header().Set(proxyHeader, lost)
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
		return
	}
	w.Header().Set(proxyHeader, proxyLostLive)
	http.Error(w, "proxy: no backend answered", http.StatusBadGateway)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
