package branchname

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestValidateAcceptsValidNames(t *testing.T) {
	for _, name := range []string{
		"ABC-123",
		"ABC-123-fix-the-login-page",
		"feature/ABC-123-fix",
		"bugfix/ABC-123",
		"users/jane/ABC-123",
		"ABC-123_fix.v2",
		"ABC-123-café",
		"ABC-123,ABC-124",
		"ABC-123-foo.lockx",
		"ABC-123/foo./bar", // git only refuses a "." at the very end
		"ABC-123-a@b",
		"ABC-123-{x}",
		"ABC-123-HEAD",
		"release/2.0/ABC-123",
	} {
		if err := Validate(name, "ABC-123", 0); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", name, err)
		}
	}
}

func TestValidateNamesTheRuleBroken(t *testing.T) {
	tests := []struct {
		rule, name, want string
	}{
		{"empty", "", "Branch names cannot be empty."},
		{"two dots", "ABC-1..x", `Branch names cannot contain "..".`},
		{"at brace", "ABC-1@{x", `Branch names cannot contain "@{".`},
		{"ends with .lock", "ABC-1.lock", `Branch names cannot end with ".lock".`},
		{"a part ends with .lock", "ABC-1.lock/x", `No part of a branch name between slashes can end with ".lock".`},
		{"space", "ABC-1 fix", "Branch names cannot contain spaces."},
		{"no-break space", "ABC-1\u00a0fix", "Branch names cannot contain spaces."},
		{"ideographic space", "ABC-1\u3000fix", "Branch names cannot contain spaces."},
		{"tab", "ABC-1\tfix", "Branch names cannot contain control characters."},
		{"newline", "ABC-1\nfix", "Branch names cannot contain control characters."},
		{"NUL", "ABC-1\x00", "Branch names cannot contain control characters."},
		{"DEL", "ABC-1\x7f", "Branch names cannot contain control characters."},
		{"C1 control", "ABC-1\u0085", "Branch names cannot contain control characters."},
		{"zero-width space", "ABC-1\u200bfix", "Branch names cannot contain invisible formatting characters."},
		{"right-to-left override", "ABC-1\u202efix", "Branch names cannot contain invisible formatting characters."},
		{"tilde", "ABC-1~1", `Branch names cannot contain "~".`},
		{"caret", "ABC-1^", `Branch names cannot contain "^".`},
		{"colon", "ABC-1:x", `Branch names cannot contain ":".`},
		{"question mark", "ABC-1?", `Branch names cannot contain "?".`},
		{"asterisk", "ABC-1*", `Branch names cannot contain "*".`},
		{"open bracket", "ABC-1[x]", `Branch names cannot contain "[".`},
		{"backslash", `ABC-1\x`, `Branch names cannot contain "\".`},
		{"starts with dot", ".ABC-1", `Branch names cannot start with ".".`},
		{"a part starts with dot", "ABC-1/.hidden", `No part of a branch name between slashes can start with ".".`},
		{"ends with slash", "ABC-1/", `Branch names cannot end with "/".`},
		{"ends with dot", "ABC-1.", `Branch names cannot end with ".".`},
		{"double slash", "ABC-1//x", `Branch names cannot contain "//".`},
		{"starts with slash", "/ABC-1", `Branch names cannot start with "/".`},
		{"starts with dash", "-ABC-1", `Branch names cannot start with "-".`},
		{"at alone", "@", `Branch names cannot be "@".`},
		{"HEAD", "HEAD", `Branch names cannot be "HEAD".`},
		{"invalid UTF-8", "ABC-1-\xff", "Branch names must be valid UTF-8 text."},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			checkInvalid(t, Validate(tt.name, "", 0), tt.want)
		})
	}
}

func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	e, ok := relay.AsError(err)
	if !ok || e.Code != relay.EInvalidBranchName {
		t.Fatalf("err = %v, want an %s error", err, relay.EInvalidBranchName)
	}
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
}

func TestValidateLength(t *testing.T) {
	name := "ABC-123-" + strings.Repeat("x", 292)
	checkInvalid(t, Validate(name, "ABC-123", 250), "The branch name is 300 characters long; the maximum is 250.")
	checkInvalid(t, Validate(name, "ABC-123", 0), "The branch name is 300 characters long; the maximum is 250.")
	if err := Validate(name, "ABC-123", 300); err != nil {
		t.Errorf("300 characters with a maximum of 300: %v", err)
	}
	if err := Validate("ABC-1-"+strings.Repeat("é", 10), "ABC-1", 16); err != nil {
		t.Errorf("length counts characters, not bytes: %v", err)
	}
}

