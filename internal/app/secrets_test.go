package app_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// canaries are the secrets a full journey handles.
var canaries = []string{apptest.BotToken, apptest.BobToken, apptest.CarolToken, "ghp_CANARYrefused00000000000000000000005",
	passwordAsUsername}

// passwordAsUsername is a password typed into the sign-in form's username
// field, as people do: the sign-in throttle counts it, but must not keep it.
const passwordAsUsername = "canary-passw0rd-in-the-username-field" // lower case, as the throttle folds names

// leaks reports which canaries (or their base64 forms) appear in text.
func leaks(text string) []string {
	var found []string
	for _, c := range canaries {
		for _, form := range []string{c, base64.StdEncoding.EncodeToString([]byte(c)), base64.RawURLEncoding.EncodeToString([]byte(c)), c[4:20]} {
			if strings.Contains(text, form) {
				found = append(found, form)
			}
		}
	}
	return found
}

// journey drives every path that handles a secret: integration creation and
// credential change, token save (accepted and refused), actions with each
// identity, host failures, token removal.
func journey(t *testing.T, e *apptest.Env) {
	id := e.Integration(false, nil)
	e.Sim.AddToken(hostsim.Token{Value: "ghp_CANARYrefused00000000000000000000005", Login: "eve", Scopes: []string{"gist"}})
	e.Sim.AddToken(hostsim.Token{Value: apptest.CarolToken, Login: "carol-gh", Scopes: []string{"repo"}})
	wantStatus(t, e.SaveToken(e.Bob, id, "ghp_CANARYrefused00000000000000000000005"), http.StatusUnprocessableEntity, "token_insufficient_scope")
	wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-bot"), http.StatusCreated, "")
	wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
	wantStatus(t, e.SaveToken(e.Carol, id, apptest.CarolToken), http.StatusOK, "")
	wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-bob"), http.StatusCreated, "")
	e.Sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: 500, Times: 1})
	wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-boom"), http.StatusBadGateway, "host_error")
	wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{
		"credential": map[string]string{"token": apptest.BotToken}, "require_user_pat": true}), http.StatusOK, "")
	wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{
		"credential": map[string]string{"token": apptest.CarolToken + "x"}}), http.StatusUnprocessableEntity, "token_invalid")
	signIn, err := e.Client.PostForm(e.URL+"/login", url.Values{"username": {passwordAsUsername}, "password": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	signIn.Body.Close()
	if signIn.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in with a password as username: %d, want 401", signIn.StatusCode)
	}
	e.Sim.RevokeToken(apptest.BobToken)
	wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-revoked"), http.StatusPreconditionRequired, "user_token_revoked")
	for _, path := range []string{"/api/v1/integrations", "/api/v1/integrations/" + id, "/api/v1/me/tokens", "/api/v1/audit?format=csv",
		"/api/v1/audit", "/api/v1/issues/ABC-1/development", "/metrics"} {
		e.Do("GET", path, e.Admin, nil)
		e.Do("GET", path, e.Bob, nil)
	}
}

// 12. Canary secrets never appear in logs, HTTP responses, errors or the
// database in plaintext.
func TestSecretsNeverLeak(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		db := openStore(t, store.Config{DataDir: dir})
		e := apptest.New(t, db)
		journey(t, e)
		checkNoLeaks(t, e)
		// Every byte of the database files, WAL included.
		_ = db.Close()
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) == 0 {
			t.Fatal("no database files found")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if l := leaks(string(b)); len(l) > 0 {
				t.Errorf("%s holds secrets in plaintext: %q", filepath.Base(f), l)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.EmptyPostgresURL(t)
		db := openStore(t, store.Config{DatabaseURL: url})
		e := apptest.New(t, db)
		journey(t, e)
		checkNoLeaks(t, e)
		dump := dumpPostgres(t, url)
		if len(dump) < 1000 {
			t.Fatalf("dump too small to be real: %d bytes", len(dump))
		}
		if l := leaks(dump); len(l) > 0 {
			t.Errorf("tables hold secrets in plaintext: %q", l)
		}
	})
}

func checkNoLeaks(t *testing.T, e *apptest.Env) {
	t.Helper()
	if !strings.Contains(e.Logs.String(), "request failed") {
		t.Error("expected failure log lines; is the logger wired?")
	}
	if l := leaks(e.Logs.String()); len(l) > 0 {
		t.Errorf("logs hold secrets: %q", l)
	}
	if l := leaks(e.Responses()); len(l) > 0 {
		t.Errorf("responses hold secrets: %q", l)
	}
}

func openStore(t *testing.T, cfg store.Config) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// dumpPostgres returns the text of every row of every table in the
// connection's schema.
func dumpPostgres(t *testing.T, url string) string {
	t.Helper()
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	rows, err := sdb.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		rs, err := sdb.Query(`SELECT t::text FROM "` + tbl + `" t`)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var line string
			_ = rs.Scan(&line)
			b.WriteString(line + "\n")
		}
		rs.Close()
	}
	return b.String()
}

// A sealed PAT copied to another user's row does not open: gitrelay treats
// it as missing (the integration account acts, Require User PAT being off)
// and never acts as the token's owner.
func TestSealedTokenMovedToAnotherUserDoesNotOpen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		ctx := context.Background()
		id := e.Integration(false, nil)
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		bob, _ := db.UserByUsername(ctx, relay.LocalTenant, "bob")
		carol, _ := db.UserByUsername(ctx, relay.LocalTenant, "carol")
		stolen, err := db.UserToken(ctx, relay.LocalTenant, bob.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Keys.Open(stolen.Sealed, relay.UserTokenOwner(relay.LocalTenant, carol.ID, id, stolen.Origin)); err == nil {
			t.Fatal("bob's sealed token opened as carol's")
		}
		stolen.UserID = carol.ID
		if err := db.PutUserToken(ctx, stolen, relay.AuditEvent{TenantID: relay.LocalTenant, At: time.Now(), Action: "test.tamper", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
		// carol may act on ABC for this test.
		if _, err := e.App.Directory.Grant(ctx, relay.LocalTenant, "ABC", "carol"); err != nil {
			t.Fatal(err)
		}
		// The moved row refuses the action: it is not sent, and the
		// integration account does not act instead of the token it claims.
		wantStatus(t, e.CreateBranch(e.Carol, id, "ABC-1-stolen"), http.StatusPreconditionRequired, "user_token_required")
		if n := writesBy(e.Writes(), apptest.BobLogin); n != 0 {
			t.Fatalf("bob's token acted for carol %d times", n)
		}
		if l := leaks(e.Logs.String()); len(l) > 0 {
			t.Errorf("logs hold secrets: %q", l)
		}
	})
}
