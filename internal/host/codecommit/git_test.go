package codecommit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The vectors of AWS's git-remote-codecommit (its test/git_url_test.py):
// key "access", secret "secret", 2017-12-24 11:53:20 UTC, us-west-2,
// repository test_repo, on the region's git host and on another host.
func TestGitPasswordMatchesAWSsPublishedVectors(t *testing.T) {
	at := time.Date(2017, 12, 24, 11, 53, 20, 0, time.UTC)
	cases := []struct {
		host, token, user, password string
	}{
		{"git-codecommit.us-west-2.amazonaws.com", "", "access",
			"20171224T115320Zb6df2d758a8023b2f000a546417007b65494f3ce8ad0300fd45fcfa173f1959a"},
		{"land.called.honahlee", "", "access",
			"20171224T115320Za14a37a53035bbceb6e1748247b143124fe7326cdffd3d418236a592ce6158a0"},
		{"git-codecommit.us-west-2.amazonaws.com", "token", "access%token",
			"20171224T115320Zb6df2d758a8023b2f000a546417007b65494f3ce8ad0300fd45fcfa173f1959a"},
	}
	for _, c := range cases {
		user, password := codecommit.GitPassword("access", "secret", c.token, c.host, "/v1/repos/test_repo", "us-west-2", at)
		if user != c.user || password != c.password {
			t.Errorf("on %s: got %s:%s, want %s:%s", c.host, user, password, c.user, c.password)
		}
	}
}

// The same derivation written out step by step, from SigV4's definition,
// for a key, time and region of our own.
func TestGitPasswordIsSigV4OfTheGitRequest(t *testing.T) {
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	at := time.Date(2026, 3, 9, 23, 5, 7, 0, time.FixedZone("X", 3600))
	canonical := "GIT\n/v1/repos/widgets\n\nhost:git-codecommit.eu-west-1.amazonaws.com\n\nhost\n"
	sum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n20260309T220507\n20260309/eu-west-1/codecommit/aws4_request\n" + hex.EncodeToString(sum[:])
	key := mac(mac(mac(mac([]byte("AWS4"+secret), "20260309"), "eu-west-1"), "codecommit"), "aws4_request")
	want := "20260309T220507Z" + hex.EncodeToString(mac(key, toSign))

	user, got := codecommit.GitPassword("AKIAIOSFODNN7EXAMPLE", secret, "", "git-codecommit.eu-west-1.amazonaws.com", "/v1/repos/widgets", "eu-west-1", at)
	if user != "AKIAIOSFODNN7EXAMPLE" || got != want {
		t.Errorf("got %s:%s, want AKIAIOSFODNN7EXAMPLE:%s", user, got, want)
	}
}

func basicOf(t *testing.T, r relay.GitRemote) (user, password string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Authorization.Token(), "Basic "))
	if err != nil || !strings.HasPrefix(r.Authorization.Token(), "Basic ") {
		t.Fatalf("got Authorization %q, want HTTP basic", r.Authorization.Token())
	}
	user, password, _ = strings.Cut(string(raw), ":")
	return user, password
}

func TestGitRemoteIsTheRegionsGitEndpointWithADerivedPassword(t *testing.T) {
	at := time.Date(2026, 3, 9, 22, 5, 7, 0, time.UTC)
	a := codecommit.New(codecommit.WithClock(func() time.Time { return at }))
	g := a.(host.GitReader)
	const id, secret = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	cred := relay.AccessKeyCredential(id, secret)
	repo := relay.Repository{ID: "widgets", Name: "widgets", FullName: "111122223333/widgets",
		WebURL: "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/widgets/browse?region=eu-west-1"}
	cases := []struct {
		name    string
		options map[string]string
		url     string
	}{
		{"region", map[string]string{"region": "eu-west-1"}, "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/widgets"},
		{"china", map[string]string{"region": "cn-north-1"}, "https://git-codecommit.cn-north-1.amazonaws.com.cn/v1/repos/widgets"},
		{"fips endpoint", map[string]string{"region": "us-east-1", "endpoint": "https://codecommit-fips.us-east-1.amazonaws.com"},
			"https://git-codecommit-fips.us-east-1.amazonaws.com/v1/repos/widgets"},
		{"other endpoint", map[string]string{"region": "eu-west-1", "endpoint": "http://127.0.0.1:8080/api"},
			"http://127.0.0.1:8080/v1/repos/widgets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := g.GitRemote(relay.HostConfig{Kind: codecommit.Kind, Options: c.options}, repo, cred)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != c.url {
				t.Errorf("got git URL %q, want %q", r.URL, c.url)
			}
			gitHost := strings.SplitN(strings.SplitN(c.url, "://", 2)[1], "/", 2)[0]
			wantUser, wantPassword := codecommit.GitPassword(id, secret, "", gitHost, "/v1/repos/widgets", c.options["region"], at)
			user, password := basicOf(t, r)
			if user != wantUser || password != wantPassword {
				t.Errorf("got basic %s:%s, want %s:%s", user, password, wantUser, wantPassword)
			}
			if strings.Contains(r.Authorization.Token(), secret) || strings.Contains(password, secret) || strings.Contains(r.URL, id) {
				t.Error("the secret access key is sent, or the key is in the URL")
			}
		})
	}

	cfg := relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1"}}
	for _, bad := range []string{"", "../widgets", "a/b", "widgets?x=1", strings.Repeat("w", 101)} {
		r := repo
		r.ID = bad
		if _, err := g.GitRemote(cfg, r, cred); relay.ErrorCode(err) != relay.EInvalid {
			t.Errorf("repository name %q: got %v, want EInvalid", bad, err)
		}
	}
	if _, err := g.GitRemote(cfg, repo, relay.TokenCredential("ghp_notAKey")); relay.ErrorCode(err) != relay.EInvalid {
		t.Errorf("a token credential: got %v, want EInvalid", err)
	}
}

func TestCommitAndBranchLinksAreTheConsolesPages(t *testing.T) {
	reg := host.NewRegistry(nil, codecommit.New())
	cfg := relay.HostConfig{Kind: codecommit.Kind, Options: map[string]string{"region": "eu-west-1"}}
	web := "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/widgets/browse?region=eu-west-1"
	if got, want := reg.CommitURL(cfg, web, "0123abc"),
		"https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/widgets/commit/0123abc?region=eu-west-1"; got != want {
		t.Errorf("got commit link %q, want %q", got, want)
	}
	if got, want := reg.BranchURL(cfg, web, "feature/ABC-1 login"),
		"https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/widgets/browse/refs/heads/feature/ABC-1%20login?region=eu-west-1"; got != want {
		t.Errorf("got branch link %q, want %q", got, want)
	}
	if got := reg.CommitURL(cfg, "javascript:alert(1)//codesuite/codecommit/repositories/x?region=r", "0123abc"); got != "" {
		t.Errorf("got commit link %q for an unsafe page, want none", got)
	}
}
