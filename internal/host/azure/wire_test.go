package azure_test

// Wire-level tests: the adapter against httptest servers replaying payloads
// shaped like Microsoft's published examples (testdata/), asserting every
// request's method, path, query, headers and body.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// wireToken and wirePassword are canaries: no error or message may ever
// contain them.
const (
	wireToken    = "canaryWIREpat52charsxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxq"
	wirePassword = "canaryWIREpassword!"
	zero         = "0000000000000000000000000000000000000000"
	mainSHA      = "3c9a1f0e5d7b2c4a6e8f0a1b2c3d4e5f6a7b8c9d"
	billingID    = "0f3c1d7e-5b2a-4c8e-9a61-2d4b7e9f1a03"
	billingPath  = "/fabrikam/Fiber/_apis/git/repositories/" + billingID
)

var billing = relay.Repository{
	ID: billingID, Name: "billing-api", FullName: "Fiber/billing-api",
	DefaultBranch: "main", WebURL: "https://dev.azure.com/fabrikam/Fiber/_git/billing-api",
}

// exchange is one expected request and the answer replayed to it; Path is
// the escaped path on the server.
type exchange = hosttest.Exchange

// replay asserts every request's Azure DevOps headers: auth is the
// Authorization the credential makes, and sign-in redirects are
// suppressed.
type replay struct {
	*hosttest.Server
	t *testing.T
}

func newReplay(t *testing.T, auth string, script ...exchange) *replay {
	t.Helper()
	return &replay{t: t, Server: hosttest.Options{
		hosttest.RequireHeaders(map[string]string{
			"Authorization":         auth,
			"X-Tfs-Fedauthredirect": "Suppress",
			"Accept":                "application/json",
			"User-Agent":            "gitrelay",
		}),
		hosttest.ContentType(func(file string) string {
			if strings.HasSuffix(file, ".html") {
				return "text/html; charset=utf-8"
			}
			return "application/json; charset=utf-8; api-version=7.1"
		}),
	}.Replay(t, script...)}
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// client returns a client of the adapter for cfg, whose base URL is
// relative to the replay server.
func (rp *replay) client(a host.Adapter, cfg relay.HostConfig, cred relay.Credential) relay.HostClient {
	rp.t.Helper()
	cfg.BaseURL = rp.URL + cfg.BaseURL
	c, err := a.NewClient(cfg, cred, hosttest.LocalClient(5*time.Second))
	if err != nil {
		rp.t.Fatalf("NewClient: %v", err)
	}
	return c
}

var (
	services = relay.HostConfig{Kind: azure.KindServices, BaseURL: "/fabrikam"}
	patCred  = relay.TokenCredential(wireToken)
	patAuth  = basic("", wireToken)
)

// v is the query of API version, in url.Values.Encode() form.
func v(version string) string { return url.Values{"api-version": {version}}.Encode() }

// with is query q with the keys and values kv set.
func with(q string, kv ...string) string {
	out, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out.Encode()
}

// wantCode checks err's code and that it shows no credential.
func wantCode(t *testing.T, err error, code, what string) *relay.Error {
	t.Helper()
	if got := relay.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v, want code %q", what, err, code)
	}
	if err == nil {
		return nil
	}
	e, _ := relay.AsError(err)
	for _, s := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", e), e.Message, e.URL} {
		if strings.Contains(s, wireToken) || strings.Contains(s, wirePassword) ||
			strings.Contains(s, strings.TrimPrefix(patAuth, "Basic ")) {
			t.Fatalf("%s: the error shows the credential: %s", what, s)
		}
	}
	if e.Message == "" {
		t.Errorf("%s: the error has no message", what)
	}
	return e
}

