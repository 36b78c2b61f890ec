package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
)

// TestDemo checks that the demo is usable as printed: the passwords sign
// in, the printed PATs save for bob (the read-only one is refused with its
// reason), both simulated hosts answer, and pages show the demo banner.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	d := startSeededDemo(t)
	a, hosts := d.app, d.hosts
	printed := d.printed
	passwords := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(alice|bob)\b.*password: (\S+)$`).FindAllStringSubmatch(printed, -1) {
		passwords[m[1]] = m[2]
	}
	users := map[string]relay.User{}
	for _, name := range []string{"alice", "bob"} {
		u, err := a.Directory.CheckPassword(ctx, relay.LocalTenant, name, passwords[name])
		if err != nil {
			t.Fatalf("the printed password of %s does not sign in: %v\n%s", name, err, printed)
		}
		users[name] = u
	}
	if !users["alice"].Admin || users["bob"].Admin {
		t.Fatalf("alice admin = %v, bob admin = %v; want alice only", users["alice"].Admin, users["bob"].Admin)
	}
	bob := directory.Principal(users["bob"])
	ins, err := a.Actions.Integrations(ctx, bob)
	if err != nil || len(ins) != 2 {
		t.Fatalf("bob sees %d integrations (%v), want the two demo hosts", len(ins), err)
	}
	for _, in := range ins {
		pat := demoGHEBob
		if in.Kind != "github-enterprise" {
			pat = demoGitLabBob
		}
		if !strings.Contains(printed, pat) {
			t.Errorf("the PAT for %s is not printed", in.Name)
		}
		v, err := a.Actions.SaveToken(ctx, bob, in.ID, relay.TokenCredential(pat))
		if err != nil || v.Account.Login != demoBobLogin {
			t.Errorf("saving bob's printed PAT for %s: %+v, %v", in.Name, v.Account, err)
		}
		repos, err := a.Actions.Repositories(ctx, bob, in.ID, "widgets")
		if err != nil || len(repos) == 0 {
			t.Errorf("%s lists no widgets repository: %v", in.Name, err)
		}
		if in.Kind == "github-enterprise" {
			_, err := a.Actions.SaveToken(ctx, bob, in.ID, relay.TokenCredential(demoGHEBobWeak))
			if relay.ErrorCode(err) != relay.ETokenInsufficientScope {
				t.Errorf("the read-only demo PAT gave %v, want a refusal naming the missing scope", err)
			}
		}
	}
	for _, u := range []string{hosts.gheURL, hosts.gitlabURL} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("the simulated host at %s does not answer: %v", u, err)
		}
		resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	a.Server.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "demo: simulated hosts") || !strings.Contains(string(body), "/issues/DEMO-1") {
		t.Fatalf("the landing page lacks the banner or the demo issues: %d\n%s", rec.Code, body)
	}
}

// TestServeDemoProcess runs `gitrelay serve --demo` as a process: it prints
// how to sign in, serves the landing page with the banner, and stops
// cleanly on SIGTERM.
func TestServeDemoProcess(t *testing.T) {
	p := serve(t, baseEnv(), "--demo")
	out := p.stdout.String()
	for _, want := range []string{"alice (administrator)  password: ", "bob                    password: ", demoGHEBob, demoGitLabBob} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo output lacks %q:\n%s", want, out)
		}
	}
	resp, err := http.Get(p.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "demo: simulated hosts") {
		t.Fatalf("the landing page has no demo banner:\n%s", body)
	}
}

func TestDemoRefusesADatabaseURL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--demo", "--database-url", "postgres://x/y"},
		func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "temporary SQLite database") {
		t.Fatalf("got %v, want a refusal explaining the demo's own database", err)
	}
}

// seededDemo is the demo's hosts and application, seeded as `serve --demo`
// seeds them, on SQLite.
type seededDemo struct {
	db      *store.DB
	app     *app.App
	hosts   *demoHosts
	printed string
}

func startSeededDemo(t *testing.T) seededDemo {
	t.Helper()
	hosts, err := startDemoHosts()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hosts.Close)
	db := storetest.SQLite(t)
	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{DB: db, Sealer: keys, Demo: hosts.info(), EgressAllow: hosts.egressAllow()})
	var out bytes.Buffer
	if err := seedDemo(context.Background(), db, a, hosts, "http://gitrelay.test", &out); err != nil {
		t.Fatal(err)
	}
	return seededDemo{db: db, app: a, hosts: hosts, printed: out.String()}
}
