package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// registerWebhook asks gitrelay to register the integration's webhook as
// the holder of apiToken.
func registerWebhook(e *apptest.Env, apiToken, id string) apptest.Response {
	e.T.Helper()
	return e.Do("POST", "/api/v1/integrations/"+id+"/webhook/register", apiToken, nil)
}

// outcomes reads a registration answer: outcome (and reason) by
// repository.
func outcomes(t *testing.T, r apptest.Response) map[string][2]string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("registering webhooks: %d %s", r.Status, r.Body)
	}
	out := map[string][2]string{}
	for _, g := range r.JSON()["repositories"].([]any) {
		m := g.(map[string]any)
		out[strings.ToLower(m["repository"].(string))] = [2]string{m["outcome"].(string), m["reason"].(string)}
	}
	return out
}

// An administrator has gitrelay register the webhook on the integration's
// repositories, as the integration account; the host's next push then
// arrives at gitrelay verified. Registering again sends nothing; after a
// rotation the hook is set again with the new secret. A user who is no
// administrator is refused, and the secret shows in no registration
// answer, audit row or log line.
func TestAnAdministratorRegistersTheWebhookAndTheHostsPushesArriveVerified(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		if _, ok := hookFormats[string(f.Kind)]; !ok {
			continue
		}
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f, PublicURL: true})
				e.Sim.GrantAdmin(apptest.Repo, apptest.BotLogin) // hooks need admin rights on every host
				id := e.Integration(false, nil)
				hookURL := e.URL + "/hooks/" + id

				wantStatus(t, registerWebhook(e, e.Bob, id), http.StatusForbidden, relay.EForbidden)
				if hooks := e.Sim.Hooks(apptest.Repo); len(hooks) != 0 {
					t.Fatalf("a refused registration left webhooks on the host: %+v", hooks)
				}

				first := registerWebhook(e, e.Admin, id)
				if got := outcomes(t, first); got[apptest.Repo][0] != action.HookRegistered || len(got) != 1 {
					t.Fatalf("registration = %v, want %s registered", got, apptest.Repo)
				}
				secret := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil).JSON()["secret"].(string)
				hostHasHook(t, e, hookURL, secret)

				// A push on the host reaches gitrelay, verified.
				e.Sim.Commit(apptest.Repo, "main")
				lastDelivery(t, e, http.StatusAccepted, "a push after registering")

				writes := len(e.Writes())
				if got := outcomes(t, registerWebhook(e, e.Admin, id)); got[apptest.Repo][0] != action.HookAlready {
					t.Errorf("registering again = %v, want already", got)
				}
				if n := len(e.Writes()) - writes; n != 0 {
					t.Errorf("registering a webhook registered with the current secret wrote %d times to the host", n)
				}

				rotated := e.Do("POST", "/api/v1/integrations/"+id+"/webhook/rotate", e.Admin, nil).JSON()
				if rotated["registered"] != float64(1) || rotated["registered_with_old_secret"] != float64(1) {
					t.Errorf("after rotating: registered %v, with the old secret %v; want 1 and 1", rotated["registered"], rotated["registered_with_old_secret"])
				}
				e.Sim.Commit(apptest.Repo, "main")
				lastDelivery(t, e, http.StatusForbidden, "a push signed with the rotated-out secret")
				if got := outcomes(t, registerWebhook(e, e.Admin, id)); got[apptest.Repo][0] != action.HookUpdated {
					t.Errorf("registering after a rotation = %v, want updated", got)
				}
				hostHasHook(t, e, hookURL, rotated["secret"].(string))
				e.Sim.Commit(apptest.Repo, "main")
				lastDelivery(t, e, http.StatusAccepted, "a push after registering the new secret")
				if again := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil).JSON(); again["registered_with_old_secret"] != float64(0) {
					t.Errorf("registrations with the old secret after registering again = %v, want 0", again["registered_with_old_secret"])
				}

				rows := auditRows(t, e, "action="+relay.ActionWebhookRegister+"&limit=100")
				byOutcome := map[string]int{}
				for _, r := range rows {
					byOutcome[r["outcome"].(string)]++
					if r["outcome"] == relay.OutcomeSuccess && (r["repository"] != apptest.Repo || r["via"] != "integration" || r["login"] != apptest.BotLogin || r["detail"] == "") {
						t.Errorf("audit row %v, want the repository, the integration account and what happened", r)
					}
				}
				if byOutcome[relay.OutcomeSuccess] != 3 || byOutcome[relay.OutcomeRefused] != 1 || len(rows) != 4 {
					t.Errorf("webhook.register audit = %v, want 3 successes and bob's refusal", byOutcome)
				}
				for _, s := range []string{secret, rotated["secret"].(string)} {
					for what, text := range map[string]string{"the registration answer": string(first.Body), "the audit trail": string(e.Do("GET", "/api/v1/audit?limit=100", e.Admin, nil).Body),
						"the log": e.Logs.String()} {
						if strings.Contains(text, s) {
							t.Errorf("%s shows the webhook secret", what)
						}
					}
				}
			})
		})
	}
}

