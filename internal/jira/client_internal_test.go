package jira

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/host"
)

// What a failed Jira call records (devinfo failures shown to
// administrators) comes from the answer's error fields only, bounded, and
// never from the raw body of whatever answered.
func TestJiraErrorsQuoteOnlyErrorFields(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"REST errorMessages and errors", `{"errorMessages":["Issue does not exist"],"errors":{"summary":"required"}}`, "Issue does not exist; summary: required"},
		{"development information errors", `{"errors":[{"message":"Invalid repository id"}]}`, "Invalid repository id"},
		{"OAuth error", `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`, "invalid_grant; Unknown or invalid refresh token."},
		{"control characters removed", `{"message":"bad\u001b[31m request\u202e"}`, "bad[31m request"},
		{"an HTML page says nothing", "<html><body>CANARY proxy error</body></html>", ""},
		{"an unknown JSON shape says nothing", `{"detail":"CANARY"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorSaid([]byte(tc.body)); got != tc.want {
				t.Errorf("errorSaid = %q, want %q", got, tc.want)
			}
		})
	}
	long := errorSaid([]byte(`{"message":"` + strings.Repeat("x", 10000) + `"}`))
	if n := utf8.RuneCountInString(long); n > host.MaxQuote {
		t.Errorf("a long message is quoted with %d characters, want at most %d", n, host.MaxQuote)
	}
}

// Requests to Jira and Atlassian are measured and traced by operation,
// from a fixed set: the site, issue key and repository in the URL never
// become a label.
func TestJiraRequestsAreNamedByOperationNeverByURL(t *testing.T) {
	site := "https://secret-site.atlassian.net"
	for _, tt := range []struct{ method, url, want string }{
		{"GET", site + "/rest/api/3/mypermissions?permissions=VIEW_DEV_TOOLS&projectKey=ABC", "my_permissions"},
		{"POST", site + "/rest/api/3/permissions/project", "permitted_projects"},
		{"GET", site + "/rest/api/3/issue/ABC-1?fields=summary,issuetype", "get_issue"},
		{"GET", site + "/rest/api/3/myself", "myself"},
		{"GET", "https://api.atlassian.com/me", "myself"},
		{"POST", site + "/rest/devinfo/0.10/bulk", "devinfo_push"},
		{"DELETE", site + "/rest/devinfo/0.10/repository/secret-repo?_updateSequenceId=1", "devinfo_delete"},
		{"POST", "https://auth.atlassian.com/oauth/token", "oauth_token"},
		{"GET", "https://api.atlassian.com/oauth/token/accessible-resources", "accessible_resources"},
		{"GET", site + "/rest/something/else/secret-repo", "other"},
	} {
		if got := jiraOp(tt.method, tt.url); got != tt.want {
			t.Errorf("jiraOp(%s %s) = %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}
}
