package hostsim_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// lsRemote runs the system git's ls-remote against url, authenticating
// with basic auth (user:password) when given, and returns the refs.
func lsRemote(t *testing.T, url, userPassword string) (map[string]string, error) {
	t.Helper()
	args := []string{"-c", "credential.helper="}
	if userPassword != "" {
		args = append(args, "-c", "http.extraHeader=Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(userPassword)))
	}
	cmd := exec.Command("git", append(args, "ls-remote", url)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if sha, ref, ok := strings.Cut(line, "\t"); ok {
			refs[ref] = sha
		}
	}
	return refs, nil
}

func TestGitServesEachHostsLayoutWithItsCredential(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (scripts/ensure-git installs it)")
	}
	cases := []struct {
		name   string
		layout hostsim.Layout
		front  func(*hostsim.Sim) http.Handler
		path   string // the repository acme/widgets' git URL path
		user   string
	}{
		{"github", hostsim.LayoutOwnerRepo, (*hostsim.Sim).GitHub, "/acme/widgets.git", "x-access-token"},
		{"gitlab", hostsim.LayoutOwnerRepo, (*hostsim.Sim).GitLab, "/acme/widgets.git", "oauth2"},
		{"gitea", hostsim.LayoutOwnerRepo, (*hostsim.Sim).Gitea, "/acme/widgets.git", "alice"},
		{"azure devops", hostsim.LayoutAzure, (*hostsim.Sim).Azure, "/contoso/acme/_git/widgets", "pat"},
		{"tfs", hostsim.LayoutAzure, (*hostsim.Sim).Azure, "/tfs/DefaultCollection/acme/_git/widgets", "pat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := hostsim.New()
			t.Cleanup(sim.Close)
			git := sim.Git(t.TempDir())
			srv := httptest.NewServer(git.Wrap(c.layout, c.front(sim)))
			t.Cleanup(srv.Close)
			sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Readers: []string{"alice"}})
			sim.AddToken(hostsim.Token{Value: "alice-token", Login: "alice", Scopes: []string{"repo", "read_repository", "api"}})
			sim.AddToken(hostsim.Token{Value: "mallory-token", Login: "mallory", Scopes: []string{"repo"}})

			sha, err := git.Commit("acme/widgets", "feature/ABC-1-login", hostsim.Change{Message: "ABC-1 Log in"})
			if err != nil {
				t.Fatal(err)
			}
			refs, err := lsRemote(t, srv.URL+c.path, c.user+":alice-token")
			if err != nil {
				t.Fatalf("ls-remote with alice's token: %v", err)
			}
			if got := refs["refs/heads/feature/ABC-1-login"]; got != sha {
				t.Errorf("got feature branch at %q, want the pushed commit %q (refs %v)", got, sha, refs)
			}
			if got, want := refs["refs/heads/main"], sim.Branches("acme/widgets")["main"]; got == "" || got != want {
				t.Errorf("got main at %q over git, want what the API reports, %q", got, want)
			}
			if got := sim.Branches("acme/widgets")["feature/ABC-1-login"]; got != sha {
				t.Errorf("the API reports the pushed branch at %q, want %q", got, sha)
			}

			for _, who := range []string{"", c.user + ":mallory-token", c.user + ":wrong"} {
				if _, err := lsRemote(t, srv.URL+c.path, who); err == nil {
					t.Errorf("ls-remote as %q succeeded, want refused", who)
				}
			}
			if got := git.Stats("acme/widgets"); got.Refs != 1 || got.Fetches != 0 || got.Refused != 3 {
				t.Errorf("got stats %+v, want 1 refs request, no fetch, 3 refused", got)
			}
		})
	}
}

