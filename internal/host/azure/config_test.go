package azure_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func opts(version string, kv ...string) map[string]string {
	m := map[string]string{"server_version": version}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestCheckConfig(t *testing.T) {
	services, vsts, server := azure.Services(), azure.VSTS(), azure.Server()
	for _, tc := range []struct {
		name     string
		adapter  host.Adapter
		in       relay.HostConfig
		wantURL  string
		wantOpts map[string]string
		field    string // or the field an error names
	}{
		{"organization URL", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam"}, "https://dev.azure.com/fabrikam", nil, ""},
		{"organization URL in another case with a slash", services, relay.HostConfig{Kind: "azure-devops", BaseURL: " HTTPS://Dev.Azure.com/Fabrikam/ "}, "https://dev.azure.com/Fabrikam", nil, ""},
		{"a project URL keeps the organization", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam/Fiber/_git/app"}, "https://dev.azure.com/fabrikam", nil, ""},
		{"dev.azure.com needs an organization", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/"}, "", nil, "base_url"},
		{"a proxy in front of the organization", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "http://proxy.internal:8080/ado/fabrikam"}, "http://proxy.internal:8080/ado/fabrikam", nil, ""},
		{"the API path pasted along", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam/_apis/git/repositories"}, "https://dev.azure.com/fabrikam", nil, ""},
		{"azure-devops takes no options", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam", Options: opts("2019")}, "", nil, "options"},
		{"azure-devops needs a URL", services, relay.HostConfig{Kind: "azure-devops"}, "", nil, "base_url"},
		{"not a web address", services, relay.HostConfig{Kind: "azure-devops", BaseURL: "ftp://dev.azure.com/fabrikam"}, "", nil, "base_url"},
		{"the wrong kind", services, relay.HostConfig{Kind: "github"}, "", nil, "kind"},
		{"account URL", vsts, relay.HostConfig{Kind: "vsts", BaseURL: "https://fabrikam.visualstudio.com"}, "https://fabrikam.visualstudio.com", nil, ""},
		{"account URL with the old collection path", vsts, relay.HostConfig{Kind: "vsts", BaseURL: "https://Fabrikam.VisualStudio.com/DefaultCollection/"}, "https://fabrikam.visualstudio.com", nil, ""},
		{"vsts behind a test server", vsts, relay.HostConfig{Kind: "vsts", BaseURL: "http://127.0.0.1:9000"}, "http://127.0.0.1:9000", nil, ""},
		{"tfs defaults", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2017")},
			"https://tfs.example.com", opts("2017", "suffix", "/tfs", "collection", "DefaultCollection"), ""},
		{"tfs with an empty suffix", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://ado.example.com", Options: opts("2019", "suffix", "", "collection", "Main")},
			"https://ado.example.com", opts("2019", "suffix", "", "collection", "Main"), ""},
		{"tfs suffix without its slash", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com:8080", Options: opts("2018", "suffix", "tfs/")},
			"https://tfs.example.com:8080", opts("2018", "suffix", "/tfs", "collection", "DefaultCollection"), ""},
		{"tfs collection URL pasted", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com/tfs/DefaultCollection/", Options: opts("2015")},
			"https://tfs.example.com", opts("2015", "suffix", "/tfs", "collection", "DefaultCollection"), ""},
		{"tfs needs the server version", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com"}, "", nil, "options"},
		{"tfs refuses an unknown server version", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2016")}, "", nil, "options"},
		{"tfs refuses unknown options", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2017", "region", "eu")}, "", nil, "options"},
		{"tfs collection is one name", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2017", "collection", "a/b")}, "", nil, "options"},
		{"tfs needs a URL", server, relay.HostConfig{Kind: "tfs", Options: opts("2017")}, "", nil, "base_url"},
		{"tfs refuses credentials in the URL", server, relay.HostConfig{Kind: "tfs", BaseURL: "https://u:p@tfs.example.com", Options: opts("2017")}, "", nil, "base_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.adapter.CheckConfig(tc.in)
			if tc.field != "" {
				e, ok := relay.AsError(err)
				if !ok || e.Code != relay.EInvalid || e.Fields[tc.field] == "" || e.Message == "" {
					t.Fatalf("CheckConfig(%+v) = %+v, %v; want invalid_request on %s", tc.in, got, err, tc.field)
				}
				return
			}
			if err != nil || got.BaseURL != tc.wantURL || got.Kind != tc.adapter.Kind() || !maps.Equal(got.Options, tc.wantOpts) {
				t.Fatalf("CheckConfig(%+v) = %+v, %v; want %q with options %v", tc.in, got, err, tc.wantURL, tc.wantOpts)
			}
			again, err := tc.adapter.CheckConfig(got)
			if err != nil || again.BaseURL != got.BaseURL || !maps.Equal(again.Options, got.Options) {
				t.Errorf("CheckConfig is not idempotent: %+v then %+v, %v", got, again, err)
			}
		})
	}
}

func TestNewTokenURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adapter host.Adapter
		cfg     relay.HostConfig
		want    string
	}{
		{"Azure DevOps organization", azure.Services(), relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam/Fiber"},
			"https://dev.azure.com/fabrikam/_usersSettings/tokens"},
		{"VSTS account", azure.VSTS(), relay.HostConfig{Kind: "vsts", BaseURL: "https://fabrikam.visualstudio.com/"},
			"https://fabrikam.visualstudio.com/_usersSettings/tokens"},
		{"TFS 2017 keeps tokens with the server", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2017")},
			"https://tfs.example.com/tfs/_details/security/tokens"},
		{"TFS 2018", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2018", "collection", "Fabrikam")},
			"https://tfs.example.com/tfs/_details/security/tokens"},
		{"Azure DevOps Server 2019 keeps tokens with the collection", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://ado.example.com", Options: opts("2019", "suffix", "")},
			"https://ado.example.com/DefaultCollection/_usersSettings/tokens"},
		{"Azure DevOps Server 2022 under /tfs", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://ado.example.com", Options: opts("2022", "collection", "Main")},
			"https://ado.example.com/tfs/Main/_usersSettings/tokens"},
		{"TFS 2015 has no tokens", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2015")}, ""},
		{"an invalid configuration has no page", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com"}, ""},
	} {
		if got := tc.adapter.NewTokenURL(tc.cfg, "gitrelay"); got != tc.want {
			t.Errorf("%s: NewTokenURL = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name        string
		adapter     host.Adapter
		cfg         relay.HostConfig
		pat, drafts bool
	}{
		{"Azure DevOps Services", azure.Services(), relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam"}, true, true},
		{"VSTS", azure.VSTS(), relay.HostConfig{Kind: "vsts", BaseURL: "https://fabrikam.visualstudio.com"}, true, true},
		{"TFS 2013 has neither", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2013")}, false, false},
		{"TFS 2015 has neither", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2015")}, false, false},
		{"TFS 2017 has tokens, no drafts", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2017")}, true, false},
		{"TFS 2018 has tokens, no drafts", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2018")}, true, false},
		{"Azure DevOps Server 2019 has drafts", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2019")}, true, true},
		{"Azure DevOps Server 2020", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2020")}, true, true},
		{"Azure DevOps Server 2022", azure.Server(), relay.HostConfig{Kind: "tfs", BaseURL: "https://t.example", Options: opts("2022")}, true, true},
	} {
		c := tc.adapter.Capabilities(tc.cfg)
		if c.PAT != tc.pat || c.Drafts != tc.drafts {
			t.Errorf("%s: Capabilities = %+v, want PAT %t, Drafts %t", tc.name, c, tc.pat, tc.drafts)
		}
		// Azure DevOps does not let a token read its scopes: nothing to
		// check them against, only a sentence for the user.
		if len(c.RequiredScopes) != 0 {
			t.Errorf("%s: RequiredScopes = %v, want none", tc.name, c.RequiredScopes)
		}
		if tc.pat && (!strings.Contains(c.TokenHelp, "Code (Read & write)") || !strings.Contains(c.TokenHelp, "vso.code_write")) {
			t.Errorf("%s: TokenHelp = %q, want Code (Read & write) = vso.code_write", tc.name, c.TokenHelp)
		}
	}
}

func TestNewClientChecksTheCredential(t *testing.T) {
	ado := relay.HostConfig{Kind: "azure-devops", BaseURL: "https://dev.azure.com/fabrikam"}
	tfs2015 := relay.HostConfig{Kind: "tfs", BaseURL: "https://tfs.example.com", Options: opts("2015")}
	for _, tc := range []struct {
		name    string
		adapter host.Adapter
		cfg     relay.HostConfig
		cred    relay.Credential
		code    string
	}{
		{"an empty token", azure.Services(), ado, relay.TokenCredential("  "), relay.ECredentialRejected},
		{"a token with a newline inside", azure.Services(), ado, relay.TokenCredential("abc\ndefSECRET"), relay.ECredentialRejected},
		{"a password where a token is needed", azure.Services(), ado, relay.PasswordCredential("u", "pwSECRET"), relay.ECredentialRejected},
		{"a pasted token with a trailing newline", azure.Services(), ado, relay.TokenCredential("abcSECRET\n"), ""},
		{"TFS 2015 needs a password", azure.Server(), tfs2015, relay.TokenCredential("abcSECRET"), relay.ECredentialRejected},
		{"TFS 2015 user name without colon", azure.Server(), tfs2015, relay.PasswordCredential("a:b", "pwSECRET"), relay.ECredentialRejected},
		{"TFS 2015 domain user and password", azure.Server(), tfs2015, relay.PasswordCredential(`FABRIKAM\relay bot`, "pw SECRET"), ""},
		{"an invalid configuration", azure.Server(), relay.HostConfig{Kind: "tfs"}, relay.TokenCredential("abcSECRET"), relay.EInvalid},
	} {
		_, err := tc.adapter.NewClient(tc.cfg, tc.cred, nil)
		if got := relay.ErrorCode(err); got != tc.code {
			t.Errorf("%s: NewClient = %v, want code %q", tc.name, err, tc.code)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error shows the credential: %v", tc.name, err)
		}
	}
}
