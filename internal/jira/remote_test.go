package jira_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestInvalidInvocationTokensAreRefusedWithoutDetail(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	valid := jiratest.Claims{InstallationID: installA, CloudID: cloudA, SiteURL: siteA, AccountID: "acc-bob", IssuedAt: now}
	with := func(change func(c *jiratest.Claims)) jiratest.Claims {
		c := valid
		change(&c)
		return c
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, e.fake.MapClaims(valid)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// HS256 keyed with the public key: the classic algorithm confusion.
	hsTok := jwt.NewWithClaims(jwt.SigningMethodHS256, e.fake.MapClaims(valid))
	hsTok.Header["kid"] = jiratest.KeyID
	hs, err := hsTok.SignedString(e.fake.Key.PublicKey.N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"not a JWT", "not-a-jwt"},
		{"forged: signed by another key under the published key id", e.fake.FITWithKey(valid, otherKey, jiratest.KeyID)},
		{"expired", e.fake.FIT(with(func(c *jiratest.Claims) { c.IssuedAt = now.Add(-2 * time.Minute) }))},
		{"not yet valid", e.fake.FIT(with(func(c *jiratest.Claims) { c.IssuedAt = now.Add(2 * time.Minute) }))},
		{"wrong audience", e.fake.FIT(with(func(c *jiratest.Claims) { c.Audience = "ari:cloud:ecosystem::app/someone-else" }))},
		{"wrong issuer", e.fake.FIT(with(func(c *jiratest.Claims) { c.Issuer = "forge/not-invocation" }))},
		{"alg none", none},
		{"HS256 keyed with the public key", hs},
		{"unknown key id", e.fake.FITWithKey(valid, otherKey, "unpublished-key")},
		{"tampered payload", tamper(e.fake.FIT(valid))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/forge/issues/ABC-1/development", invocation{fit: tt.token, userToken: e.bobTok, sysToken: e.sysA}, nil)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("got status %d %s, want 401", r.Status, r.Body)
			}
			want := `{"error":{"code":"unauthenticated","message":"Invalid Forge invocation."}}`
			if got := strings.TrimSpace(string(r.Body)); got != want {
				t.Fatalf("got body %s, want %s", got, want)
			}
		})
	}
	t.Run("the valid token is accepted", func(t *testing.T) {
		r := e.do("GET", "/forge/issues/ABC-1/development", invocation{fit: e.fake.FIT(valid), userToken: e.bobTok, sysToken: e.sysA}, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.Status, r.Body)
		}
	})
	t.Run("a UI call without the user token is refused", func(t *testing.T) {
		r := e.do("GET", "/forge/issues/ABC-1/development", invocation{fit: e.fake.FIT(valid), sysToken: e.sysA}, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("got %d %s, want 401", r.Status, r.Body)
		}
	})
	e.noSecrets()
}

// tamper changes the payload of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	if p[5] == 'A' {
		p[5] = 'B'
	} else {
		p[5] = 'A'
	}
	return parts[0] + "." + string(p) + "." + parts[2]
}

func TestKeyRotationFetchesTheKeySetAgainButNotForEveryUnknownKey(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	if got := e.fake.JWKSHits(); got != 1 {
		t.Fatalf("JWKS downloads after install: got %d, want 1", got)
	}
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.PublishKey("rotated-key", &newKey.PublicKey)
	e.clock.Advance(time.Minute)
	claims := jiratest.Claims{InstallationID: installA, CloudID: cloudA, AccountID: "acc-bob", IssuedAt: e.clock.Now()}
	r := e.do("GET", "/forge/issues/ABC-1/development", invocation{fit: e.fake.FITWithKey(claims, newKey, "rotated-key"),
		userToken: e.bobTok, sysToken: e.sysA}, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("token signed by the rotated key: got %d %s, want 200", r.Status, r.Body)
	}
	if got := e.fake.JWKSHits(); got != 2 {
		t.Fatalf("JWKS downloads after rotation: got %d, want 2", got)
	}
	for i := 0; i < 5; i++ {
		e.do("GET", "/forge/issues/ABC-1/development", invocation{fit: e.fake.FITWithKey(claims, newKey, "made-up-"+string(rune('a'+i))),
			userToken: e.bobTok}, nil)
	}
	if got := e.fake.JWKSHits(); got != 2 {
		t.Fatalf("JWKS downloads after made-up key ids: got %d, want still 2", got)
	}
}