func TestWireValidate(t *testing.T) {
	t.Run("a token's account and name, without scopes or expiry", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{Method: "GET", Path: "/fabrikam/_apis/connectionData", File: "connection_data.json"})
		acc, err := rp.client(azure.Services(), services, patCred).Validate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := relay.Account{Login: "jamal@contoso.example", Name: "Jamal Hartnett"}
		if !reflect.DeepEqual(acc, want) {
			t.Errorf("Validate = %+v, want %+v", acc, want)
		}
	})
	t.Run("TFS 2015 signs in with the user name and password", func(t *testing.T) {
		rp := newReplay(t, basic(`FABRIKAM\relay`, wirePassword),
			exchange{Method: "GET", Path: "/tfs/DefaultCollection/_apis/connectionData", File: "connection_data_onprem.json"})
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2015"}}
		acc, err := rp.client(azure.Server(), cfg, relay.PasswordCredential(`FABRIKAM\relay`, wirePassword)).Validate(t.Context())
		if err != nil || acc.Login != `FABRIKAM\relay` || acc.Name != "gitrelay (service account)" {
			t.Errorf("Validate = %+v, %v; want FABRIKAM\\relay with its custom display name", acc, err)
		}
	})
	t.Run("TFS 2015 refusing the password says so", func(t *testing.T) {
		rp := newReplay(t, basic("relay", wirePassword), exchange{Method: "GET", Path: "/tfs/DefaultCollection/_apis/connectionData",
			Status: http.StatusUnauthorized, File: "err_unauthorized.json"})
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2015"}}
		_, err := rp.client(azure.Server(), cfg, relay.PasswordCredential("relay", wirePassword)).Validate(t.Context())
		if e := wantCode(t, err, relay.ECredentialRejected, "Validate"); !strings.Contains(e.Message, "user name or password") {
			t.Errorf("message %q does not speak of the user name or password", e.Message)
		}
	})
	for _, tc := range []struct {
		name string
		ex   exchange
	}{
		{"401 TF400813", exchange{Status: http.StatusUnauthorized, File: "err_unauthorized.json"}},
		{"203 with a sign-in page", exchange{Status: http.StatusNonAuthoritativeInfo, File: "signin.html"}},
		{"200 with a sign-in page", exchange{File: "signin.html"}},
		{"the anonymous identity", exchange{File: "connection_data_anonymous.json"}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			tc.ex.Method, tc.ex.Path = "GET", "/fabrikam/_apis/connectionData"
			rp := newReplay(t, patAuth, tc.ex)
			_, err := rp.client(azure.Services(), services, patCred).Validate(t.Context())
			wantCode(t, err, relay.ECredentialRejected, "Validate")
		})
	}
}

