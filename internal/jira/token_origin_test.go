package jira_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// A Jira site administrator who points an integration at another server
// collects nobody's PAT: every user's token is deleted with the change,
// and the panel's token listing says why.
func TestJiraAdministratorMovingAnIntegrationDropsPATs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		id := e.integration(false)
		if r := e.do("PUT", "/forge/me/tokens/"+id, e.bob(), map[string]string{"token": bobPAT}); r.Status != http.StatusOK {
			t.Fatalf("saving bob's PAT: %d %s", r.Status, r.Body)
		}

		other := hostsim.New()
		t.Cleanup(other.Close)
		other.AddToken(hostsim.Token{Value: "ghp_CANARYaliceBOT000000000000000000006", Login: "alice-bot", Scopes: []string{"repo"}})
		srv := httptest.NewServer(other.Handler())
		t.Cleanup(srv.Close)
		r := e.do("PATCH", "/forge/integrations/"+id, e.alice(), map[string]any{
			"base_url": srv.URL, "credential": map[string]string{"token": "ghp_CANARYaliceBOT000000000000000000006"}})
		if r.Status != http.StatusOK {
			t.Fatalf("moving the integration: %d %s", r.Status, r.Body)
		}
		if _, err := db.UserToken(t.Context(), installA, "acc-bob", id); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("bob's token after the move: %v, want deleted", err)
		}
		r = e.do("GET", "/forge/me/tokens", e.bob(), nil)
		var mine map[string]any
		for _, v := range r.List() {
			if v["integration_id"] == id {
				mine = v
			}
		}
		reason, _ := mine["status_reason"].(string)
		if mine["status"] != string(relay.TokenMissing) || !strings.Contains(reason, srv.URL) {
			t.Fatalf("bob's token in the panel: %v", mine)
		}
		events, err := db.Audit(t.Context(), installA, relay.AuditFilter{Action: relay.ActionTokenDropped})
		if err != nil || len(events) != 1 || events[0].Username != "acc-bob" {
			t.Fatalf("audit: %+v %v", events, err)
		}
	})
}