// hostHasHook checks the host's one webhook delivers to url with secret,
// as gitrelay registered it.
func hostHasHook(t *testing.T, e *apptest.Env, url, secret string) {
	t.Helper()
	for _, h := range e.Sim.Hooks(apptest.Repo) {
		if h.URL != url || h.Secret != secret || h.Inactive {
			t.Errorf("the host's webhook %+v, want active, delivering to %s with the current secret", hostsim.Hook{ID: h.ID, URL: h.URL, Events: h.Events}, url)
		}
	}
	if len(e.Sim.Hooks(apptest.Repo)) == 0 {
		t.Errorf("the host has no webhook")
	}
}

// lastDelivery checks the host's last webhook delivery was answered
// status.
func lastDelivery(t *testing.T, e *apptest.Env, status int, what string) {
	t.Helper()
	d := e.Sim.Deliveries()
	if len(d) == 0 || d[len(d)-1].Status != status {
		t.Fatalf("%s: deliveries %+v, want the last answered %d", what, d, status)
	}
}

// Each registration is a host write recorded as pending before the host
// is called; an answer lost after the host acted leaves it pending, and
// reconciliation completes it from what the host holds.
func TestAWebhookRegistrationIsWrittenAheadAndSettledByReconciliation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var (
			mu   sync.Mutex
			seen [][]relay.HostWrite
		)
		f := apptest.GitHubEnterprise()
		f.Serve = func(sim *hostsim.Sim) http.Handler {
			inner := sim.Handler()
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/hooks") {
					ws, err := db.PendingHostWrites(r.Context(), time.Now().Add(time.Hour), 0)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					seen = append(seen, ws)
					mu.Unlock()
				}
				inner.ServeHTTP(w, r)
			})
		}
		e := apptest.New(t, db, apptest.Options{Fixture: &f, PublicURL: true})
		e.Sim.GrantAdmin(apptest.Repo, apptest.BotLogin)
		ctx := context.Background()
		id := e.Integration(false, nil)

		// The host writes while the pending row names the registration.
		if got := outcomes(t, registerWebhook(e, e.Admin, id)); got[apptest.Repo][0] != action.HookRegistered {
			t.Fatalf("registration = %v", got)
		}
		mu.Lock()
		if len(seen) != 1 || len(seen[0]) != 1 {
			t.Fatalf("pending writes while the host created the webhook = %+v, want one", seen)
		}
		ev := seen[0][0].Event
		if ev.Action != relay.ActionWebhookRegister || ev.Outcome != relay.OutcomePending || ev.Username != "admin" ||
			ev.Via != relay.ViaIntegration || ev.Login != apptest.BotLogin || ev.IntegrationID != id || ev.Repository != apptest.Repo || seen[0][0].RepositoryID != e.RepoID {
			t.Errorf("pending row = %+v", seen[0][0])
		}
		mu.Unlock()
		if rows := auditRows(t, e, "action=webhook.register"); len(rows) != 1 || rows[0]["id"] != ev.ID || rows[0]["outcome"] != relay.OutcomeSuccess {
			t.Errorf("audit = %v, want the pending row completed as success", rows)
		}

		// A refusal completes the row as failed, with the host's reason.
		e.Do("POST", "/api/v1/integrations/"+id+"/webhook/rotate", e.Admin, nil)
		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpUpdateHook, Status: http.StatusInternalServerError, Times: 1})
		if got := outcomes(t, registerWebhook(e, e.Admin, id)); got[apptest.Repo][0] != action.HookFailed || got[apptest.Repo][1] == "" {
			t.Errorf("registration the host refused = %v, want failed with a reason", got)
		}
		if rows := auditRows(t, e, "action=webhook.register&outcome=failed"); len(rows) != 1 {
			t.Errorf("failed registrations audited = %v, want one", rows)
		}

		// An answer lost after the host set the hook: pending until
		// reconciliation has asked the host.
		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpUpdateHook, Cut: true, Times: 1})
		got := outcomes(t, registerWebhook(e, e.Admin, id))
		if got[apptest.Repo][0] != action.HookFailed || !strings.Contains(got[apptest.Repo][1], "did not confirm") {
			t.Errorf("registration whose answer was lost = %v, want failed saying the host did not confirm", got)
		}
		if rows := auditRows(t, e, "action=webhook.register&outcome=pending"); len(rows) != 1 {
			t.Fatalf("pending rows after a lost answer = %v, want one", rows)
		}
		r, err := e.App.Actions.ReconcilePending(ctx, 0)
		must(t, err)
		if r != (action.Reconciled{Succeeded: 1}) {
			t.Errorf("reconciled %+v, want one success", r)
		}
		rows := auditRows(t, e, "action=webhook.register&outcome=success")
		if len(rows) != 2 || !strings.Contains(rows[0]["detail"].(string), "webhook delivering to gitrelay is on the host") {
			t.Errorf("audit after reconciliation = %v", rows)
		}
		// The secret the lost answer may have set is not known: the next
		// registration sets it again rather than trusting it.
		if got := outcomes(t, registerWebhook(e, e.Admin, id)); got[apptest.Repo][0] != action.HookUpdated {
			t.Errorf("registering after a reconciled one = %v, want updated", got)
		}

		// A registration whose process died before the host acted is
		// completed as failed.
		gadgets := e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Private: true, Admins: []string{apptest.BotLogin}})
		must(t, db.BeginHostWrite(ctx, relay.HostWrite{Event: relay.AuditEvent{ID: relay.NewID(), TenantID: relay.LocalTenant,
			At: time.Now().Add(-time.Hour), UserID: "u-admin", Username: "admin", Action: relay.ActionWebhookRegister, IntegrationID: id,
			Repository: "acme/gadgets", Via: relay.ViaIntegration, Login: apptest.BotLogin}, RepositoryID: strconv.FormatInt(gadgets.ID, 10)}))
		r, err = e.App.Actions.ReconcilePending(ctx, time.Minute)
		must(t, err)
		if r != (action.Reconciled{Failed: 1}) {
			t.Errorf("reconciled %+v, want one failure", r)
		}
		settled := false
		for _, row := range auditRows(t, e, "action=webhook.register&outcome=failed") {
			settled = settled || (row["repository"] == "acme/gadgets" && strings.Contains(row["detail"].(string), "no active webhook"))
		}
		if !settled {
			t.Errorf("the interrupted registration on acme/gadgets was not completed as failed")
		}
	})
}