func TestWireRepositories(t *testing.T) {
	tokens := "repoV2/b7d2e6a1-3c4f-4e5d-8a9b-0c1d2e3f4a5b/0f3c1d7e-5b2a-4c8e-9a61-2d4b7e9f1a03," +
		"repoV2/b7d2e6a1-3c4f-4e5d-8a9b-0c1d2e3f4a5b/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d," +
		"repoV2/c0ffee00-1234-4abc-8def-0123456789ab/6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a"
	list := exchange{Method: "GET", Path: "/fabrikam/_apis/git/repositories", Query: v("7.1"), File: "repositories.json"}
	perms := exchange{Method: "GET", Path: "/fabrikam/_apis/permissions/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87/4",
		Query: with(v("7.1"), "tokens", tokens, "delimiter", ","), File: "permissions.json"}
	billingRepo := billing
	docs := relay.Repository{ID: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", Name: "docs", FullName: "Fiber/docs", DefaultBranch: "master",
		WebURL: "https://dev.azure.com/fabrikam/Fiber/_git/docs"}
	scratch := relay.Repository{ID: "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a", Name: "scratch", FullName: "Sandbox/scratch",
		WebURL: "https://dev.azure.com/fabrikam/Sandbox/_git/scratch"}

	t.Run("only Git repositories the account may contribute to, disabled ones left out", func(t *testing.T) {
		rp := newReplay(t, patAuth, list, perms)
		got, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []relay.Repository{billingRepo, scratch}; !reflect.DeepEqual(got, want) {
			t.Errorf("Repositories = %+v\nwant %+v", got, want)
		}
	})
	t.Run("search matches project and name, case-insensitively", func(t *testing.T) {
		narrow := perms
		narrow.Query = with(v("7.1"), "tokens", strings.Split(tokens, ",")[2], "delimiter", ",")
		narrow.File = "permissions_short.json" // the server says more than asked: not trusted
		rp := newReplay(t, patAuth, list, narrow)
		got, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "SANDBOX/")
		if err != nil || !reflect.DeepEqual(got, []relay.Repository{scratch}) {
			t.Errorf("Repositories(SANDBOX/) = %+v, %v; want scratch", got, err)
		}
	})
	t.Run("a server that cannot check permissions lists every repository", func(t *testing.T) {
		refused := perms
		refused.Status, refused.File = http.StatusNotFound, "err_server.json"
		rp := newReplay(t, patAuth, list, refused)
		got, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
		if err != nil || !reflect.DeepEqual(got, []relay.Repository{billingRepo, docs, scratch}) {
			t.Errorf("Repositories = %+v, %v; want all three enabled repositories", got, err)
		}
	})
	t.Run("a rate limit on the permission check is reported", func(t *testing.T) {
		limited := perms
		limited.Status, limited.File, limited.Header = http.StatusTooManyRequests, "err_rate_limited.json", map[string]string{"Retry-After": "12"}
		rp := newReplay(t, patAuth, list, limited)
		_, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
		if e := wantCode(t, err, relay.ERateLimited, "Repositories"); e.RetryAfter != 12*time.Second {
			t.Errorf("RetryAfter = %v, want 12s", e.RetryAfter)
		}
	})
	t.Run("TFS 2018 sends remoteUrl only", func(t *testing.T) {
		rp := newReplay(t, patAuth,
			exchange{Method: "GET", Path: "/tfs/DefaultCollection/_apis/git/repositories", Query: v("4.0"), File: "repositories_onprem.json"},
			exchange{Method: "GET", Path: "/tfs/DefaultCollection/_apis/permissions/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87/4",
				Query:  with(v("4.0"), "tokens", "repoV2/d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "delimiter", ","),
				Status: http.StatusNotFound, File: "err_server.json"},
		)
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2018"}}
		got, err := rp.client(azure.Server(), cfg, patCred).Repositories(t.Context(), "pay")
		want := []relay.Repository{{ID: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", Name: "Payroll", FullName: "Back Office/Payroll",
			DefaultBranch: "develop", WebURL: "https://tfs.fabrikam.example/tfs/DefaultCollection/Back%20Office/_git/Payroll"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Repositories = %+v, %v\nwant %+v", got, err, want)
		}
	})
}

// Every server version is addressed at its collection with the api-version
// it understands.
func TestWireServerVersions(t *testing.T) {
	for _, tc := range []struct {
		version, suffix, api, prefix string
	}{
		{"2013", "/tfs", "1.0", "/tfs/DefaultCollection"},
		{"2015", "/tfs", "2.0", "/tfs/DefaultCollection"},
		{"2017", "/tfs", "3.0", "/tfs/DefaultCollection"},
		{"2018", "/tfs", "4.0", "/tfs/DefaultCollection"},
		{"2019", "", "5.0", "/DefaultCollection"},
		{"2020", "/tfs", "6.0", "/tfs/DefaultCollection"},
		{"2022", "/devops", "7.0", "/devops/DefaultCollection"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			cred, auth := patCred, patAuth
			if tc.version < "2017" {
				cred, auth = relay.PasswordCredential("relay", wirePassword), basic("relay", wirePassword)
			}
			rp := newReplay(t, auth, exchange{Method: "GET", Path: tc.prefix + "/_apis/git/repositories/" + billingID, Query: v(tc.api), File: "repository.json"})
			cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": tc.version, "suffix": tc.suffix}}
			got, err := rp.client(azure.Server(), cfg, cred).Repository(t.Context(), billingID)
			if err != nil || got != billing {
				t.Errorf("Repository = %+v, %v; want %+v", got, err, billing)
			}
		})
	}
	t.Run("VSTS at its account's root", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{Method: "GET", Path: "/_apis/git/repositories/" + billingID, Query: v("7.1"), File: "repository.json"})
		got, err := rp.client(azure.VSTS(), relay.HostConfig{Kind: azure.KindVSTS}, patCred).Repository(t.Context(), billingID)
		if err != nil || got != billing {
			t.Errorf("Repository = %+v, %v", got, err)
		}
	})
	t.Run("an id that is not a GUID is not asked for", func(t *testing.T) {
		rp := newReplay(t, patAuth)
		_, err := rp.client(azure.Services(), services, patCred).Repository(t.Context(), "../../_apis/projects")
		wantCode(t, err, relay.ENotFound, "Repository")
	})
	t.Run("a repository the account cannot see", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{Method: "GET", Path: "/fabrikam/_apis/git/repositories/" + billingID, Query: v("7.1"),
			Status: http.StatusNotFound, File: "err_repo_not_found.json"})
		_, err := rp.client(azure.Services(), services, patCred).Repository(t.Context(), billingID)
		wantCode(t, err, relay.ENotFound, "Repository")
	})
}

