package web_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// When an administrator points an integration at another server, User
// settings shows the user's token as not set, with the reason.
func TestTokensPageSaysWhyATokenWasDeleted(t *testing.T) {
	env := newEnv(t)
	id := env.Integration(false, nil)
	if r := env.SaveToken(env.Bob, id, apptest.BobToken); r.Status != http.StatusOK {
		t.Fatalf("saving bob's token: %d %s", r.Status, r.Body)
	}

	sim := hostsim.New()
	t.Cleanup(sim.Close)
	sim.AddToken(hostsim.Token{Value: "ghp_CANARYnewBOT0000000000000000000000005", Login: "new-bot", Scopes: env.Fixture.FullScopes})
	srv := httptest.NewServer(env.Fixture.Serve(sim))
	t.Cleanup(srv.Close)
	r := env.Do("PATCH", "/api/v1/integrations/"+id, env.Admin, map[string]any{
		"base_url": srv.URL, "credential": env.Fixture.Credential("ghp_CANARYnewBOT0000000000000000000000005")})
	if r.Status != http.StatusOK {
		t.Fatalf("moving the integration: %d %s", r.Status, r.Body)
	}

	v := newVisitor(t, env)
	v.signIn("bob", bobPassword)
	body := html.UnescapeString(v.get("/settings/tokens").Body)
	want := "Not set — The integration now points at another server (" + srv.URL + "/api/v3); save a new token. Until then, actions use the integration account."
	if !strings.Contains(body, want) {
		t.Fatalf("the tokens page does not say why the token is gone; want %q in:\n%s", want, body)
	}
}
