package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/httpx"
)

// browserTarget is how a browser reads a Location header that starts with
// a slash, for the part that decides the origin: it drops tabs and line
// breaks anywhere and reads backslashes as slashes (WHATWG URL).
func browserTarget(loc string) string {
	loc = strings.Trim(loc, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	return loc
}

// checkStaysLocal fails unless a redirect to path keeps the browser on
// this site: the Location header is a path, never a scheme-relative or
// absolute URL, however the browser reads it.
func checkStaysLocal(t *testing.T, input, path string) {
	t.Helper()
	if path == "" {
		return
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasPrefix(path, "/\\") {
		t.Fatalf("%q gave %q, not a local path", input, path)
	}
	w := httptest.NewRecorder()
	redirect(w, httptest.NewRequest("POST", "/login", nil), path)
	loc := w.Header().Get("Location")
	if b := browserTarget(loc); !strings.HasPrefix(b, "/") || strings.HasPrefix(b, "//") {
		t.Fatalf("%q gave %q, whose redirect Location %q a browser reads as %q: another site", input, path, loc, b)
	}
}

// FuzzLocalPath checks the next and return_to parameters: whatever a link
// carries, signing in or saving a token redirects to a page of this site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"/", "/issues/ABC-1", "/issues/ABC-1?summary=Fix+it&type=Bug", "/settings/tokens#x",
		"//evil.example", "/\\evil.example", "/a/../\\evil.example", "/\t/evil.example", "/%2F%2Fevil.example",
		"https://evil.example", "javascript:alert(1)", "issues/ABC-1", "/issues/ABC-1/../../\\\\evil", " /x", "/x\r\nSet-Cookie: a=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := httpx.LocalPath(s)
		if p != "" && p != s {
			t.Fatalf("httpx.LocalPath(%q) = %q: it accepts or refuses, never rewrites", s, p)
		}
		checkStaysLocal(t, s, p)
		back, label := returnTo(s)
		if back != "" && (!strings.HasPrefix(back, "/issues/") || back != p) {
			t.Fatalf("returnTo(%q) = %q, not an issue page that localPath accepts", s, back)
		}
		if (back == "") != (label == "") || len(label) > len(s)+len("issue ") {
			t.Fatalf("returnTo(%q) label %q", s, label)
		}
		if strings.ContainsAny(label, "?#/\\") {
			t.Fatalf("returnTo(%q) label %q holds more than the issue key", s, label)
		}
		checkStaysLocal(t, s, back)
	})
}