func TestWireBranches(t *testing.T) {
	t.Run("pages follow the continuation token", func(t *testing.T) {
		q := with(v("7.1"), "filter", "heads/", "$top", "1000")
		rp := newReplay(t, patAuth,
			exchange{Method: "GET", Path: billingPath + "/refs", Query: q, File: "refs_page1.json",
				Header: map[string]string{"X-MS-ContinuationToken": "cmVmcy9oZWFkcy9yZWxlYXNl"}},
			exchange{Method: "GET", Path: billingPath + "/refs", Query: with(q, "continuationToken", "cmVmcy9oZWFkcy9yZWxlYXNl"), File: "refs_page2.json"},
		)
		got, err := rp.client(azure.Services(), services, patCred).Branches(t.Context(), billing, "")
		want := []relay.Branch{
			{Name: "main", SHA: mainSHA, URL: billing.WebURL + "?version=GBmain"},
			{Name: "feature/invoice-pdf", SHA: "8e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d", URL: billing.WebURL + "?version=GBfeature%2Finvoice-pdf"},
			{Name: "release/2026.11", SHA: "5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a", URL: billing.WebURL + "?version=GBrelease%2F2026.11"},
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Branches = %+v, %v\nwant %+v", got, err, want)
		}
	})
	t.Run("a branch is matched exactly among those the prefix filter returns", func(t *testing.T) {
		rp := newReplay(t, patAuth,
			exchange{Method: "GET", Path: billingPath + "/refs", Query: with(v("7.1"), "filter", "heads/fix-1", "$top", "1000"), File: "refs_prefix.json"},
			exchange{Method: "GET", Path: billingPath + "/refs", Query: with(v("7.1"), "filter", "heads/fi", "$top", "1000"), File: "refs_prefix.json"},
		)
		c := rp.client(azure.Services(), services, patCred)
		b, err := c.Branch(t.Context(), billing, "fix-1")
		if err != nil || b.SHA != "2222222222222222222222222222222222222222" || b.Name != "fix-1" {
			t.Errorf("Branch(fix-1) = %+v, %v", b, err)
		}
		_, err = c.Branch(t.Context(), billing, "fi")
		wantCode(t, err, relay.ENotFound, "Branch(fi)")
	})
	t.Run("a repository known only by its id is looked up first", func(t *testing.T) {
		rp := newReplay(t, patAuth,
			exchange{Method: "GET", Path: "/fabrikam/_apis/git/repositories/" + billingID, Query: v("7.1"), File: "repository.json"},
			exchange{Method: "GET", Path: billingPath + "/refs", Query: with(v("7.1"), "filter", "heads/", "$top", "1000"), File: "empty_list.json"},
		)
		got, err := rp.client(azure.Services(), services, patCred).Branches(t.Context(), relay.Repository{ID: billingID}, "")
		if err != nil || len(got) != 0 {
			t.Errorf("Branches = %+v, %v; want none", got, err)
		}
	})
}

