package host

import "strings"

// TrimAPIPath removes from a base URL's path every trailing API root an
// administrator pasted along with the server's address (such as "/api/v4"
// or "/api/v4/" twice), case-insensitively, and trailing slashes. It strips
// until none is left, so that a normalised address normalises to itself.
func TrimAPIPath(p string, suffixes ...string) string {
	for {
		p = strings.TrimRight(p, "/")
		cut := false
		for _, s := range suffixes {
			if len(p) >= len(s) && strings.EqualFold(p[len(p)-len(s):], s) {
				p, cut = p[:len(p)-len(s)], true
			}
		}
		if !cut {
			return p
		}
	}
}
