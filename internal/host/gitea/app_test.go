package gitea_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// End to end through gitrelay: a user's token with read-only repository
// access passes the save-time check (Gitea cannot tell its scopes), and its
// first write is refused by Gitea's scope check; gitrelay then asks the
// user for a token with write:repository and links the token page, and the
// integration account is never tried instead.
func TestAReadOnlyUserTokenIsRefusedAtItsFirstWrite(t *testing.T) {
	f := apptest.Gitea()
	e := apptest.New(t, storetest.SQLite(t), apptest.Options{Fixture: &f})
	id := e.Integration(true, nil)
	const readOnly = "readonly-CANARY-token-0000000000000000003"
	e.Sim.AddToken(hostsim.Token{Value: readOnly, Login: apptest.BobLogin, Scopes: []string{"read:repository", "read:user"}})
	if r := e.SaveToken(e.Bob, id, readOnly); r.Status != http.StatusOK {
		t.Fatalf("saving a read-only token: %d %s", r.Status, r.Body)
	}
	r := e.CreateBranch(e.Bob, id, "ABC-1-readonly")
	if r.Status != http.StatusPreconditionRequired || r.Code() != "user_token_insufficient_scope" {
		t.Fatalf("create branch: %d %s, want 428 user_token_insufficient_scope", r.Status, r.Body)
	}
	if got := r.ErrorField("new_token_url"); !strings.HasSuffix(got, "/user/settings/applications") {
		t.Errorf("new_token_url = %q, want Gitea's Applications settings page", got)
	}
	for _, w := range e.Writes() {
		if w.Login == apptest.BotLogin {
			t.Errorf("the integration account acted: %+v", w)
		}
	}
	if _, made := e.Sim.Branches(apptest.Repo)["ABC-1-readonly"]; made {
		t.Error("the branch was created")
	}
	for _, secret := range []string{readOnly, apptest.BotToken, apptest.BobToken} {
		if strings.Contains(e.Responses(), secret) || strings.Contains(e.Logs.String(), secret) {
			t.Errorf("a token shows in responses or logs")
		}
	}
}