func TestWireCreateBranch(t *testing.T) {
	post := func(file string) exchange {
		return exchange{Method: "POST", Path: billingPath + "/refs", Query: v("7.1"), File: file,
			Body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`}
	}
	t.Run("created from the base commit", func(t *testing.T) {
		rp := newReplay(t, patAuth, post("ref_created.json"))
		b, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
		want := relay.Branch{Name: "ABC-1-invoices", SHA: mainSHA, URL: billing.WebURL + "?version=GBABC-1-invoices"}
		if err != nil || b != want {
			t.Errorf("CreateBranch = %+v, %v; want %+v", b, err, want)
		}
	})
	t.Run("TFS 2018 answers isLocked as a string", func(t *testing.T) {
		tfsRepo := relay.Repository{ID: billingID, Name: "billing-api", FullName: "Back Office/billing-api"}
		rp := newReplay(t, patAuth, exchange{Method: "POST", Path: "/tfs/DefaultCollection/Back%20Office/_apis/git/repositories/" + billingID + "/refs",
			Query: v("4.0"), File: "ref_created_onprem.json",
			Body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`})
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2018"}}
		b, err := rp.client(azure.Server(), cfg, patCred).CreateBranch(t.Context(), tfsRepo, "ABC-1-invoices", mainSHA)
		if err != nil || b.SHA != mainSHA || !strings.HasSuffix(b.URL, "/tfs/DefaultCollection/Back%20Office/_git/billing-api?version=GBABC-1-invoices") {
			t.Errorf("CreateBranch = %+v, %v", b, err)
		}
	})
	// Azure DevOps answers 200 to refused ref updates; updateStatus says why.
	for _, tc := range []struct {
		file, code string
	}{
		{"ref_stale.json", relay.EBranchExists},
		{"ref_create_permission.json", relay.EScopeMissing},
		{"ref_name_conflict.json", relay.EInvalidBranchName},
		{"ref_invalid_name.json", relay.EInvalidBranchName},
		{"ref_rejected_by_policy.json", relay.EInvalidBranchName},
		{"ref_unresolvable.json", relay.ENotFound},
		{"ref_locked.json", relay.EForbidden},
	} {
		t.Run("refused: "+strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			rp := newReplay(t, patAuth, post(tc.file))
			_, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
			e := wantCode(t, err, tc.code, "CreateBranch")
			if tc.code == relay.EBranchExists && e.URL != billing.WebURL+"?version=GBABC-1-invoices" {
				t.Errorf("URL = %q, want the existing branch's page", e.URL)
			}
			if tc.file == "ref_rejected_by_policy.json" && !strings.Contains(e.Message, "users/, features/ or releases/") {
				t.Errorf("message %q does not quote the policy", e.Message)
			}
		})
	}
}

func TestWireDeleteBranch(t *testing.T) {
	read := exchange{Method: "GET", Path: billingPath + "/refs", Query: with(v("7.1"), "filter", "heads/fix-1", "$top", "1000"), File: "refs_fix1.json"}
	post := func(file string) exchange {
		return exchange{Method: "POST", Path: billingPath + "/refs", Query: v("7.1"), File: file,
			Body: `[{"name":"refs/heads/fix-1","oldObjectId":"2222222222222222222222222222222222222222","newObjectId":"` + zero + `"}]`}
	}
	for _, tc := range []struct {
		file, code string
	}{
		{"ref_deleted.json", ""},
		{"ref_deleted_nonexistent.json", relay.ENotFound},
		{"ref_delete_stale.json", relay.EConflict},
		{"ref_delete_permission.json", relay.EScopeMissing},
		{"ref_delete_policy.json", relay.EForbidden},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			rp := newReplay(t, patAuth, read, post(tc.file))
			err := rp.client(azure.Services(), services, patCred).DeleteBranch(t.Context(), billing, "fix-1")
			wantCode(t, err, tc.code, "DeleteBranch")
		})
	}
	t.Run("a branch that is not there is not posted", func(t *testing.T) {
		missing := read
		missing.File = "empty_list.json"
		rp := newReplay(t, patAuth, missing)
		err := rp.client(azure.Services(), services, patCred).DeleteBranch(t.Context(), billing, "fix-1")
		wantCode(t, err, relay.ENotFound, "DeleteBranch")
	})
}

