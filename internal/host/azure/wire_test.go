package azure_test

// Wire-level tests: the adapter against httptest servers replaying payloads
// shaped like Microsoft's published examples (testdata/), asserting every
// request's method, path, query, headers and body.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
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

// exchange is one expected request and the answer replayed to it.
type exchange struct {
	method string
	path   string     // escaped path on the server
	query  url.Values // nil for none
	body   string     // expected JSON body; "" for none

	status int               // default 200
	header map[string]string // answer headers
	file   string            // answer body from testdata/
}

type replay struct {
	t      *testing.T
	auth   string
	mu     sync.Mutex
	script []exchange
	next   int
	srv    *httptest.Server
}

func newReplay(t *testing.T, auth string, script ...exchange) *replay {
	t.Helper()
	rp := &replay{t: t, auth: auth, script: script}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(func() {
		rp.srv.Close()
		rp.mu.Lock()
		defer rp.mu.Unlock()
		if rp.next != len(rp.script) {
			t.Errorf("only %d of %d expected requests were made", rp.next, len(rp.script))
		}
	})
	return rp
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

func (rp *replay) serve(w http.ResponseWriter, r *http.Request) {
	t := rp.t
	rp.mu.Lock()
	if rp.next >= len(rp.script) {
		rp.mu.Unlock()
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	ex := rp.script[rp.next]
	rp.next++
	rp.mu.Unlock()

	call := r.Method + " " + r.URL.String()
	if r.Method != ex.method || r.URL.EscapedPath() != ex.path {
		t.Errorf("request %s, want %s %s", call, ex.method, ex.path)
	}
	if got, want := r.URL.Query().Encode(), ex.query.Encode(); got != want {
		t.Errorf("%s: query %q, want %q", call, got, want)
	}
	for k, want := range map[string]string{
		"Authorization":         rp.auth,
		"X-Tfs-Fedauthredirect": "Suppress",
		"Accept":                "application/json",
		"User-Agent":            "gitrelay",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: header %s = %q, want %q", call, k, got, want)
		}
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case ex.body == "" && len(bytes.TrimSpace(body)) > 0:
		t.Errorf("%s: unexpected body %s", call, body)
	case ex.body != "":
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", call, body, err)
		}
		if err := json.Unmarshal([]byte(ex.body), &want); err != nil {
			t.Fatalf("bad expected body %q: %v", ex.body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: body %s, want %s", call, body, ex.body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", call, ct)
		}
	}
	for k, v := range ex.header {
		w.Header().Set(k, v)
	}
	var payload []byte
	if ex.file != "" {
		var err error
		if payload, err = os.ReadFile(filepath.Join("testdata", ex.file)); err != nil {
			t.Fatal(err)
		}
		if w.Header().Get("Content-Type") == "" {
			ct := "application/json; charset=utf-8; api-version=7.1"
			if strings.HasSuffix(ex.file, ".html") {
				ct = "text/html; charset=utf-8"
			}
			w.Header().Set("Content-Type", ct)
		}
	}
	status := ex.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

// client returns a client of the adapter for cfg, whose base URL is
// relative to the replay server.
func (rp *replay) client(a host.Adapter, cfg relay.HostConfig, cred relay.Credential) relay.HostClient {
	rp.t.Helper()
	cfg.BaseURL = rp.srv.URL + cfg.BaseURL
	c, err := a.NewClient(cfg, cred, host.NewHTTPClient(5*time.Second))
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

func v(version string) url.Values { return url.Values{"api-version": {version}} }

func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
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
		rp := newReplay(t, patAuth, exchange{method: "GET", path: "/fabrikam/_apis/connectionData", file: "connection_data.json"})
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
			exchange{method: "GET", path: "/tfs/DefaultCollection/_apis/connectionData", file: "connection_data_onprem.json"})
		cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": "2015"}}
		acc, err := rp.client(azure.Server(), cfg, relay.PasswordCredential(`FABRIKAM\relay`, wirePassword)).Validate(t.Context())
		if err != nil || acc.Login != `FABRIKAM\relay` || acc.Name != "gitrelay (service account)" {
			t.Errorf("Validate = %+v, %v; want FABRIKAM\\relay with its custom display name", acc, err)
		}
	})
	t.Run("TFS 2015 refusing the password says so", func(t *testing.T) {
		rp := newReplay(t, basic("relay", wirePassword), exchange{method: "GET", path: "/tfs/DefaultCollection/_apis/connectionData",
			status: http.StatusUnauthorized, file: "err_unauthorized.json"})
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
		{"401 TF400813", exchange{status: http.StatusUnauthorized, file: "err_unauthorized.json"}},
		{"203 with a sign-in page", exchange{status: http.StatusNonAuthoritativeInfo, file: "signin.html"}},
		{"200 with a sign-in page", exchange{file: "signin.html"}},
		{"the anonymous identity", exchange{file: "connection_data_anonymous.json"}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			tc.ex.method, tc.ex.path = "GET", "/fabrikam/_apis/connectionData"
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
	list := exchange{method: "GET", path: "/fabrikam/_apis/git/repositories", query: v("7.1"), file: "repositories.json"}
	perms := exchange{method: "GET", path: "/fabrikam/_apis/permissions/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87/4",
		query: with(v("7.1"), "tokens", tokens, "delimiter", ","), file: "permissions.json"}
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
		narrow.query = with(v("7.1"), "tokens", strings.Split(tokens, ",")[2], "delimiter", ",")
		narrow.file = "permissions_short.json" // the server says more than asked: not trusted
		rp := newReplay(t, patAuth, list, narrow)
		got, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "SANDBOX/")
		if err != nil || !reflect.DeepEqual(got, []relay.Repository{scratch}) {
			t.Errorf("Repositories(SANDBOX/) = %+v, %v; want scratch", got, err)
		}
	})
	t.Run("a server that cannot check permissions lists every repository", func(t *testing.T) {
		refused := perms
		refused.status, refused.file = http.StatusNotFound, "err_server.json"
		rp := newReplay(t, patAuth, list, refused)
		got, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
		if err != nil || !reflect.DeepEqual(got, []relay.Repository{billingRepo, docs, scratch}) {
			t.Errorf("Repositories = %+v, %v; want all three enabled repositories", got, err)
		}
	})
	t.Run("a rate limit on the permission check is reported", func(t *testing.T) {
		limited := perms
		limited.status, limited.file, limited.header = http.StatusTooManyRequests, "err_rate_limited.json", map[string]string{"Retry-After": "12"}
		rp := newReplay(t, patAuth, list, limited)
		_, err := rp.client(azure.Services(), services, patCred).Repositories(t.Context(), "")
		if e := wantCode(t, err, relay.ERateLimited, "Repositories"); e.RetryAfter != 12*time.Second {
			t.Errorf("RetryAfter = %v, want 12s", e.RetryAfter)
		}
	})
	t.Run("TFS 2018 sends remoteUrl only", func(t *testing.T) {
		rp := newReplay(t, patAuth,
			exchange{method: "GET", path: "/tfs/DefaultCollection/_apis/git/repositories", query: v("4.0"), file: "repositories_onprem.json"},
			exchange{method: "GET", path: "/tfs/DefaultCollection/_apis/permissions/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87/4",
				query:  with(v("4.0"), "tokens", "repoV2/d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "delimiter", ","),
				status: http.StatusNotFound, file: "err_server.json"},
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
			rp := newReplay(t, auth, exchange{method: "GET", path: tc.prefix + "/_apis/git/repositories/" + billingID, query: v(tc.api), file: "repository.json"})
			cfg := relay.HostConfig{Kind: azure.KindServer, Options: map[string]string{"server_version": tc.version, "suffix": tc.suffix}}
			got, err := rp.client(azure.Server(), cfg, cred).Repository(t.Context(), billingID)
			if err != nil || got != billing {
				t.Errorf("Repository = %+v, %v; want %+v", got, err, billing)
			}
		})
	}
	t.Run("VSTS at its account's root", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{method: "GET", path: "/_apis/git/repositories/" + billingID, query: v("7.1"), file: "repository.json"})
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
		rp := newReplay(t, patAuth, exchange{method: "GET", path: "/fabrikam/_apis/git/repositories/" + billingID, query: v("7.1"),
			status: http.StatusNotFound, file: "err_repo_not_found.json"})
		_, err := rp.client(azure.Services(), services, patCred).Repository(t.Context(), billingID)
		wantCode(t, err, relay.ENotFound, "Repository")
	})
}

