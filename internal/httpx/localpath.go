package httpx

import (
	"net/url"
	"strings"
)

// LocalPath returns s when it is a path on this site, and "" otherwise, so
// that return_to and next parameters cannot send users elsewhere. Refused
// anywhere in s: a backslash (browsers read it as "/", and http.Redirect
// cleans /a/../\host into /\host, a link to another site) and control
// characters (browsers drop a tab, so /<tab>/host is //host).
func LocalPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") ||
		strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return s
}