func TestWirePullRequests(t *testing.T) {
	t.Run("a draft on Azure DevOps Services", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{Method: "POST", Path: billingPath + "/pullrequests", Query: v("7.1"), Status: http.StatusCreated,
			File: "pull_created_draft.json",
			Body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 Invoices as PDF","description":"Generates invoices as PDF.","isDraft":true}`})
		pr, err := rp.client(azure.Services(), services, patCred).CreatePullRequest(t.Context(), billing, relay.NewPullRequest{
			Source: "ABC-1-invoices", Target: "main", Title: "ABC-1 Invoices as PDF", Description: "Generates invoices as PDF.", Draft: true})
		want := relay.PullRequest{Number: 57, Title: "ABC-1 Invoices as PDF", URL: billing.WebURL + "/pullrequest/57",
			Source: "ABC-1-invoices", Target: "main", Draft: true}
		if err != nil || pr != want {
			t.Errorf("CreatePullRequest = %+v, %v; want %+v", pr, err, want)
		}
	})
	t.Run("TFS 2018 is sent no isDraft", func(t *testing.T) {
		tfsRepo := relay.Repository{ID: billingID, Name: "billing-api", FullName: "Fiber/billing-api"}
		rp := newReplay(t, patAuth, exchange{Method: "POST", Path: "/tfs/DefaultCollection/Fiber/_apis/git/repositories/" + billingID + "/pullrequests",
			Query: v("4.0"), Status: http.StatusCreated, File: "pull_created_onprem.json",
			Body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 Invoices as PDF"}`})
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2018"}}
		c := rp.client(azure.Server(), cfg, patCred)
		pr, err := c.CreatePullRequest(t.Context(), tfsRepo, relay.NewPullRequest{Source: "ABC-1-invoices", Target: "main", Title: "ABC-1 Invoices as PDF"})
		if err != nil || pr.Number != 58 || pr.Draft || !strings.HasSuffix(pr.URL, "/tfs/DefaultCollection/Fiber/_git/billing-api/pullrequest/58") {
			t.Errorf("CreatePullRequest = %+v, %v", pr, err)
		}
		_, err = c.CreatePullRequest(t.Context(), tfsRepo, relay.NewPullRequest{Source: "ABC-1-invoices", Target: "main", Title: "x", Draft: true})
		wantCode(t, err, relay.EDraftUnsupported, "a draft on TFS 2018")
	})
	t.Run("one that exists is reported with its link", func(t *testing.T) {
		rp := newReplay(t, patAuth,
			exchange{Method: "POST", Path: billingPath + "/pullrequests", Query: v("7.1"), Status: http.StatusConflict, File: "err_pr_exists.json",
				Body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 again"}`},
			exchange{Method: "GET", Path: billingPath + "/pullrequests", File: "pulls_active.json", Query: with(v("7.1"),
				"searchCriteria.sourceRefName", "refs/heads/ABC-1-invoices", "searchCriteria.targetRefName", "refs/heads/main",
				"searchCriteria.status", "active", "$top", "100")},
		)
		_, err := rp.client(azure.Services(), services, patCred).CreatePullRequest(t.Context(), billing,
			relay.NewPullRequest{Source: "ABC-1-invoices", Target: "main", Title: "ABC-1 again"})
		e := wantCode(t, err, relay.EPullRequestExists, "CreatePullRequest")
		if e.URL != billing.WebURL+"/pullrequest/41" {
			t.Errorf("URL = %q, want the pull request to main (41), not the one to the release branch", e.URL)
		}
	})
	for _, tc := range []struct {
		name   string
		status int
		file   string
		code   string
	}{
		{"a missing branch (TF401398)", http.StatusBadRequest, "err_cannot_activate.json", relay.ENotFound},
		{"no Contribute to pull requests permission (TF401027)", http.StatusForbidden, "err_needs_permission.json", relay.EScopeMissing},
		{"a server error", http.StatusInternalServerError, "err_server.json", relay.EHostError},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			rp := newReplay(t, patAuth, exchange{Method: "POST", Path: billingPath + "/pullrequests", Query: v("7.1"), Status: tc.status, File: tc.file,
				Body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"t"}`})
			_, err := rp.client(azure.Services(), services, patCred).CreatePullRequest(t.Context(), billing,
				relay.NewPullRequest{Source: "ABC-1-invoices", Target: "main", Title: "t"})
			wantCode(t, err, tc.code, "CreatePullRequest")
		})
	}
	t.Run("none active", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{Method: "GET", Path: billingPath + "/pullrequests", File: "empty_list.json", Query: with(v("7.1"),
			"searchCriteria.sourceRefName", "refs/heads/ABC-2", "searchCriteria.targetRefName", "refs/heads/main",
			"searchCriteria.status", "active", "$top", "100")})
		_, err := rp.client(azure.Services(), services, patCred).FindPullRequest(t.Context(), billing, "ABC-2", "main")
		wantCode(t, err, relay.ENotFound, "FindPullRequest")
	})
}

// A 401 during an action is either a dead token or a live one without the
// scope: asking who the token is tells them apart, and the write is never
// sent twice.
func TestWireUnauthorizedWrite(t *testing.T) {
	post := exchange{Method: "POST", Path: billingPath + "/refs", Query: v("7.1"), Status: http.StatusUnauthorized, File: "err_unauthorized.json",
		Body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`}
	who := exchange{Method: "GET", Path: "/fabrikam/_apis/connectionData"}
	t.Run("the token lacks Code (Read & write)", func(t *testing.T) {
		ok := who
		ok.File = "connection_data.json"
		rp := newReplay(t, patAuth, post, ok)
		_, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
		if e := wantCode(t, err, relay.EScopeMissing, "CreateBranch"); e.Scope != "vso.code_write" {
			t.Errorf("Scope = %q, want vso.code_write", e.Scope)
		}
	})
	t.Run("the token is dead", func(t *testing.T) {
		dead := who
		dead.Status, dead.File = http.StatusUnauthorized, "err_unauthorized.json"
		rp := newReplay(t, patAuth, post, dead)
		_, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
		wantCode(t, err, relay.ECredentialRejected, "CreateBranch")
	})
}

func TestWireRateLimit(t *testing.T) {
	rp := newReplay(t, patAuth, exchange{Method: "GET", Path: "/fabrikam/_apis/git/repositories", Query: v("7.1"),
		Status: http.StatusTooManyRequests, File: "err_rate_limited.json",
		Header: map[string]string{"Retry-After": "30", "X-RateLimit-Resource": "Core", "X-RateLimit-Delay": "30", "X-RateLimit-Remaining": "0"}})
	_, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
	if e := wantCode(t, err, relay.ERateLimited, "Repositories"); e.RetryAfter != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s", e.RetryAfter)
	}
}

// A redirect to another host is not followed, so the credential never
// leaves the integration's origin.
func TestWireRedirectElsewhereIsRefused(t *testing.T) {
	var leaked sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store("auth", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	rp := newReplay(t, patAuth, exchange{Method: "GET", Path: "/fabrikam/_apis/connectionData", Status: http.StatusFound,
		Header: map[string]string{"Location": other.URL + "/_signin"}})
	_, err := rp.client(azure.Services(), services, patCred).Validate(t.Context())
	wantCode(t, err, relay.EHostError, "Validate redirected")
	if v, seen := leaked.Load("auth"); seen {
		t.Fatalf("the other host was asked, with Authorization %q", v)
	}
}
