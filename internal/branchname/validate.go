// Package branchname renders branch names from the administrator's
// template and checks names against git's ref rules. It does no I/O.
package branchname

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// Defaults of the app-wide settings.
const (
	DefaultTemplate  = "${issuekey}-${summary}"
	DefaultSeparator = "-"
	DefaultMaxLength = 250
)

// Validate checks that name can be created as refs/heads/<name> (the rules
// of git check-ref-format, and git branch's own: no leading "-", not
// "HEAD"), is at most maxLength characters (DefaultMaxLength when zero or
// less) and, when issueKey is not empty, contains the issue key, upper
// case, as a whole (ABC-12 is not in ABC-123). Errors are EInvalidBranchName
// with a message that names the rule broken.
func Validate(name, issueKey string, maxLength int) error {
	if maxLength <= 0 {
		maxLength = DefaultMaxLength
	}
	if problem := refProblem(name); problem != "" {
		return invalidName(problem)
	}
	if n := utf8.RuneCountInString(name); n > maxLength {
		return invalidName(fmt.Sprintf("The branch name is %d characters long; the maximum is %d.", n, maxLength))
	}
	if issueKey != "" {
		key := upperASCII(issueKey)
		if !containsKey(name, key) {
			return invalidName(fmt.Sprintf("The branch name must contain the issue key %s.", key))
		}
	}
	return nil
}

func invalidName(msg string) *relay.Error {
	return &relay.Error{Code: relay.EInvalidBranchName, Message: msg}
}

// refProblem says which ref rule name breaks, or "" when it breaks none.
func refProblem(name string) string {
	const cannot = "Branch names cannot "
	if name == "" {
		return cannot + "be empty."
	}
	if !utf8.ValidString(name) {
		return "Branch names must be valid UTF-8 text."
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return cannot + "contain control characters."
		case unicode.IsSpace(r):
			return cannot + "contain spaces."
		case unicode.Is(unicode.Cf, r):
			// Git allows them, but invisible characters (zero-width
			// spaces, bidirectional overrides) make names that look alike
			// and are not.
			return cannot + "contain invisible formatting characters."
		case strings.ContainsRune(`~^:?*[\`, r):
			return fmt.Sprintf(cannot+`contain "%c".`, r)
		}
	}
	switch {
	case strings.Contains(name, ".."):
		return cannot + `contain "..".`
	case strings.Contains(name, "@{"):
		return cannot + `contain "@{".`
	case strings.Contains(name, "//"):
		return cannot + `contain "//".`
	case strings.HasPrefix(name, "/"):
		return cannot + `start with "/".`
	case strings.HasSuffix(name, "/"):
		return cannot + `end with "/".`
	case strings.HasPrefix(name, "-"):
		return cannot + `start with "-".`
	case strings.HasPrefix(name, "."):
		return cannot + `start with ".".`
	case strings.HasSuffix(name, "."):
		return cannot + `end with ".".`
	case strings.HasSuffix(name, ".lock"):
		return cannot + `end with ".lock".`
	case name == "@":
		return cannot + `be "@".`
	case name == "HEAD":
		return cannot + `be "HEAD".`
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return `No part of a branch name between slashes can start with ".".`
		}
		if strings.HasSuffix(part, ".lock") {
			return `No part of a branch name between slashes can end with ".lock".`
		}
	}
	return ""
}

// NamesIssue reports whether name contains issueKey as a whole key, the
// rule Validate applies to new branches: MO-1 is not in DEMO-1-fix (project
// DEMO) nor in MO-12-fix (issue MO-12).
func NamesIssue(name, issueKey string) bool {
	return issueKey != "" && containsKey(name, upperASCII(issueKey))
}

// containsKey reports whether key occurs in name as a whole issue key: not
// preceded by a letter, digit or "_" (XABC-1 names project XABC) and not
// followed by a digit (ABC-12 names another issue).
func containsKey(name, key string) bool {
	for from := 0; ; {
		i := strings.Index(name[from:], key)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(key)
		if (start == 0 || !isWordByte(name[start-1])) && (end == len(name) || !isDigit(name[end])) {
			return true
		}
		from = start + 1
	}
}

func isWordByte(c byte) bool {
	return c == '_' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// upperASCII upper-cases ASCII letters only: strings.ToUpper would turn
// "ı" (dotless i) into "I" and make a non-key look like one.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// IssueProject returns the project key of an issue key ("ABC-123" → "ABC")
// after checking its form: a project key (a letter, then letters, digits
// or "_", upper case), "-", and an issue number without leading zeros.
// Errors are EInvalid.
func IssueProject(issueKey string) (string, error) {
	project, number, ok := strings.Cut(issueKey, "-")
	if ok && validProject(project) && validNumber(number) {
		return project, nil
	}
	shown := issueKey
	if utf8.RuneCountInString(shown) > 40 {
		shown = string([]rune(shown)[:40]) + "…"
	}
	return "", relay.Errorf(relay.EInvalid, "%q is not an issue key; an issue key is a project key and a number, like ABC-123.", shown)
}

func validProject(p string) bool {
	if p == "" || !('A' <= p[0] && p[0] <= 'Z') {
		return false
	}
	for _, c := range []byte(p) {
		if !('A' <= c && c <= 'Z' || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}

func validNumber(n string) bool {
	if n == "" || n[0] == '0' {
		return false
	}
	for _, c := range []byte(n) {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