func TestWireBranches(t *testing.T) {
	t.Run("pages follow the continuation token", func(t *testing.T) {
		q := with(v("7.1"), "filter", "heads/", "$top", "1000")
		rp := newReplay(t, patAuth,
			exchange{method: "GET", path: billingPath + "/refs", query: q, file: "refs_page1.json",
				header: map[string]string{"X-MS-ContinuationToken": "cmVmcy9oZWFkcy9yZWxlYXNl"}},
			exchange{method: "GET", path: billingPath + "/refs", query: with(q, "continuationToken", "cmVmcy9oZWFkcy9yZWxlYXNl"), file: "refs_page2.json"},
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
			exchange{method: "GET", path: billingPath + "/refs", query: with(v("7.1"), "filter", "heads/fix-1", "$top", "1000"), file: "refs_prefix.json"},
			exchange{method: "GET", path: billingPath + "/refs", query: with(v("7.1"), "filter", "heads/fi", "$top", "1000"), file: "refs_prefix.json"},
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
			exchange{method: "GET", path: "/fabrikam/_apis/git/repositories/" + billingID, query: v("7.1"), file: "repository.json"},
			exchange{method: "GET", path: billingPath + "/refs", query: with(v("7.1"), "filter", "heads/", "$top", "1000"), file: "empty_list.json"},
		)
		got, err := rp.client(azure.Services(), services, patCred).Branches(t.Context(), relay.Repository{ID: billingID}, "")
		if err != nil || len(got) != 0 {
			t.Errorf("Branches = %+v, %v; want none", got, err)
		}
	})
}

