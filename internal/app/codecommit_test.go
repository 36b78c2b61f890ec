package app_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/codecommit"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// keyIDs records the access key id of every signed request a handler
// receives, reads included (the simulator's write log holds writes only).
type keyIDs struct {
	mu  sync.Mutex
	ids []string
}

func (k *keyIDs) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if _, rest, ok := strings.Cut(auth, "Credential="); ok {
			id, _, _ := strings.Cut(rest, "/")
			k.mu.Lock()
			k.ids = append(k.ids, id)
			k.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (k *keyIDs) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ids)
}

// The gitrelay server's own AWS identity (environment variables, a
// profile, a session token) is never used for a user's action: under
// Require User PAT a user without keys is refused before any request, and
// every request is signed with a key someone saved in gitrelay.
func TestCodeCommitNeverActsWithTheServersAWSIdentity(t *testing.T) {
	const (
		ambientID      = "AKIAAMBIENTCANARY0001"
		ambientSecret  = "ambient-CANARY-secret-0000000000000000001"
		ambientSession = "ambient-CANARY-session-000000000000000001"
	)
	// Anything that follows AWS_ENDPOINT_URL lands here.
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request followed AWS_ENDPOINT_URL: %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer elsewhere.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", ambientID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ambientSecret)
	t.Setenv("AWS_SESSION_TOKEN", ambientSession)
	t.Setenv("AWS_PROFILE", "gitrelay-server")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", elsewhere.URL)
	t.Setenv("AWS_ENDPOINT_URL_CODECOMMIT", elsewhere.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", elsewhere.URL)

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := apptest.CodeCommit()
		seen := &keyIDs{}
		serve := f.Serve
		f.Serve = func(sim *hostsim.Sim) http.Handler { return seen.wrap(serve(sim)) }
		e := apptest.New(t, db, apptest.Options{Fixture: &f})
		// Were the server's key used, the host would accept it.
		e.Sim.AddToken(hostsim.Token{Value: ambientID + ":" + ambientSecret, Login: "server-role"})
		id := e.Integration(true, nil)
		botID, _ := hostsim.AccessKeyPair(apptest.BotToken)
		bobID, _ := hostsim.AccessKeyPair(apptest.BobToken)

		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-ambient"), http.StatusPreconditionRequired, "user_token_required")
		pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "source": "main", "target": "main"})
		wantStatus(t, pr, http.StatusPreconditionRequired, "user_token_required")
		if len(e.Writes()) != 0 {
			t.Fatalf("host writes without a saved key: %+v", e.Writes())
		}

		// A saved key acts, and only it.
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		r := e.CreateBranch(e.Bob, id, "ABC-1-bob")
		wantStatus(t, r, http.StatusCreated, "")
		if acted := r.JSON()["acted_as"].(map[string]any); acted["login"] != apptest.BobLogin {
			t.Errorf("acted_as = %v, want bob's IAM user", acted)
		}
		ids := seen.seen()
		if len(ids) == 0 {
			t.Fatal("the simulator saw no signed request")
		}
		for _, k := range ids {
			if k != botID && k != bobID {
				t.Errorf("a request was signed with %q, neither the integration's key nor bob's (the server's own is %q)", k, ambientID)
			}
		}
		for _, w := range e.Writes() {
			if w.Login != apptest.BobLogin {
				t.Errorf("write %+v was not made with bob's key", w)
			}
		}
		for _, secret := range []string{ambientSecret, ambientSession, apptest.BobToken, apptest.BotToken} {
			if strings.Contains(e.Responses(), secret) || strings.Contains(e.Logs.String(), secret) {
				t.Errorf("a response or log line shows a secret")
			}
		}
	})
}

// Saving a key pair answers with the IAM user it belongs to; CodeCommit
// tells no scopes and no expiry.
func TestCodeCommitSavedKeyShowsItsIAMUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := apptest.CodeCommit()
		e := apptest.New(t, db, apptest.Options{Fixture: &f})
		id := e.Integration(false, nil)
		r := e.SaveToken(e.Bob, id, apptest.BobToken)
		wantStatus(t, r, http.StatusOK, "")
		body := r.JSON()
		account, _ := body["account"].(map[string]any)
		if account["login"] != apptest.BobLogin || body["status"] != "valid" {
			t.Errorf("saved key = %s, want valid as %s", r.Body, apptest.BobLogin)
		}
		for _, action := range codecommit.IAMActions() {
			if help, _ := body["help"].(string); !strings.Contains(help, action) {
				t.Errorf("help = %q, want it to name %s", help, action)
			}
		}
		link, _ := body["new_token_url"].(string)
		if !strings.HasPrefix(link, "https://console.aws.amazon.com/iam/") {
			t.Errorf("new_token_url = %q, want the IAM console", link)
		}
	})
}