func TestGitAdvertisesBranchesTheAPICreates(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	git := sim.Git(t.TempDir())
	srv := httptest.NewServer(git.Wrap(hostsim.LayoutOwnerRepo, sim.GitHub()))
	t.Cleanup(srv.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets"})
	tip, err := git.Commit("acme/widgets", "main", hostsim.Change{Message: "second"})
	if err != nil {
		t.Fatal(err)
	}
	sim.AddBranch("acme/widgets", "ABC-2-from-api", tip)
	refs, err := lsRemote(t, srv.URL+"/acme/widgets.git", "")
	if err != nil {
		t.Fatalf("anonymous ls-remote of a public repository: %v", err)
	}
	if got := refs["refs/heads/ABC-2-from-api"]; got != tip {
		t.Errorf("got the API's branch at %q over git, want %q", got, tip)
	}
	if err := git.DeleteBranch("acme/widgets", "ABC-2-from-api"); err != nil {
		t.Fatal(err)
	}
	refs, _ = lsRemote(t, srv.URL+"/acme/widgets.git", "")
	if _, ok := refs["refs/heads/ABC-2-from-api"]; ok {
		t.Errorf("a deleted branch is still advertised: %v", refs)
	}
}

// CodeCommit's git endpoint takes the access key ID and the SigV4-derived
// git password of its secret, for that host, region and repository, made
// at most 15 minutes before; everything else is refused.
func TestGitServesCodeCommitWithTheSigV4GitPassword(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	sim := hostsim.New()
	t.Cleanup(sim.Close)
	now := time.Date(2026, 3, 9, 22, 5, 7, 0, time.UTC)
	sim.SetClock(func() time.Time { return now })
	git := sim.Git(t.TempDir())
	srv := httptest.NewServer(git.Wrap(hostsim.LayoutCodeCommit, sim.CodeCommit()))
	t.Cleanup(srv.Close)
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Readers: []string{"alice"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Private: true})
	sim.AddToken(hostsim.Token{Value: ccKeyID + ":" + ccSecret, Login: "alice"})
	sim.AddToken(hostsim.Token{Value: "AKIAMALLORY000000000:mallory-secret", Login: "mallory"})
	sim.AddToken(hostsim.Token{Value: "AKIANOGITPULL0000000:nopull-secret", Login: "alice", Scopes: []string{"codecommit:GetRepository"}})
	sha, err := git.Commit("acme/widgets", "feature/ABC-1-login", hostsim.Change{Message: "ABC-1 Log in"})
	if err != nil {
		t.Fatal(err)
	}
	gitHost := strings.TrimPrefix(srv.URL, "http://")
	login := func(id, secret, host, path, region string, at time.Time) string {
		user, password := codecommit.GitPassword(id, secret, "", host, path, region, at)
		return user + ":" + password
	}

	refs, err := lsRemote(t, srv.URL+"/v1/repos/widgets", login(ccKeyID, ccSecret, gitHost, "/v1/repos/widgets", "eu-west-1", now.Add(-time.Minute)))
	if err != nil {
		t.Fatalf("ls-remote with the derived password: %v", err)
	}
	if refs["refs/heads/feature/ABC-1-login"] != sha {
		t.Errorf("got refs %v, want the pushed branch at %s", refs, sha)
	}

	refused := []struct{ name, userPassword string }{
		{"no credential", ""},
		{"wrong secret", login(ccKeyID, "not-the-secret", gitHost, "/v1/repos/widgets", "eu-west-1", now)},
		{"wrong region", login(ccKeyID, ccSecret, gitHost, "/v1/repos/widgets", "us-east-1", now)},
		{"wrong host", login(ccKeyID, ccSecret, "git-codecommit.eu-west-1.amazonaws.com", "/v1/repos/widgets", "eu-west-1", now)},
		{"another repository's password", login(ccKeyID, ccSecret, gitHost, "/v1/repos/gadgets", "eu-west-1", now)},
		{"older than 15 minutes", login(ccKeyID, ccSecret, gitHost, "/v1/repos/widgets", "eu-west-1", now.Add(-16*time.Minute))},
		{"in the future", login(ccKeyID, ccSecret, gitHost, "/v1/repos/widgets", "eu-west-1", now.Add(time.Minute))},
		{"the secret as the password", ccKeyID + ":" + ccSecret},
		{"a key whose user may not read the repository", login("AKIAMALLORY000000000", "mallory-secret", gitHost, "/v1/repos/widgets", "eu-west-1", now)},
		{"a key not allowed codecommit:GitPull", login("AKIANOGITPULL0000000", "nopull-secret", gitHost, "/v1/repos/widgets", "eu-west-1", now)},
	}
	for _, c := range refused {
		if _, err := lsRemote(t, srv.URL+"/v1/repos/widgets", c.userPassword); err == nil {
			t.Errorf("%s: ls-remote succeeded, want refused", c.name)
		}
	}
	if got := git.Stats("acme/widgets"); got.Refs != 1 || got.Refused != len(refused) {
		t.Errorf("got stats %+v, want 1 refs request and %d refused", got, len(refused))
	}
}