func TestValidateRequiresTheWholeIssueKey(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{"ABC-123-fix", "ABC-123", true},
		{"feature/ABC-123", "ABC-123", true},
		{"ABC-123", "abc-123", true}, // the key is compared upper case
		{"fix-ABC-123x", "ABC-123", true},
		{"ABC-12-then-ABC-123", "ABC-123", true},
		{"fix-login", "ABC-123", false},
		{"abc-123-fix", "ABC-123", false}, // Jira links branches by the upper-case key
		{"ABC-1234-fix", "ABC-123", false},
		{"XABC-123-fix", "ABC-123", false},
		{"X_ABC-123-fix", "ABC-123", false},
		{"DEMO-1-victim", "MO-1", false},
	}
	for _, tt := range tests {
		if got := NamesIssue(tt.name, tt.key); got != tt.ok {
			t.Errorf("NamesIssue(%q, %q) = %v, want %v", tt.name, tt.key, got, tt.ok)
		}
		err := Validate(tt.name, tt.key, 0)
		if tt.ok && err != nil {
			t.Errorf("Validate(%q, %q) = %v, want nil", tt.name, tt.key, err)
		}
		if !tt.ok {
			checkInvalid(t, err, "The branch name must contain the issue key "+upperASCII(tt.key)+".")
		}
	}
}

func TestIssueProject(t *testing.T) {
	for key, want := range map[string]string{
		"ABC-123": "ABC", "A-1": "A", "AB_C2-10": "AB_C2", "X1-999999": "X1",
	} {
		if got, err := IssueProject(key); err != nil || got != want {
			t.Errorf("IssueProject(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{
		"", "ABC", "ABC-", "-123", "ABC-0", "ABC-012", "abc-123", "1AB-1", "_AB-1",
		"AB C-1", "ABC-12a", "ABC-1-2", "ÄBC-1", "ABC--1", "ABC-١٢",
	} {
		_, err := IssueProject(key)
		if relay.ErrorCode(err) != relay.EInvalid {
			t.Errorf("IssueProject(%q) = %v, want an %s error", key, err, relay.EInvalid)
		}
	}
}

// gitCheckRefFormat is git's check_refname_format (refs.c, flags 0),
// ported as the oracle Validate must never be more lenient than.
func gitCheckRefFormat(refname string) bool {
	if refname == "@" {
		return false
	}
	components := 0
	for {
		n, ok := gitComponent(refname)
		if !ok || n == 0 {
			return false
		}
		components++
		if n == len(refname) {
			return refname[n-1] != '.' && components >= 2
		}
		refname = refname[n+1:]
	}
}

func gitComponent(s string) (int, bool) {
	var last byte
	i := 0
	for ; i < len(s) && s[i] != '/'; i++ {
		c := s[i]
		switch {
		case c == '.' && last == '.', c == '{' && last == '@':
			return 0, false
		case c < 0x20, c == 0x7f, strings.IndexByte(" ~^:?[\\*", c) >= 0:
			return 0, false
		}
		last = c
	}
	if i > 0 && (s[0] == '.' || strings.HasSuffix(s[:i], ".lock")) {
		return 0, false
	}
	return i, true
}

var refSamples = []string{
	"ABC-1", "a/b", "a//b", "/a", "a/", "a.", "a..b", ".a", "a/.b", "a.lock", "a.lock/b", "a/b.lock",
	"a@{b", "a@b", "@", "@/a", "a/@", "a{b", "a b", "a\tb", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b",
	`a\b`, "a./b", "a/b.", "-a", "HEAD", "café", "a\u200bb", "a\u00a0b", ".", "..", "a/..", "a.lo",
	"a.lock.b", "x/a.lock", "a..", "..a",
}

func TestGitPortAgreesWithGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	for _, name := range refSamples {
		ref := "refs/heads/" + name
		want := exec.Command(git, "check-ref-format", ref).Run() == nil
		if got := gitCheckRefFormat(ref); got != want {
			t.Errorf("port says %q valid = %v; git says %v", ref, got, want)
		}
	}
}

func TestValidateIsNeverMoreLenientThanGit(t *testing.T) {
	for _, name := range refSamples {
		if Validate(name, "", 1000) == nil && !gitCheckRefFormat("refs/heads/"+name) {
			t.Errorf("Validate accepts %q, which git refuses", name)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range refSamples {
		f.Add(s, "ABC-1", 250)
	}
	f.Add("ABC-123-fix", "abc-123", 0)
	f.Fuzz(func(t *testing.T, name, key string, max int) {
		err := Validate(name, key, max)
		if err == nil && !gitCheckRefFormat("refs/heads/"+name) {
			t.Fatalf("Validate accepts %q, which git refuses", name)
		}
		if err != nil {
			if e, ok := relay.AsError(err); !ok || e.Code != relay.EInvalidBranchName || e.Message == "" {
				t.Fatalf("err = %#v, want an %s error with a message", err, relay.EInvalidBranchName)
			}
		}
	})
}
