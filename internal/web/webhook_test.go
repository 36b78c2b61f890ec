package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
)

// Register webhooks on the integration's page has gitrelay add the
// webhook to the integration's repositories (POST, then the page with the
// outcome per repository); after a rotation the page says the registered
// hooks carry the old secret, and registering again sets the new one.
func TestTheIntegrationPageRegistersTheWebhook(t *testing.T) {
	env := newEnvWith(t, apptest.Options{HostTimeout: 5 * time.Second, PublicURL: true})
	env.Sim.GrantAdmin(apptest.Repo, apptest.BotLogin)
	id := env.Integration(false, nil)
	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	p := admin.get("/admin/integrations/" + id)
	if !strings.Contains(p.Body, `action="/admin/integrations/`+id+`/webhook/register"`) {
		t.Fatalf("the integration page has no Register webhooks button:\n%s", p.Body)
	}

	p = admin.post("/admin/integrations/"+id+"/webhook/register", url.Values{"csrf": {admin.csrf()}})
	if p.Status != http.StatusSeeOther || !strings.HasSuffix(p.Location, "#webhook") {
		t.Fatalf("register: %d to %q, want 303 to the page's webhook", p.Status, p.Location)
	}
	p = admin.get(p.Location)
	secret := inputValue(p.Body, "webhook-secret")
	for _, want := range []string{"Webhook registration: registered on 1 repository.", `<li data-outcome="registered"><code>acme/widgets</code>`,
		`id="webhook-registered">gitrelay registered this webhook on 1 repository.`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("after registering, the page lacks %q", want)
		}
	}
	if hooks := env.Sim.Hooks(apptest.Repo); len(hooks) != 1 || hooks[0].Secret != secret {
		t.Fatalf("the host's webhooks = %d, want the one registered with the page's secret", len(hooks))
	}
	env.Sim.Commit(apptest.Repo, "main")
	if d := env.Sim.Deliveries(); len(d) != 1 || d[0].Status != http.StatusAccepted {
		t.Errorf("the host's deliveries = %+v, want one accepted", d)
	}

	p = admin.get(admin.post("/admin/integrations/"+id+"/webhook/rotate", url.Values{"csrf": {admin.csrf()}}).Location)
	if !strings.Contains(p.Body, "press Register webhooks to send the new one") || !strings.Contains(p.Body, "1 of them still carries the previous secret") {
		t.Errorf("after rotating, the page does not say the registered webhook needs registering again:\n%s", p.Body)
	}
	p = admin.get(admin.post("/admin/integrations/"+id+"/webhook/register", url.Values{"csrf": {admin.csrf()}}).Location)
	if !strings.Contains(p.Body, "Webhook registration: set again on 1 repository.") || strings.Contains(p.Body, "previous secret") {
		t.Errorf("registering after a rotation: the page does not say it was set again:\n%s", p.Body)
	}
	if strings.Contains(env.Logs.String(), secret) {
		t.Error("the webhook secret reached the log")
	}
}

// A repository the integration account may not manage hooks of is listed
// with the host's reason; a user who is no administrator cannot register;
// without a public URL the page explains why there is no button.
func TestTheIntegrationPageShowsWhyARegistrationFailed(t *testing.T) {
	env := newEnvWith(t, apptest.Options{HostTimeout: 5 * time.Second, PublicURL: true})
	id := env.Integration(false, nil)
	admin := newVisitor(t, env)
	admin.signIn("admin", adminPassword)
	p := admin.get(admin.post("/admin/integrations/"+id+"/webhook/register", url.Values{"csrf": {admin.csrf()}}).Location)
	if !strings.Contains(p.Body, "Webhook registration: failed on 1 repository.") {
		t.Errorf("the page does not count the failure:\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `<li data-outcome="failed"><code>acme/widgets</code>`) || !strings.Contains(p.Body, "admin rights") {
		t.Errorf("the page does not list the failed repository with the reason:\n%s", p.Body)
	}

	bob := newVisitor(t, env)
	bob.signIn("bob", bobPassword)
	if p := bob.post("/admin/integrations/"+id+"/webhook/register", url.Values{"csrf": {bob.csrf()}}); p.Status != http.StatusForbidden {
		t.Errorf("bob registering webhooks: %d, want 403", p.Status)
	}
	if n := len(env.Sim.Hooks(apptest.Repo)); n != 0 {
		t.Errorf("%d webhooks on the host, want none", n)
	}

	quiet := newEnv(t)
	qid := quiet.Integration(false, nil)
	qa := newVisitor(t, quiet)
	qa.signIn("admin", adminPassword)
	p = qa.get("/admin/integrations/" + qid)
	if strings.Contains(p.Body, "/webhook/register") || !strings.Contains(p.Body, "--public-url") {
		t.Errorf("without a public URL the page offers to register, or does not say why it cannot:\n%s", p.Body)
	}
}

// The webhook section with a registration's outcome fits a 390 px phone
// without scrolling sideways, long reasons included.
func TestBrowserTheWebhookSectionFitsAPhone(t *testing.T) {
	requireChromium(t)
	env := newEnvWith(t, apptest.Options{HostTimeout: 5 * time.Second, PublicURL: true})
	b := newBrowserWith(t, env)
	id := env.Integration(false, nil) // the account is no admin: the reason is long
	b.run("resize to 390", chromedp.EmulateViewport(390, 844))
	b.signIn("admin", adminPassword)
	b.open("/admin/integrations/" + id)
	b.run("register webhooks", chromedp.Click(chromedp.CSS(`form[action$="/webhook/register"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#webhook-results")))
	if !strings.Contains(b.text("#webhook-results"), "admin rights") {
		t.Errorf("the outcome = %q, want the reason", b.text("#webhook-results"))
	}
	if n := b.overflow(); n > 0 {
		t.Errorf("the integration page with a registration's outcome scrolls sideways by %d px at 390 px", n)
	}
	if !b.visible(`form[action$="/webhook/register"] button`) {
		t.Error("Register webhooks is not visible at 390 px")
	}
}
