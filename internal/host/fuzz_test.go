package host_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzParseBaseURL checks that whatever an administrator types, a base URL
// is either refused with a base_url field error or normalised to an
// absolute http(s) address without credentials, query or fragment, which
// normalises to itself.
func FuzzParseBaseURL(f *testing.F) {
	for _, s := range []string{
		"https://git.example.com", "HTTPS://Git.Example.COM:8443/gitlab/", "http://10.0.0.1:3000",
		"https://user:pw@git.example.com", "https://git.example.com/?x=1", "https://git.example.com/#top",
		"https://git.example.com:0", "https://git.example.com:65536", "https://[::1]:443/a%2Fb/",
		"git.example.com", "//git.example.com", "ftp://git.example.com", "mailto:a@b", " https://a.b ",
		"https://a.b/%zz", "https://a.b?", "https://a.b/p%3Fq", "https://a%41.b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := host.ParseBaseURL(raw, "https://git.example.com")
		if err != nil {
			e, ok := relay.AsError(err)
			if !ok || e.Code != relay.EInvalid || e.Fields["base_url"] == "" {
				t.Fatalf("ParseBaseURL(%q) error %v is not an invalid base_url", raw, err)
			}
			if strings.Contains(e.Message, raw) && len(strings.TrimSpace(raw)) > 0 && strings.Contains(raw, "@") {
				t.Fatalf("ParseBaseURL(%q) quotes the input, which may hold a password: %s", raw, e.Message)
			}
			return
		}
		checkNormalURL(t, raw, u)
		s := u.String()
		again, err := host.ParseBaseURL(s, "https://git.example.com")
		if err != nil {
			t.Fatalf("ParseBaseURL(%q) = %q, which it then refuses: %v", raw, s, err)
		}
		if again.String() != s {
			t.Fatalf("ParseBaseURL is not idempotent: %q → %q → %q", raw, s, again.String())
		}
	})
}

// checkNormalURL asserts what every normalised base URL satisfies.
func checkNormalURL(t *testing.T, raw string, u *url.URL) {
	t.Helper()
	s := u.String()
	if u.Scheme != "http" && u.Scheme != "https" {
		t.Fatalf("%q: scheme %q", raw, u.Scheme)
	}
	if u.Host == "" || u.Host != strings.ToLower(u.Host) {
		t.Fatalf("%q: host %q is empty or not lower case", raw, u.Host)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		t.Fatalf("%q: normalised to %q, which keeps user info, a query or a fragment", raw, s)
	}
	if strings.HasSuffix(u.Path, "/") {
		t.Fatalf("%q: path %q ends with a slash", raw, u.Path)
	}
	if strings.ContainsAny(s, "#@") && !strings.Contains(u.EscapedPath(), "@") {
		t.Fatalf("%q: normalised to %q, which a browser would read as user info or a fragment", raw, s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			t.Fatalf("%q: port %q", raw, p)
		}
	}
	back, err := url.Parse(s)
	if err != nil || back.Host != u.Host || back.Scheme != u.Scheme || back.User != nil || back.RawQuery != "" || back.Fragment != "" {
		t.Fatalf("%q: normalised to %q, which parses as %#v, %v", raw, s, back, err)
	}
}

// FuzzRetryAfter checks that whatever a host sends in its rate-limit
// headers, the wait is between a second and an hour, and that a longer
// Retry-After in seconds never gives a shorter wait (no overflow).
func FuzzRetryAfter(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range [][3]string{
		{"30", "", ""}, {"0", "", ""}, {"-5", "", ""}, {"Wed, 21 Oct 2015 07:28:00 GMT", "", ""},
		{now.Add(90 * time.Second).UTC().Format(http.TimeFormat), "", ""}, {"", "1700000125", ""},
		{"", "", "7"}, {"soon", "99999999999999", "-1"}, {"9223372037", "", ""}, {"18446744073709551615", "", ""},
		{"", "9223372036854775807", ""}, {"Fri, 31 Dec 9999 23:59:59 GMT", "", ""},
	} {
		f.Add(tc[0], tc[1], tc[2])
	}
	f.Fuzz(func(t *testing.T, retryAfter, reset, ietfReset string) {
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After": retryAfter, "X-RateLimit-Reset": reset, "RateLimit-Reset": ietfReset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		d, ok := host.RetryAfter(h, now)
		if !ok && d != host.DefaultRetryAfter {
			t.Fatalf("no usable header, yet %v", d)
		}
		if d < time.Second || d > host.MaxRetryAfter {
			t.Fatalf("RetryAfter(%v) = %v, outside [1s, %v]", h, d, host.MaxRetryAfter)
		}
		if d%time.Second != 0 {
			t.Fatalf("RetryAfter(%v) = %v, not whole seconds", h, d)
		}
		if e := host.RateLimited("GitHub", d); e.RetryAfter != d || len(e.Message) > 200 {
			t.Fatalf("RateLimited(%v) = %+v", d, e)
		}
		// Monotonic in the number of seconds asked for.
		if s, err := strconv.ParseInt(strings.TrimSpace(retryAfter), 10, 64); err == nil && s < 1<<62 {
			longer, _ := host.RetryAfter(http.Header{"Retry-After": {strconv.FormatInt(s+1, 10)}}, now)
			if longer < d {
				t.Fatalf("Retry-After %d gives %v but %d gives %v", s, d, s+1, longer)
			}
		}
	})
}

// FuzzSafeLink checks the filter on links hosts answer with: it keeps a
// link as it is or drops it, and what it keeps is an absolute http(s)
// address a browser opens on the host named in it.
func FuzzSafeLink(f *testing.F) {
	for _, s := range []string{"https://github.com/acme/widgets/pull/7", "http://gitea.local:3000/a/b", "javascript:alert(1)",
		"JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.example/x", "/relative", "https:evil.example", "https://", "vbscript:x",
		" https://a.b", "https://a.b/\x00", "HTTPS://A.B/C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := host.SafeLink(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("SafeLink(%q) = %q: it keeps or drops, never rewrites", s, got)
		}
		u, err := url.Parse(got)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("SafeLink kept %q", s)
		}
		if lower := strings.ToLower(strings.TrimSpace(s)); !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			t.Fatalf("SafeLink kept %q, which does not start with http(s)://", s)
		}
	})
}
