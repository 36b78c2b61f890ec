package index_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// A CodeCommit repository is read with git like any other: through the
// gateway, with the SigV4-derived git password of the integration's access
// key, which the simulator verifies; git itself never sees the key.
func TestCodeCommitIsReadWithItsDerivedGitPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorldOn(t, db, codecommit.Kind)
		ctx := context.Background()
		sha := w.commit(t, "feature/ABC-1-login", "ABC-1 Log in with a passkey")
		if err := w.ix.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		w.poll(t)

		if s := w.state(t); s.Failure != "" || s.LastCheckedAt.IsZero() {
			t.Fatalf("got state %+v, want read without failure", s)
		}
		one := w.issue(t, "ABC-1")
		if len(one.Commits) != 1 || one.Commits[0].SHA != sha || one.Commits[0].Message != "ABC-1 Log in with a passkey" ||
			len(one.Branches) != 1 || one.Branches[0].Name != "feature/ABC-1-login" {
			t.Errorf("ABC-1 got commits %+v and branches %+v, want the pushed commit on its branch", one.Commits, one.Branches)
		}
		if got := w.git.Stats("acme/widgets"); got.Refused != 0 || got.Fetches == 0 {
			t.Errorf("got git requests %+v, want fetched and none refused", got)
		}
		logged, err := os.ReadFile(w.argv)
		if err != nil {
			t.Fatal(err)
		}
		id, secret := hostsim.AccessKeyPair(secretToken)
		for _, s := range []string{secret, id, "Basic "} {
			if strings.Contains(string(logged), s) {
				t.Errorf("git's arguments or environment hold %q", s)
			}
		}
	})
}

// A wrong secret access key derives a git password the host refuses: the
// read fails with the refusal as its reason, and nothing is indexed.
func TestCodeCommitRefusesAGitPasswordOfTheWrongSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorldOn(t, db, codecommit.Kind)
		ctx := context.Background()
		w.commit(t, "feature/ABC-1-login", "ABC-1 Log in with a passkey")
		id, _ := hostsim.AccessKeyPair(secretToken)
		const wrong = "wJalrXUtnFEMI/K7MDENG/notTheRightSecretKey0"
		w.ixAccess.cred = relay.AccessKeyCredential(id, wrong)
		if err := w.ix.Discover(ctx); err != nil {
			t.Fatal(err)
		}
		w.poll(t)

		s := w.state(t)
		if !strings.Contains(s.Failure, "refused the integration's credential") || !s.FailingSince.Equal(w.clock.now()) {
			t.Errorf("got state %+v, want the host's refusal as the reason", s)
		}
		if strings.Contains(s.Failure, wrong) || strings.Contains(s.Failure, id) {
			t.Error("the failure names the key")
		}
		if got := w.git.Stats("acme/widgets"); got.Refused == 0 || got.Fetches != 0 {
			t.Errorf("got git requests %+v, want refused and nothing fetched", got)
		}
		if one := w.issue(t, "ABC-1"); len(one.Commits) != 0 {
			t.Errorf("a refused read indexed %+v", one.Commits)
		}
	})
}
