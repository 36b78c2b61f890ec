package host

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds one request to a git host, from dialling to the
// end of the response body.
const DefaultTimeout = 20 * time.Second

// maxRedirects is how many same-origin redirects a request follows (GitHub
// answers 301 for renamed repositories).
const maxRedirects = 5

// ErrRedirectRefused is in the chain of a transport error when a host
// redirected a request to another origin: credentials are sent only to the
// host an integration names, so such redirects are not followed.
var ErrRedirectRefused = errors.New("redirect to another origin refused")

// NewHTTPClient returns the outbound client every adapter shares: bounded
// dial, TLS handshake and response-header waits, an overall per-request
// timeout, connection reuse across integrations of the same host, the
// environment's proxy settings (HTTPS_PROXY, NO_PROXY), and redirects
// followed only within the same origin, so that a redirecting host can
// never make gitrelay send a token elsewhere. timeout <= 0 means
// DefaultTimeout.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	connect := min(10*time.Second, timeout)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: SameOriginRedirects}
}

// SameOriginRedirects is an http.Client CheckRedirect policy: follow at most
// a few redirects, and only to the origin (scheme and host) of the first
// request. Adapters that build their own client should use it.
func SameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s://%s redirected to %s://%s", ErrRedirectRefused, first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}