func TestInstallationCreatesATenantWithItsSystemTokenSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		ctx := context.Background()
		in, err := db.JiraInstallation(ctx, installA)
		if err != nil {
			t.Fatal(err)
		}
		want := store.JiraInstallation{TenantID: installA, AppID: jiratest.AppID, CloudID: cloudA, APIBaseURL: e.fake.APIBase(cloudA)}
		got := store.JiraInstallation{TenantID: in.TenantID, AppID: in.AppID, CloudID: in.CloudID, APIBaseURL: in.APIBaseURL}
		if got != want {
			t.Fatalf("installation: got %+v, want %+v", got, want)
		}
		sealed, _, err := db.JiraSystemToken(ctx, installA)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(sealed), e.sysA) {
			t.Fatal("the system token is stored in clear")
		}
		opened, err := e.keys.Open(sealed, store.JiraSystemTokenOwner(installA))
		if err != nil || string(opened) != e.sysA {
			t.Fatalf("sealed system token opens to %q (%v), want the token Forge sent", opened, err)
		}
		if _, err := e.keys.Open(sealed, store.JiraSystemTokenOwner(installB)); err == nil {
			t.Fatal("site A's system token opens as site B's")
		}

		// A UI call brings the site URL, which backend calls lack.
		if r := e.do("GET", "/forge/issues/ABC-1/development", e.bob(), nil); r.Status != http.StatusOK {
			t.Fatalf("development: got %d %s", r.Status, r.Body)
		}
		in, _ = db.JiraInstallation(ctx, installA)
		if in.SiteURL != siteA {
			t.Fatalf("site URL: got %q, want %q", in.SiteURL, siteA)
		}
	})
}

func TestJiraPermissionsDecideWhoSeesTheDevelopmentPanel(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	e.integration(false)
	tests := []struct {
		name string
		inv  invocation
		want int
	}{
		{"a user with View Development Tools sees the panel", e.bob(), http.StatusOK},
		{"a user without View Development Tools is refused", e.carol(), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/forge/issues/ABC-1/development", tt.inv, nil)
			if r.Status != tt.want {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tt.want)
			}
		})
	}
	t.Run("a user without View Development Tools cannot create a branch", func(t *testing.T) {
		id := e.integration(false)
		r := e.do("POST", "/forge/issues/ABC-1/branches", e.carol(), map[string]any{"integration_id": id, "repository_id": "1", "name": "ABC-1-x"})
		if r.Status != http.StatusForbidden {
			t.Fatalf("got %d %s, want 403", r.Status, r.Body)
		}
		if len(e.sim.Writes()) != 0 {
			t.Fatalf("the host was written to: %v", e.sim.Writes())
		}
	})
	t.Run("only Jira administrators create integrations", func(t *testing.T) {
		r := e.do("POST", "/forge/integrations", e.bob(), map[string]any{"kind": "github-enterprise", "base_url": e.hostURL,
			"name": "Mine", "credential": map[string]string{"token": botToken}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("got %d %s, want 403", r.Status, r.Body)
		}
	})
	t.Run("a permission removed in Jira stops working within a minute", func(t *testing.T) {
		e.fake.SetDevTools(cloudA, "acc-bob")
		if r := e.do("GET", "/forge/issues/ABC-1/development", e.bob(), nil); r.Status != http.StatusOK {
			t.Fatalf("within the cache: got %d, want 200", r.Status)
		}
		e.clock.Advance(61 * time.Second)
		if r := e.do("GET", "/forge/issues/ABC-1/development", e.bob(), nil); r.Status != http.StatusForbidden {
			t.Fatalf("after a minute: got %d %s, want 403", r.Status, r.Body)
		}
	})
}

func TestRequireUserPATJourneyForAJiraUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		id := e.integration(true)
		repo := e.repoID(e.bob(), id)

		// No PAT yet: setup required, and the host is not touched.
		r := e.do("POST", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{"integration_id": id, "repository_id": repo})
		if r.Status != http.StatusPreconditionRequired || r.Code() != relay.EUserTokenRequired {
			t.Fatalf("without a PAT: got %d %s, want 428 %s", r.Status, r.Body, relay.EUserTokenRequired)
		}
		setup, _ := r.JSON()["error"].(map[string]any)["setup_url"].(string)
		if !strings.HasPrefix(setup, e.url+"/settings/tokens?") || !strings.Contains(setup, "return_to=%2Fissues%2FABC-1") {
			t.Fatalf("setup_url: got %q, want gitrelay's User settings returning to the issue", setup)
		}
		for _, w := range e.sim.Writes() {
			t.Fatalf("the host was written to before a PAT was saved: %+v", w)
		}

		// Bob saves his PAT through the panel.
		r = e.do("PUT", "/forge/me/tokens/"+id, e.bob(), map[string]string{"token": bobPAT})
		if r.Status != http.StatusOK || r.JSON()["status"] != string(relay.TokenValid) {
			t.Fatalf("saving the PAT: got %d %s, want 200 valid", r.Status, r.Body)
		}

		// The branch is named from Jira's summary and type, and created as bob.
		r = e.do("POST", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{"integration_id": id, "repository_id": repo})
		if r.Status != http.StatusCreated {
			t.Fatalf("creating the branch: got %d %s, want 201", r.Status, r.Body)
		}
		branch := r.JSON()["name"].(string)
		if branch != "ABC-1-fix-login-on-safari" {
			t.Fatalf("branch name: got %q, want it rendered from Jira's summary", branch)
		}
		acted := r.JSON()["acted_as"].(map[string]any)
		if acted["via"] != string(relay.ViaUserToken) || acted["login"] != bobLogin {
			t.Fatalf("acted as: got %v, want bob's own PAT", acted)
		}
		writes := e.sim.Writes()
		if len(writes) != 1 || writes[0].Login != bobLogin {
			t.Fatalf("host writes: got %+v, want one, as %s", writes, bobLogin)
		}

		// The panel lists it, with the PAT state.
		r = e.do("GET", "/forge/issues/ABC-1/development", e.bob(), nil)
		dev := r.JSON()
		bs, _ := dev["branches"].([]any)
		if r.Status != http.StatusOK || len(bs) != 1 || bs[0].(map[string]any)["name"] != branch {
			t.Fatalf("development panel: got %d %s, want the branch listed", r.Status, r.Body)
		}

		// Pull request (once there is work on the branch), then delete the branch.
		e.sim.Commit("acme/widgets", branch)
		r = e.do("POST", "/forge/issues/ABC-1/pull-requests", e.bob(), map[string]any{"integration_id": id, "repository_id": repo, "source": branch})
		if r.Status != http.StatusCreated || r.JSON()["title"] != "ABC-1 Fix login on Safari" {
			t.Fatalf("creating the pull request: got %d %s, want 201 titled from Jira", r.Status, r.Body)
		}
		r = e.do("DELETE", "/forge/issues/ABC-1/branches", e.bob(), map[string]any{"integration_id": id, "repository_id": repo, "name": branch})
		if r.Status != http.StatusNoContent {
			t.Fatalf("deleting the branch: got %d %s, want 204", r.Status, r.Body)
		}
		for _, w := range e.sim.Writes() {
			if w.Login != bobLogin {
				t.Fatalf("a write acted as %q, want only %s under Require User PAT: %+v", w.Login, bobLogin, w)
			}
		}

		// Audit names the Jira user and bob's git identity.
		events, err := db.Audit(context.Background(), installA, relay.AuditFilter{Action: relay.ActionBranchCreate, Outcome: relay.OutcomeSuccess})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].UserID != "acc-bob" || events[0].Login != bobLogin || events[0].Via != relay.ViaUserToken {
			t.Fatalf("audit: got %+v, want bob's branch as %s", events, bobLogin)
		}
		e.noSecrets()
	})
}

