package app_test

import (
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// Every adapter names the origin its clients send credentials to, so that
// users' PATs can be bound to it.
func TestEveryAdapterNamesItsOrigin(t *testing.T) {
	for _, a := range app.Adapters(app.Endpoints{}) {
		if _, ok := a.(host.Originer); !ok {
			t.Errorf("the %s adapter does not implement host.Originer", a.Kind())
		}
	}
}

func TestOriginIsWhereCredentialsGo(t *testing.T) {
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	sim := host.NewRegistry(nil, app.Adapters(app.Endpoints{GitHubAPIURL: "http://127.0.0.1:8080/", GitLabURL: "http://127.0.0.1:9090/"})...)
	tfs := func(base, collection, version string) relay.HostConfig {
		return relay.HostConfig{Kind: "tfs", BaseURL: base, Options: map[string]string{"collection": collection, "server_version": version}}
	}
	tests := []struct {
		name string
		reg  *host.Registry
		cfg  relay.HostConfig
		want string
	}{
		{"github.com's API", reg, relay.HostConfig{Kind: "github"}, "https://api.github.com"},
		{"github.com's API moved by the operator", sim, relay.HostConfig{Kind: "github"}, "http://127.0.0.1:8080"},
		{"github enterprise API under the base URL", reg, relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://GHE.example.com/"}, "https://ghe.example.com/api/v3"},
		{"github enterprise API root pasted", reg, relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com/api/v3"}, "https://ghe.example.com/api/v3"},
		{"github enterprise on a port", reg, relay.HostConfig{Kind: "github-enterprise", BaseURL: "https://ghe.example.com:8443"}, "https://ghe.example.com:8443/api/v3"},
		{"gitlab.com's API", reg, relay.HostConfig{Kind: "gitlab"}, "https://gitlab.com/api/v4"},
		{"gitlab.com's API moved by the operator", sim, relay.HostConfig{Kind: "gitlab"}, "http://127.0.0.1:9090/api/v4"},
		{"gitlab self-managed under a relative root", reg, relay.HostConfig{Kind: "gitlab-self-managed", BaseURL: "https://git.example.com/gitlab"}, "https://git.example.com/gitlab/api/v4"},
		{"gitea API", reg, relay.HostConfig{Kind: "gitea", BaseURL: "https://gitea.example.com/"}, "https://gitea.example.com/api/v1"},
		{"azure devops organization", reg, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam/project/_git/repo"}, "https://dev.azure.com/fabrikam"},
		{"vsts account", reg, relay.HostConfig{Kind: "vsts", BaseURL: "https://fabrikam.visualstudio.com/Project"}, "https://fabrikam.visualstudio.com"},
		{"tfs collection", reg, tfs("https://tfs.example.com", "", "2019"), "https://tfs.example.com/tfs/DefaultCollection"},
		{"tfs server version is not part of it", reg, tfs("https://tfs.example.com", "", "2022"), "https://tfs.example.com/tfs/DefaultCollection"},
		{"tfs other collection", reg, tfs("https://tfs.example.com", "Other", "2019"), "https://tfs.example.com/tfs/Other"},
		{"codecommit region's endpoints", reg, relay.HostConfig{Kind: "codecommit", Options: map[string]string{"region": "eu-west-1"}},
			"https://codecommit.eu-west-1.amazonaws.com, https://sts.eu-west-1.amazonaws.com"},
		{"codecommit china region's endpoints", reg, relay.HostConfig{Kind: "codecommit", Options: map[string]string{"region": "cn-north-1"}},
			"https://codecommit.cn-north-1.amazonaws.com.cn, https://sts.cn-north-1.amazonaws.com.cn"},
		{"codecommit endpoint options", reg, relay.HostConfig{Kind: "codecommit", Options: map[string]string{
			"region": "eu-west-1", "endpoint": "https://vpce-1.example.com/", "sts_endpoint": "https://sts-vpce.example.com"}},
			"https://vpce-1.example.com, https://sts-vpce.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.reg.Origin(tt.cfg); got != tt.want {
				t.Fatalf("Origin(%+v) = %q, want %q", tt.cfg, got, tt.want)
			}
		})
	}
}

// A configuration the adapter refuses, or a kind nobody serves, still has
// an origin: its whole settings, so any change of them is a change of host.
func TestOriginOfUncheckableSettingsIsTheSettings(t *testing.T) {
	reg := host.NewRegistry(nil, app.Adapters(app.Endpoints{})...)
	for _, cfg := range []relay.HostConfig{
		{Kind: "nope", BaseURL: "https://a.example.com"},
		{Kind: "github-enterprise", BaseURL: "ftp://a.example.com"},
	} {
		got := reg.Origin(cfg)
		if !strings.HasPrefix(got, "settings:") || !strings.Contains(got, cfg.BaseURL) {
			t.Errorf("Origin(%+v) = %q, want the settings", cfg, got)
		}
		moved := cfg
		moved.BaseURL = "https://b.example.com"
		if reg.Origin(moved) == got {
			t.Errorf("moving %+v keeps its origin %q", cfg, got)
		}
	}
}
