package jira

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
)

// FuzzSafeReturnTo checks return_to of Sign in with Atlassian: whatever a
// link carries, the redirect after sign-in stays on gitrelay, however a
// browser reads the Location header (tabs and line breaks dropped,
// backslashes read as slashes).
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{
		"/", "/issues/ABC-1?summary=x", "//evil.example", "/\\evil.example", "/a/../\\evil.example",
		"/\t/evil.example", "/\x0b/evil.example", "https://evil.example", "", "/x\r\nSet-Cookie: a=b", "/%5Cevil.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeReturnTo(s)
		if got != "/" && got != s {
			t.Fatalf("safeReturnTo(%q) = %q: it keeps a path or falls back to /, never rewrites", s, got)
		}
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest("GET", "/auth/atlassian/callback?code=x", nil), got, http.StatusFound)
		loc := w.Header().Get("Location")
		seen := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(strings.TrimLeft(loc, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
		if !strings.HasPrefix(seen, "/") || strings.HasPrefix(seen, "//") {
			t.Fatalf("return_to %q redirects to %q, which a browser reads as %q: another site", s, loc, seen)
		}
		_, href := (&SignIn{}).SignInLink(s)
		u, err := url.Parse(href)
		if err != nil || u.Host != "" || u.Path != "/auth/atlassian/start" || u.Query().Get("return_to") != got {
			t.Fatalf("SignInLink(%q) = %q", s, href)
		}
	})
}

// FuzzRetryAfter checks how long gitrelay waits when Jira says so: never a
// negative or endless wait, whatever the header.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "120", "0", "-1", " 7 ", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
		"9223372037", "99999999999999999999", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := retryAfter(v)
		if d != 0 && (d < time.Second || d > host.MaxRetryAfter) {
			t.Fatalf("retryAfter(%q) = %v, outside [1s, %v]", v, d, host.MaxRetryAfter)
		}
	})
}