func TestAUserOfOneSiteCannotTouchAnother(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	idA := e.integration(false)
	repo := e.repoID(e.bob(), idA)

	t.Run("site B's administrator does not see site A's integration", func(t *testing.T) {
		r := e.do("GET", "/forge/integrations", e.dave(), nil)
		if r.Status != http.StatusOK || len(r.List()) != 0 {
			t.Fatalf("got %d %s, want an empty list", r.Status, r.Body)
		}
		r = e.do("POST", "/forge/issues/ABC-1/branches", e.dave(), map[string]any{"integration_id": idA, "repository_id": repo, "name": "ABC-1-x"})
		if r.Status != http.StatusNotFound {
			t.Fatalf("acting through site A's integration from site B: got %d %s, want 404", r.Status, r.Body)
		}
	})
	t.Run("a token claiming site B with site A's user token is refused by Jira", func(t *testing.T) {
		inv := e.ui(installB, cloudB, siteB, "acc-bob", e.bobTok, e.sysB)
		r := e.do("GET", "/forge/issues/ABC-1/development", inv, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("got %d %s, want 401", r.Status, r.Body)
		}
	})
	t.Run("a Jira token in the context of one user does not answer for another", func(t *testing.T) {
		bob := relay.Principal{TenantID: installA, UserID: "acc-bob"}
		ctx := jira.WithUser(context.Background(), bob, e.fake.APIBase(cloudA), e.bobTok)
		for _, p := range []relay.Principal{{TenantID: installA, UserID: "acc-alice"}, {TenantID: installB, UserID: "acc-bob"}} {
			if _, err := e.jdir.CanViewDevTools(ctx, p, "ABC"); relay.ErrorCode(err) != relay.EUnauthenticated {
				t.Fatalf("asking for %+v with bob's token: got %v, want %s", p, err, relay.EUnauthenticated)
			}
		}
	})
	if len(e.sim.Writes()) != 0 {
		t.Fatalf("the host was written to: %+v", e.sim.Writes())
	}
}

func TestUninstallRemovesTheSitesSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		ctx := context.Background()
		id := e.integration(true)
		if r := e.do("PUT", "/forge/me/tokens/"+id, e.bob(), map[string]string{"token": bobPAT}); r.Status != http.StatusOK {
			t.Fatalf("saving the PAT: %d %s", r.Status, r.Body)
		}
		// Site B keeps its own integration.
		rb := e.do("POST", "/forge/integrations", e.dave(), map[string]any{"kind": "github-enterprise", "base_url": e.hostURL,
			"name": "B", "credential": map[string]string{"token": botToken}})
		if rb.Status != http.StatusCreated {
			t.Fatalf("site B integration: %d %s", rb.Status, rb.Body)
		}

		if r := e.do("POST", "/forge/admin/uninstall", e.bob(), nil); r.Status != http.StatusForbidden {
			t.Fatalf("uninstall by a non-administrator: got %d, want 403", r.Status)
		}
		if r := e.do("POST", "/forge/admin/uninstall", e.alice(), nil); r.Status != http.StatusNoContent {
			t.Fatalf("uninstall: got %d %s, want 204", r.Status, r.Body)
		}
		if _, err := db.Integration(ctx, installA, id); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("site A's integration after uninstall: got %v, want not found", err)
		}
		if _, err := db.UserToken(ctx, installA, "acc-bob", id); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("bob's PAT after uninstall: got %v, want not found", err)
		}
		if _, _, err := db.JiraSystemToken(ctx, installA); relay.ErrorCode(err) != relay.ENotFound {
			t.Fatalf("system token after uninstall: got %v, want not found", err)
		}
		if ins, err := db.Integrations(ctx, installB); err != nil || len(ins) != 1 {
			t.Fatalf("site B's integrations: got %d (%v), want 1", len(ins), err)
		}
	})
}