func TestWireCreateBranch(t *testing.T) {
	post := func(file string) exchange {
		return exchange{method: "POST", path: billingPath + "/refs", query: v("7.1"), file: file,
			body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`}
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
		rp := newReplay(t, patAuth, exchange{method: "POST", path: "/tfs/DefaultCollection/Back%20Office/_apis/git/repositories/" + billingID + "/refs",
			query: v("4.0"), file: "ref_created_onprem.json",
			body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`})
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
	read := exchange{method: "GET", path: billingPath + "/refs", query: with(v("7.1"), "filter", "heads/fix-1", "$top", "1000"), file: "refs_fix1.json"}
	post := func(file string) exchange {
		return exchange{method: "POST", path: billingPath + "/refs", query: v("7.1"), file: file,
			body: `[{"name":"refs/heads/fix-1","oldObjectId":"2222222222222222222222222222222222222222","newObjectId":"` + zero + `"}]`}
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
		missing.file = "empty_list.json"
		rp := newReplay(t, patAuth, missing)
		err := rp.client(azure.Services(), services, patCred).DeleteBranch(t.Context(), billing, "fix-1")
		wantCode(t, err, relay.ENotFound, "DeleteBranch")
	})
}

func TestWirePullRequests(t *testing.T) {
	t.Run("a draft on Azure DevOps Services", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{method: "POST", path: billingPath + "/pullrequests", query: v("7.1"), status: http.StatusCreated,
			file: "pull_created_draft.json",
			body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 Invoices as PDF","description":"Generates invoices as PDF.","isDraft":true}`})
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
		rp := newReplay(t, patAuth, exchange{method: "POST", path: "/tfs/DefaultCollection/Fiber/_apis/git/repositories/" + billingID + "/pullrequests",
			query: v("4.0"), status: http.StatusCreated, file: "pull_created_onprem.json",
			body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 Invoices as PDF"}`})
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
			exchange{method: "POST", path: billingPath + "/pullrequests", query: v("7.1"), status: http.StatusConflict, file: "err_pr_exists.json",
				body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"ABC-1 again"}`},
			exchange{method: "GET", path: billingPath + "/pullrequests", file: "pulls_active.json", query: with(v("7.1"),
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
			rp := newReplay(t, patAuth, exchange{method: "POST", path: billingPath + "/pullrequests", query: v("7.1"), status: tc.status, file: tc.file,
				body: `{"sourceRefName":"refs/heads/ABC-1-invoices","targetRefName":"refs/heads/main","title":"t"}`})
			_, err := rp.client(azure.Services(), services, patCred).CreatePullRequest(t.Context(), billing,
				relay.NewPullRequest{Source: "ABC-1-invoices", Target: "main", Title: "t"})
			wantCode(t, err, tc.code, "CreatePullRequest")
		})
	}
	t.Run("none active", func(t *testing.T) {
		rp := newReplay(t, patAuth, exchange{method: "GET", path: billingPath + "/pullrequests", file: "empty_list.json", query: with(v("7.1"),
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
	post := exchange{method: "POST", path: billingPath + "/refs", query: v("7.1"), status: http.StatusUnauthorized, file: "err_unauthorized.json",
		body: `[{"name":"refs/heads/ABC-1-invoices","oldObjectId":"` + zero + `","newObjectId":"` + mainSHA + `"}]`}
	who := exchange{method: "GET", path: "/fabrikam/_apis/connectionData"}
	t.Run("the token lacks Code (Read & write)", func(t *testing.T) {
		ok := who
		ok.file = "connection_data.json"
		rp := newReplay(t, patAuth, post, ok)
		_, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
		if e := wantCode(t, err, relay.EScopeMissing, "CreateBranch"); e.Scope != "vso.code_write" {
			t.Errorf("Scope = %q, want vso.code_write", e.Scope)
		}
	})
	t.Run("the token is dead", func(t *testing.T) {
		dead := who
		dead.status, dead.file = http.StatusUnauthorized, "err_unauthorized.json"
		rp := newReplay(t, patAuth, post, dead)
		_, err := rp.client(azure.Services(), services, patCred).CreateBranch(t.Context(), billing, "ABC-1-invoices", mainSHA)
		wantCode(t, err, relay.ECredentialRejected, "CreateBranch")
	})
}

func TestWireRateLimit(t *testing.T) {
	rp := newReplay(t, patAuth, exchange{method: "GET", path: "/fabrikam/_apis/git/repositories", query: v("7.1"),
		status: http.StatusTooManyRequests, file: "err_rate_limited.json",
		header: map[string]string{"Retry-After": "30", "X-RateLimit-Resource": "Core", "X-RateLimit-Delay": "30", "X-RateLimit-Remaining": "0"}})
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
	rp := newReplay(t, patAuth, exchange{method: "GET", path: "/fabrikam/_apis/connectionData", status: http.StatusFound,
		header: map[string]string{"Location": other.URL + "/_signin"}})
	_, err := rp.client(azure.Services(), services, patCred).Validate(t.Context())
	wantCode(t, err, relay.EHostError, "Validate redirected")
	if v, seen := leaked.Load("auth"); seen {
		t.Fatalf("the other host was asked, with Authorization %q", v)
	}
}