// An account without admin rights on a repository gets the host's refusal
// with what it lacks, per repository; host kinds without webhooks, and a
// server that does not know its public address, are refused before any
// host call.
func TestWebhookRegistrationRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{PublicURL: true})
		id := e.Integration(false, nil)
		got := outcomes(t, registerWebhook(e, e.Admin, id))
		if got[apptest.Repo][0] != action.HookFailed || !strings.Contains(got[apptest.Repo][1], "admin rights") {
			t.Errorf("registration by an account without admin rights = %v, want failed saying it needs admin rights", got)
		}
		if rows := auditRows(t, e, "action=webhook.register&outcome=failed"); len(rows) != 1 || rows[0]["error_code"] != relay.EScopeMissing {
			t.Errorf("audit = %v, want one failed registration (scope_missing)", rows)
		}

		wantStatus(t, registerWebhook(e, e.Admin, "no-such-integration"), http.StatusNotFound, relay.ENotFound)
		wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"enabled": false}), http.StatusOK, "")
		wantStatus(t, registerWebhook(e, e.Admin, id), http.StatusForbidden, relay.EIntegrationDisabled)
		if n := len(e.Writes()); n != 0 {
			t.Errorf("the host was sent %d writes", n)
		}
	})
	t.Run("CodeCommit sends no webhooks", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			cc := apptest.CodeCommit()
			e := apptest.New(t, db, apptest.Options{Fixture: &cc, PublicURL: true})
			wantStatus(t, registerWebhook(e, e.Admin, e.Integration(false, nil)), http.StatusUnprocessableEntity, relay.EInvalid)
		})
	})
	t.Run("without a public URL hosts could not deliver", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			e := apptest.New(t, db)
			r := registerWebhook(e, e.Admin, e.Integration(false, nil))
			wantStatus(t, r, http.StatusUnprocessableEntity, relay.EInvalid)
			if !strings.Contains(r.ErrorField("message"), "--public-url") {
				t.Errorf("message = %q, want it to name --public-url", r.ErrorField("message"))
			}
			if n := len(e.Writes()); n != 0 {
				t.Errorf("the host was sent %d writes", n)
			}
		})
	})
}

// The webhook's secret goes to the integration's host only: a host that
// redirects the registration elsewhere does not get gitrelay to send it
// there.
func TestTheWebhookSecretIsSentOnlyToTheIntegrationsHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var mu sync.Mutex
		var elsewhere []string
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			elsewhere = append(elsewhere, r.Method+" "+r.URL.Path+" "+string(body))
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		}))
		defer other.Close()
		f := apptest.GitHubEnterprise()
		f.Serve = func(sim *hostsim.Sim) http.Handler {
			inner := sim.Handler()
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/hooks") {
					http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect) // 307 sends the body again
					return
				}
				inner.ServeHTTP(w, r)
			})
		}
		e := apptest.New(t, db, apptest.Options{Fixture: &f, PublicURL: true})
		e.Sim.GrantAdmin(apptest.Repo, apptest.BotLogin)
		id := e.Integration(false, nil)
		got := outcomes(t, registerWebhook(e, e.Admin, id))
		if got[apptest.Repo][0] != action.HookFailed || !strings.Contains(got[apptest.Repo][1], "redirected") {
			t.Errorf("registration redirected to another host = %v, want failed saying the host redirected", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(elsewhere) != 0 {
			t.Errorf("another host received %q", elsewhere)
		}
	})
}
