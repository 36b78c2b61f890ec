package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// DefaultRetryAfter is assumed when a host says it is rate limiting without
// saying for how long.
const DefaultRetryAfter = time.Minute

// MaxRetryAfter caps the wait a host may ask for. No host's rate-limit
// window is longer than an hour; a longer value is a broken clock or proxy,
// and must not lock users out for days.
const MaxRetryAfter = time.Hour

// TransportError classifies a request that got no HTTP answer from the host
// named hostName ("GitHub", "GitLab at git.example.com"), after elapsed:
//   - a write whose answer was lost after it was sent (*UnconfirmedError)
//     → relay.EHostError, with relay.ErrOutcomeUnknown in its chain;
//   - the caller's deadline or a network timeout → relay.EHostTimeout;
//   - an address the egress policy refuses → relay.EHostNotAllowed;
//   - an answer longer than the client's cap → relay.EHostError;
//   - anything else (DNS, refused connection, TLS, redirect to another
//     origin, cancellation) → relay.EHostError.
//
// A *relay.Error in err's chain is returned as it is. The cause is kept in
// Err; pass the result through Redact before returning it.
func TransportError(hostName string, err error, elapsed time.Duration) *relay.Error {
	if err == nil {
		return nil
	}
	if e, ok := relay.AsError(err); ok {
		return e
	}
	fail := func(code, format string, args ...any) *relay.Error {
		return &relay.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
	}
	var netErr net.Error
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badCert x509.CertificateInvalidError
	var badName x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var notAllowed *NotAllowedError
	var tooLarge *BodyTooLargeError
	var unconfirmed *UnconfirmedError
	switch {
	case errors.As(err, &unconfirmed):
		// The host may have acted: the write-ahead audit row stays
		// pending until reconciliation has asked the host.
		return fail(relay.EHostError, "%s did not confirm the change: the connection closed before its answer was complete, so it may or may not have been made. gitrelay checks with %s, and the issue shows the result within a few minutes; look there before trying again.", hostName, hostName)
	case errors.As(err, &notAllowed):
		return fail(relay.EHostNotAllowed, "gitrelay does not connect to %s: %s, which this server does not reach. Check the integration's address; if the server operator means gitrelay to reach it, they allow it with %s.",
			hostName, notAllowed.what(), EgressSetting)
	case errors.As(err, &tooLarge):
		return fail(relay.EHostError, "%s's answer exceeded %s, more than gitrelay reads from a host in one answer. An administrator should check the integration's base URL.", hostName, sizeText(tooLarge.Limit))
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fail(relay.EHostTimeout, "%s is not answering (timed out after %s); try again in a minute.", hostName, roundElapsed(elapsed))
	case errors.Is(err, context.Canceled):
		return fail(relay.EHostError, "The request to %s was cancelled before it answered; try again.", hostName)
	case errors.Is(err, ErrRedirectRefused):
		return fail(relay.EHostError, "%s redirected gitrelay to another address, which gitrelay does not follow so that the token is never sent elsewhere. An administrator should check the integration's base URL.", hostName)
	case errors.As(err, &dnsErr):
		return fail(relay.EHostError, "%s could not be reached: the host name %q does not resolve. An administrator should check the integration's base URL; if it is right, try again later.", hostName, dnsErr.Name)
	case errors.As(err, &unknownCA), errors.As(err, &badCert), errors.As(err, &badName), errors.As(err, &verifyErr):
		return fail(relay.EHostError, "%s could not be reached securely: its TLS certificate is not trusted by the gitrelay server. An administrator should fix the certificate or install its certificate authority on the server.", hostName)
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fail(relay.EHostError, "%s did not answer with TLS: the base URL may need http:// instead of https://, or the wrong port. An administrator should check the integration's base URL.", hostName)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(relay.EHostError, "%s refused the connection. Check that the host is up and that the integration's base URL is right, then try again.", hostName)
	default:
		return fail(relay.EHostError, "Could not reach %s; try again in a minute. If it keeps failing, an administrator should check the network between gitrelay and the host.", hostName)
	}
}