func TestReinstallReplacesTheOldInstallation(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	ctx := context.Background()
	id := e.integration(false)
	reinstalled := "ari:cloud:ecosystem::installation/aaaaaaaa-0000-4000-8000-00000000000f"
	r := e.do("POST", "/forge/lifecycle", e.trigger(reinstalled, cloudA, e.sysA), map[string]any{"eventType": jira.EventInstalled})
	if r.Status != http.StatusNoContent {
		t.Fatalf("installed: got %d %s", r.Status, r.Body)
	}
	if _, err := e.db.Integration(ctx, installA, id); relay.ErrorCode(err) != relay.ENotFound {
		t.Fatalf("old installation's integration: got %v, want removed", err)
	}
	ins, err := e.db.JiraInstallationsByCloud(ctx, cloudA)
	if err != nil || len(ins) != 1 || ins[0].TenantID != reinstalled {
		t.Fatalf("installations of site A: got %+v (%v), want only the new one", ins, err)
	}
}

func TestScheduledTriggerKeepsTheSystemTokenCurrent(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	fresh := e.fake.SystemToken(cloudA)
	e.clock.Advance(time.Hour)
	if r := e.do("POST", "/forge/scheduled", e.trigger(installA, cloudA, fresh), map[string]any{}); r.Status != http.StatusNoContent {
		t.Fatalf("scheduled: got %d %s", r.Status, r.Body)
	}
	sealed, at, err := e.db.JiraSystemToken(context.Background(), installA)
	if err != nil {
		t.Fatal(err)
	}
	opened, _ := e.keys.Open(sealed, store.JiraSystemTokenOwner(installA))
	if string(opened) != fresh || !at.Equal(e.clock.Now()) {
		t.Fatalf("system token after the trigger: got a different token or time %v, want the fresh one at %v", at, e.clock.Now())
	}
	e.noSecrets(fresh)
}

// A UI call stores the system token it carries only when the stored one is
// older than the refresh age. The installation it compares with may be
// what this process read or wrote in the last minute, never older: a token
// stored elsewhere meanwhile is seen within a minute.
func TestUICallsStoreANewerSystemTokenOnlyWhenTheStoredOneAged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.install()
		stored := func() (string, time.Time) {
			t.Helper()
			sealed, at, err := e.db.JiraSystemToken(context.Background(), installA)
			if err != nil {
				t.Fatal(err)
			}
			opened, err := e.keys.Open(sealed, store.JiraSystemTokenOwner(installA))
			if err != nil {
				t.Fatal(err)
			}
			return string(opened), at
		}
		panel := func(sys string) {
			t.Helper()
			if r := e.do("GET", "/forge/issues/ABC-1/development", e.ui(installA, cloudA, siteA, "acc-bob", e.bobTok, sys), nil); r.Status != http.StatusOK {
				t.Fatalf("panel: got %d %s", r.Status, r.Body)
			}
		}
		// The first call records the site's address the installed event
		// did not carry, with its token.
		panel(e.sysA)
		first, firstAt := stored()

		e.clock.Advance(5 * time.Minute)
		panel(e.fake.SystemToken(cloudA))
		if tok, at := stored(); tok != first || !at.Equal(firstAt) {
			t.Fatalf("a call 5 minutes after the last stored token replaced it (at %v)", at)
		}

		e.clock.Advance(15 * time.Minute)
		newer := e.fake.SystemToken(cloudA)
		panel(newer)
		if tok, at := stored(); tok != newer || !at.Equal(e.clock.Now()) {
			t.Fatalf("a call 20 minutes after the last stored token kept it (at %v), want the call's stored now", at)
		}

		// Another replica stores a token; this process, which wrote the
		// installation moments ago, trusts what it wrote for a minute at
		// most, then sees the other's.
		e.clock.Advance(16 * time.Minute)
		elsewhere := e.fake.SystemToken(cloudA)
		sealed, err := e.keys.Seal([]byte(elsewhere), store.JiraSystemTokenOwner(installA))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.PutJiraInstallation(context.Background(), store.JiraInstallation{TenantID: installA, SystemTokenAt: e.clock.Now()}, sealed); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		panel(e.fake.SystemToken(cloudA))
		if tok, _ := stored(); tok != elsewhere {
			t.Fatal("a call replaced the system token another replica stored 2 minutes before, want it kept")
		}
		e.noSecrets(first, newer, elsewhere)
	})
}
