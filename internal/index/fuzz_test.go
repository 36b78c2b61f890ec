package index_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/index"
)

func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// FuzzParseRefs: a host's ref advertisement either reads, giving only
// branches and pull request heads with full-length hex shas, or is
// refused with an error; it never panics nor reads past the flush.
func FuzzParseRefs(f *testing.F) {
	sha := strings.Repeat("a", 40)
	f.Add(pkt("# service=git-upload-pack\n") + "0000" + pkt(sha+" HEAD\x00multi_ack side-band-64k\n") +
		pkt(sha+" refs/heads/main\n") + pkt(sha+" refs/pull/12/head\n") + pkt(sha+" refs/tags/v1^{}\n") + "0000")
	f.Add(pkt("# service=git-upload-pack\n") + "0000" + pkt(strings.Repeat("0", 40)+" capabilities^{}\x00agent=x\n") + "0000")
	f.Add("0000")
	f.Add("zzzz")
	f.Add(pkt("version 2\n") + "0000")
	f.Fuzz(func(t *testing.T, body string) {
		refs, err := index.ParseRefs(bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		for name, sha := range refs {
			if !strings.HasPrefix(name, "refs/heads/") && !strings.HasPrefix(name, "refs/pull/") && !strings.HasPrefix(name, "refs/merge-requests/") {
				t.Errorf("kept ref %q, which is no branch nor pull request head", name)
			}
			if len(sha) != 40 && len(sha) != 64 {
				t.Errorf("kept sha %q of %q", sha, name)
			}
		}
	})
}

func TestParseRefsKeepsBranchesAndPullRequestHeads(t *testing.T) {
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	body := pkt("# service=git-upload-pack\n") + "0000" + pkt(a+" HEAD\x00multi_ack\n") + pkt(a+" refs/heads/main\n") +
		pkt(b+" refs/heads/ABC-1-x\n") + pkt(b+" refs/pull/3/head\n") + pkt(b+" refs/pull/3/merge\n") +
		pkt(b+" refs/merge-requests/4/head\n") + pkt(a+" refs/tags/v1\n") + "0000"
	refs, err := index.ParseRefs(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"refs/heads/main": a, "refs/heads/ABC-1-x": b, "refs/pull/3/head": b, "refs/merge-requests/4/head": b}
	if fmt.Sprint(refs) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", refs, want)
	}
	if _, err := index.ParseRefs(strings.NewReader(body[:len(body)-4])); err == nil {
		t.Error("an advertisement without its final flush was accepted")
	}
}