func roundElapsed(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

// StatusError maps the answers every host gives the same meaning to:
//   - 401 → relay.ECredentialRejected;
//   - 429 → relay.ERateLimited, RetryAfter from the headers;
//   - 5xx → relay.EHostError.
//
// It returns nil for any other status, which the adapter maps itself.
func StatusError(hostName string, status int, h http.Header, now time.Time) *relay.Error {
	switch {
	case status == http.StatusUnauthorized:
		return CredentialRejected(hostName, "")
	case status == http.StatusTooManyRequests:
		d, _ := RetryAfter(h, now)
		return RateLimited(hostName, d)
	case status >= 500:
		return &relay.Error{
			Code:    relay.EHostError,
			Message: fmt.Sprintf("%s had a problem answering (HTTP %d); try again in a minute. If it keeps failing, check the host's status page.", hostName, status),
		}
	}
	return nil
}

// CredentialRejected is the error for a credential the host refuses (401):
// expired, revoked or mistyped. hostSays is the host's own explanation, if
// any; it is quoted in the message.
func CredentialRejected(hostName, hostSays string) *relay.Error {
	said := ""
	if s := Quote(hostSays); s != "" {
		said = " (" + s + ")"
	}
	return &relay.Error{
		Code:    relay.ECredentialRejected,
		Message: fmt.Sprintf("%s rejected the token%s: it has expired, been revoked or was mistyped. Create a new token and save it.", hostName, said),
	}
}

// RateLimited is the error for a host that is rate limiting the credential.
// retryAfter <= 0 means DefaultRetryAfter.
func RateLimited(hostName string, retryAfter time.Duration) *relay.Error {
	if retryAfter <= 0 {
		retryAfter = DefaultRetryAfter
	}
	return &relay.Error{
		Code:       relay.ERateLimited,
		Message:    fmt.Sprintf("%s is limiting how many requests this token may make; try again %s.", hostName, waitPhrase(retryAfter)),
		RetryAfter: retryAfter,
	}
}

func waitPhrase(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "in a second"
	case d < 90*time.Second:
		return fmt.Sprintf("in %d seconds", int(math.Ceil(d.Seconds())))
	case d < 90*time.Minute:
		return fmt.Sprintf("in %d minutes", int(math.Ceil(d.Minutes())))
	default:
		return fmt.Sprintf("in about %d hours", int(math.Round(d.Hours())))
	}
}

// RetryAfter reads how long a host asks clients to wait: the Retry-After
// header (seconds or an HTTP date), else X-RateLimit-Reset or
// RateLimit-Reset (a Unix time; small values are taken as seconds from
// now). The result is at least one second and at most MaxRetryAfter. ok
// is false when no header says, in which case the duration is
// DefaultRetryAfter.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			return clampSeconds(s), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return atLeastSecond(t.Sub(now)), true
		}
	}
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		v := strings.TrimSpace(h.Get(k))
		s, err := strconv.ParseInt(v, 10, 64)
		if v == "" || err != nil {
			continue
		}
		if s < 1e9 { // delta seconds (IETF RateLimit fields), not a Unix time
			return clampSeconds(s), true
		}
		return atLeastSecond(time.Unix(s, 0).Sub(now)), true
	}
	return DefaultRetryAfter, false
}

// clampSeconds is a wait of s seconds in [1s, MaxRetryAfter], without
// overflowing time.Duration for absurd values.
func clampSeconds(s int64) time.Duration {
	return atLeastSecond(time.Duration(min(max(s, 0), int64(MaxRetryAfter/time.Second))) * time.Second)
}

func atLeastSecond(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return time.Second
	case d >= MaxRetryAfter:
		return MaxRetryAfter
	}
	return d.Truncate(time.Second) + ceilSecond(d%time.Second)
}

func ceilSecond(rest time.Duration) time.Duration {
	if rest > 0 {
		return time.Second
	}
	return 0
}

// MaxQuote is how many characters of a host's own explanation an error
// message quotes.
const MaxQuote = 300

// Quote prepares text a host sent for a user-facing sentence: control and
// invisible formatting characters removed, white space collapsed, cut to
// MaxQuote characters, quoted; "" when empty. Adapters quote only the
// error fields a host defines (GitHub's message, GitLab's message and
// error...), never a raw body, which could be anything a server sends.
func Quote(hostSays string) string {
	s := Sanitize(hostSays)
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

// Sanitize is Quote without the quotes.
func Sanitize(hostSays string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError, !unicode.IsPrint(r):
			// Nothing a person could read; escaped by Quote, each would
			// also take up to ten bytes.
			return -1
		}
		return r
	}, hostSays)
	s := strings.Join(strings.Fields(clean), " ")
	if r := []rune(s); len(r) > MaxQuote {
		s = string(r[:MaxQuote-1]) + "…"
	}
	return s
}

// Redact removes every secret from e's message and internal cause, and
// returns e. Adapters call it on each error they return, as a last guard:
// a host or a library could echo a credential back.
func Redact(e *relay.Error, secrets ...string) *relay.Error {
	if e == nil {
		return nil
	}
	e.Message = RedactString(e.Message, secrets...)
	e.Err = RedactError(e.Err, secrets...)
	for k, v := range e.Fields {
		e.Fields[k] = RedactString(v, secrets...)
	}
	e.URL = RedactString(e.URL, secrets...)
	return e
}

// RedactString replaces every non-empty secret in s with "[redacted]".
func RedactString(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// RedactError returns err unchanged when its text holds none of secrets, or
// else an error with the secrets replaced whose chain ends there (the
// original, which would print them, is dropped).
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := RedactString(msg, secrets...); clean != msg {
		if errors.Is(err, relay.ErrOutcomeUnknown) {
			// What the action path decides the audit by survives.
			return fmt.Errorf("%w: %s", relay.ErrOutcomeUnknown, clean)
		}
		return errors.New(clean)
	}
	return err
}
