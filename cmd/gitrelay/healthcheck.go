package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
)

// cmdHealthcheck asks the server on this machine whether it is ready
// (GET /readyz) and fails unless it answers 200. It is the container
// image's HEALTHCHECK: the image has no shell, curl or wget, and the
// command reads the same --addr / GITRELAY_ADDR the server listens on.
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr, getenv)
	addr := fs.String("addr", "127.0.0.1:8080", "address gitrelay serve listens on")
	fs.fromEnv("addr", "GITRELAY_ADDR")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("healthcheck takes no arguments")
	}
	target, err := localTarget(*addr)
	if err != nil {
		return usagef("%s: %v", fs.flagOrEnv("addr"), err)
	}
	h, _, _ := net.SplitHostPort(target)
	// The one outbound client, allowed to reach the local server, directly:
	// an HTTP_PROXY meant for git hosts must not answer for this server.
	allow, err := host.ParseAllowlist(h)
	if err != nil {
		return err
	}
	direct := func(*http.Request) (*url.URL, error) { return nil, nil }
	client := host.NewHTTPClient(host.ClientConfig{Timeout: *timeout, Egress: host.Egress{Allow: allow, Proxy: direct}})
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("gitrelay at %s does not answer: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gitrelay at %s is not ready: /readyz answered %s", target, resp.Status)
	}
	fmt.Fprintf(stdout, "gitrelay at %s is ready\n", target)
	return nil
}

// localTarget turns a listening address into one to connect to: a
// wildcard host (0.0.0.0, ::, none) means this machine's loopback.
func localTarget(addr string) (string, error) {
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	switch h {
	case "", "0.0.0.0":
		h = "127.0.0.1"
	case "::":
		h = "::1"
	}
	return net.JoinHostPort(h, port), nil
}
