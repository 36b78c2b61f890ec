package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// accessLines is the access-log lines in logs.
func accessLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// Every surface (pages, JSON API, Forge remote, health) gives each request
// an id, answers it in X-Request-ID and in error bodies, writes one
// access-log line naming the route pattern and who acted (never a token,
// cookie or query), and measures the request by route pattern.
func TestEveryRequestIsIdentifiedLoggedAndMeasuredOnEverySurface(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		bobForgeToken := e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
		fit := e.fake.FIT(jiratest.Claims{InstallationID: sessInstallA, CloudID: sessCloudA, SiteURL: sessSiteA, AccountID: "acc-bob"})
		const queryCanary, cookieCanary = "QUERY-CANARY-obs", "COOKIE-CANARY-obs"

		send := func(method, path, requestID string, forge bool) (*http.Response, string) {
			t.Helper()
			req, err := http.NewRequest(method, e.url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if requestID != "" {
				req.Header.Set("X-Request-ID", requestID)
			}
			req.Header.Set("Cookie", "gitrelay_session="+cookieCanary)
			if forge {
				req.Header.Set("Authorization", "Bearer "+fit)
				req.Header.Set("x-forge-oauth-user", bobForgeToken)
				req.Header.Set("x-forge-oauth-system", e.fake.SystemToken(sessCloudA))
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp, string(body)
		}

		before := len(accessLines(t, e.logs.String()))
		tests := []struct {
			name, method, path, sentID string
			forge                      bool
			wantStatus                 int
			wantRoute                  string
			wantTenant, wantUser       string
		}{
			{"a page, with the client's id", "GET", "/login?next=/issues/ABC-1&token=" + queryCanary, "page-req-1", false,
				http.StatusOK, "GET /login", "", ""},
			{"a page error, with the client's id", "GET", "/no-such-page", "page-req-2", false,
				http.StatusNotFound, "/", "", ""},
			{"an API error, with a generated id", "GET", "/api/v1/me?token=" + queryCanary, "", false,
				http.StatusUnauthorized, "GET /api/v1/me", "", ""},
			{"an unknown API route, with a malformed id replaced", "GET", "/api/v1/nope", "bad id;" + strings.Repeat("x", 70), false,
				http.StatusNotFound, "/api/", "", ""},
			{"a Forge call, naming the tenant and user", "GET", "/forge/issues/ABC-1/development?token=" + queryCanary, "forge-req-1", true,
				http.StatusOK, "GET /forge/issues/{key}/development", sessInstallA, "acc-bob"},
			{"a refused Forge call", "GET", "/forge/issues/ABC-1/development", "forge-req-2", false,
				http.StatusUnauthorized, "GET /forge/issues/{key}/development", "", ""},
			{"a health check", "GET", "/readyz", "health-req-1", false,
				http.StatusOK, "GET /readyz", "", ""},
		}
		var ids []string
		for _, tt := range tests {
			resp, body := send(tt.method, tt.path, tt.sentID, tt.forge)
			id := resp.Header.Get("X-Request-ID")
			ids = append(ids, id)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s: got %d %s, want %d", tt.name, resp.StatusCode, body, tt.wantStatus)
			}
			if httpx.ValidRequestID(tt.sentID) && id != tt.sentID || !httpx.ValidRequestID(id) || !httpx.ValidRequestID(tt.sentID) && id == tt.sentID {
				t.Errorf("%s: sent request id %q, answered %q", tt.name, tt.sentID, id)
			}
			if resp.StatusCode >= 400 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				if !strings.Contains(body, "<code>"+id+"</code>") {
					t.Errorf("%s: the error page does not show the request id %q:\n%s", tt.name, id, body)
				}
			} else if resp.StatusCode >= 400 {
				var er httpx.ErrorResponse
				if err := json.Unmarshal([]byte(body), &er); err != nil || er.Error.RequestID != id {
					t.Errorf("%s: the error body %s does not quote the request id %q", tt.name, body, id)
				}
			}
		}

		lines := accessLines(t, e.logs.String())[before:]
		if len(lines) != len(tests) {
			t.Fatalf("%d access-log lines for %d requests:\n%v", len(lines), len(tests), lines)
		}
		for i, tt := range tests {
			l := lines[i]
			if l["route"] != tt.wantRoute || l["method"] != tt.method || l["status"] != float64(tt.wantStatus) ||
				l["request_id"] != ids[i] || l["tenant"] != tt.wantTenant || l["user_id"] != tt.wantUser {
				t.Errorf("%s: access log %v, want route %q, status %d, request id %q, tenant %q, user %q",
					tt.name, l, tt.wantRoute, tt.wantStatus, ids[i], tt.wantTenant, tt.wantUser)
			}
			if b, _ := l["bytes"].(float64); b <= 0 {
				t.Errorf("%s: access log counts %v bytes", tt.name, l["bytes"])
			}
		}
		for _, secret := range []string{queryCanary, cookieCanary, fit, bobForgeToken} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("the log holds a token, cookie or query secret %.20s…", secret)
			}
		}

		// Lines logged while serving a request carry its id: the refused
		// Forge call's warning names forge-req-2.
		found := false
		for _, line := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(line, "refused a Forge invocation") && strings.Contains(line, `"request_id":"forge-req-2"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("the Forge refusal's log line lacks its request id:\n%s", e.logs)
		}

		_, metrics := send("GET", "/metrics", "", false)
		for _, want := range []string{
			`gitrelay_http_requests_total{route="GET /login",status="200"}`,
			`gitrelay_http_requests_total{route="GET /forge/issues/{key}/development",status="200"}`,
			`gitrelay_http_requests_total{route="GET /forge/issues/{key}/development",status="401"}`,
			`gitrelay_http_requests_total{route="GET /api/v1/me",status="401"}`,
			`gitrelay_build_info{`,
			// The Forge call's outbound requests: Atlassian's key set, and
			// Jira's REST API (the user's permissions), each its own kind.
			`gitrelay_host_request_duration_seconds_count{kind="jwks",op="fetch_keys",status_class="2xx"}`,
			`gitrelay_host_request_duration_seconds_count{kind="jira",op="my_permissions",status_class="2xx"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// The outbound requests an action makes are measured by host kind,
// operation and status class, with no URL, repository or token in any
// label; the database pools' statistics are exported at each scrape.
func TestHostRequestsAndDatabasePoolsAreMeasured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, []string{"ABC"})
		if r := e.CreateBranch(e.Bob, id, "ABC-1-measured"); r.Status != http.StatusCreated {
			t.Fatalf("create branch: %d %s", r.Status, r.Body)
		}
		r := e.Do("GET", "/metrics", "", nil)
		metrics := string(r.Body)
		kind := `kind="github-enterprise"`
		for _, want := range []string{
			`gitrelay_host_request_duration_seconds_count{` + kind + `,op="validate",status_class="2xx"}`,
			`gitrelay_host_request_duration_seconds_count{` + kind + `,op="list_repositories",status_class="2xx"}`,
			`gitrelay_host_request_duration_seconds_count{` + kind + `,op="create_branch",status_class="2xx"}`,
			`gitrelay_host_request_duration_seconds_bucket{` + kind + `,op="create_branch",status_class="2xx",le="+Inf"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		pools := []string{"write", "read"}
		if db.Dialect() == store.DialectPostgres {
			pools = []string{"main"}
		}
		for _, pool := range pools {
			for _, name := range []string{"gitrelay_db_open_connections", "gitrelay_db_max_open_connections", "gitrelay_db_in_use_connections",
				"gitrelay_db_idle_connections", "gitrelay_db_wait_count_total", "gitrelay_db_wait_duration_seconds_total"} {
				if want := name + `{pool="` + pool + `"} `; !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		}
		hostAddr := strings.TrimPrefix(e.HostURL, "http://")
		for _, line := range strings.Split(metrics, "\n") {
			if !strings.HasPrefix(line, "gitrelay_host_request") {
				continue
			}
			for _, leak := range []string{apptest.BotToken, apptest.BobToken, "widgets", "acme", hostAddr} {
				if strings.Contains(line, leak) {
					t.Errorf("metric line %q carries %q", line, leak)
				}
			}
		}
	})
}
