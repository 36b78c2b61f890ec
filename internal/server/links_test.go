package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/server"
)

// The setup link is the User settings entry for the integration with the
// issue to return to, its query encoded as url.Values would encode it.
func TestSetupURLIsTheTokensPageWithTheIntegrationAndTheIssue(t *testing.T) {
	for _, tt := range []struct{ base, id, issue string }{
		{"https://gitrelay.example.com", "0f3c9a", "ABC-1"},
		{"https://gitrelay.example.com/", "0f3c9a", ""},
		{"https://gitrelay.example.com/relay//", "a b&c=d/é", "ABC-12"},
		{"", "id", "X1-7"},
	} {
		q := url.Values{"integration": {tt.id}}
		if tt.issue != "" {
			q.Set("return_to", "/issues/"+tt.issue)
		}
		want := strings.TrimRight(tt.base, "/") + "/settings/tokens?" + q.Encode() + "#integration-" + tt.id
		if got := (server.Links{Base: tt.base}).SetupURL(tt.id, tt.issue); got != want {
			t.Errorf("SetupURL(%q, %q) with base %q:\n got %s\nwant %s", tt.id, tt.issue, tt.base, got, want)
		}
	}
}
