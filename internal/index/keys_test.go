package index_test

import (
	"slices"
	"testing"

	"github.com/gitrelay/gitrelay/internal/branchname"
	"github.com/gitrelay/gitrelay/internal/index"
)

func TestKeysMatchWholeUpperCaseKeysAsJiraDoes(t *testing.T) {
	known := func(p string) bool { return p == "ABC" || p == "MO" || p == "DEMO" || p == "A_1" }
	tests := []struct {
		name, text string
		want       []string
	}{
		{"a key at the start of a message", "ABC-123 Fix the login", []string{"ABC-123"}},
		{"keys anywhere, each once, in order", "Fix (ABC-2), see ABC-1 and ABC-2.", []string{"ABC-2", "ABC-1"}},
		{"a key in a branch name", "feature/ABC-7-login", []string{"ABC-7"}},
		{"lower case is not a key", "abc-1 fix", nil},
		{"a longer project is another project", "DEMO-1-fix", []string{"DEMO-1"}},
		{"a letter before the key makes it another project", "XABC-1", nil},
		{"a digit or underscore before it too", "1ABC-1 _ABC-2", nil},
		{"a leading zero is no issue number", "ABC-01", nil},
		{"the whole number is the issue", "ABC-12x", []string{"ABC-12"}},
		{"unknown projects are ignored", "UTF-8 and ABC-9", []string{"ABC-9"}},
		{"project keys may hold digits and underscores", "A_1-4", []string{"A_1-4"}},
		{"a key after a body line", "Subject\n\nRefs MO-5", []string{"MO-5"}},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := index.Keys(tt.text, known); !slices.Equal(got, tt.want) {
				t.Errorf("Keys(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
	if got := index.Keys("UTF-8 ABC-1", nil); !slices.Equal(got, []string{"UTF-8", "ABC-1"}) {
		t.Errorf("with every project known got %q", got)
	}
}

// FuzzKeys: every key found is named whole, by the rule branch creation
// uses, and nothing is found twice.
func FuzzKeys(f *testing.F) {
	for _, s := range []string{"ABC-1", "XABC-1 ABC-12", "a/ABC-7-x", "ABC-01", "A-1-B-2", "ÀBC-1", "ABC-1ABC-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		keys := index.Keys(text, nil)
		for i, k := range keys {
			if !branchname.NamesIssue(text, k) {
				t.Errorf("Keys(%q) found %q, which branchname.NamesIssue does not see as a whole key", text, k)
			}
			if slices.Contains(keys[:i], k) {
				t.Errorf("Keys(%q) found %q twice", text, k)
			}
		}
	})
}
