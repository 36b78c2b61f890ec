package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/logbuf"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/vault"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

var admin = relay.Principal{TenantID: "t1", UserID: "u1", Username: "ada", Admin: true}

type recorder struct {
	mu       sync.Mutex
	changed  []string
	outcomes []string
}

func (r *recorder) RepositoryChanged(_ context.Context, tenantID, integrationID, repo string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed = append(r.changed, tenantID+"/"+integrationID+":"+repo)
}

func (r *recorder) observe(kind relay.Kind, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, string(kind)+":"+outcome)
}

type env struct {
	db   *store.DB
	svc  *webhook.Service
	rec  *recorder
	logs *logbuf.Buffer
}

func setup(t *testing.T, db *store.DB, kind relay.Kind) env {
	keys, err := vault.NewStaticKeys(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	in := relay.Integration{ID: "i1", TenantID: "t1", Kind: kind, Name: "Acme", BaseURL: "https://git.example", Options: map[string]string{}, Enabled: true,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := db.CreateIntegration(context.Background(), in, []byte("sealed"), relay.AuditEvent{ID: relay.NewID(), TenantID: "t1", Action: relay.ActionIntegrationCreate, Outcome: relay.OutcomeSuccess, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	logs := &logbuf.Buffer{}
	svc := webhook.New(webhook.Config{Store: db, Sealer: keys, Indexer: rec, PublicURL: "https://gitrelay.example.com/",
		Observe: rec.observe, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return env{db: db, svc: svc, rec: rec, logs: logs}
}

func (e env) deliver(t *testing.T, h http.Header, body []byte) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{integration_id}", e.svc)
	req := httptest.NewRequest("POST", "/hooks/i1", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if w.Body.Len() != 0 {
		t.Errorf("a delivery answered with a body %q, want none", w.Body.String())
	}
	return w.Code
}

func TestAVerifiedPushQueuesAReadAndAForgedOneIsRefusedAndCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, "github")
		ctx := context.Background()
		info, err := e.svc.Info(ctx, admin, "i1")
		if err != nil {
			t.Fatal(err)
		}
		if info.URL != "https://gitrelay.example.com/hooks/i1" || len(info.Secret) < 40 || info.Scheme != webhook.SchemeHMAC {
			t.Fatalf("Info = URL %q, scheme %q, a secret of %d characters; want the hooks URL, HMAC and a long secret", info.URL, info.Scheme, len(info.Secret))
		}
		again, _ := e.svc.Info(ctx, admin, "i1")
		if again.Secret != info.Secret {
			t.Fatalf("a second Info made a new secret")
		}

		body := []byte(`{"ref":"refs/heads/ABC-1","repository":{"id":1,"full_name":"acme/widgets"}}`)
		h := webhook.Sign("github", body, []byte(info.Secret))
		h.Set("X-GitHub-Event", "push")
		if got := e.deliver(t, h, body); got != http.StatusAccepted {
			t.Fatalf("a signed push answered %d, want 202", got)
		}
		forged := webhook.Sign("github", body, []byte("guessed"))
		forged.Set("X-GitHub-Event", "push")
		if got := e.deliver(t, forged, body); got != http.StatusForbidden {
			t.Fatalf("a forged push answered %d, want 403", got)
		}
		unsigned := http.Header{"X-Github-Event": {"push"}}
		if got := e.deliver(t, unsigned, body); got != http.StatusUnauthorized {
			t.Fatalf("an unsigned push answered %d, want 401", got)
		}

		changes, err := db.RepositoryChanges(ctx, 10)
		if err != nil || len(changes) != 1 || changes[0].Repository != "acme/widgets" || changes[0].Event != "push" || changes[0].RepositoryID != "1" {
			t.Fatalf("queued changes = %+v, %v; want one push of acme/widgets", changes, err)
		}
		if strings.Join(e.rec.changed, ",") != "t1/i1:acme/widgets" {
			t.Fatalf("indexer told %v, want acme/widgets once", e.rec.changed)
		}
		if got := strings.Join(e.rec.outcomes, ","); got != "github:queued,github:forged,github:missing" {
			t.Fatalf("metric outcomes = %s", got)
		}
		w, err := db.Webhook(ctx, "t1", "i1")
		if err != nil || w.Deliveries != 1 || w.Refused != 2 || w.LastDeliveryAt.IsZero() {
			t.Fatalf("webhook counters = %+v, %v; want 1 delivery, 2 refused", w, err)
		}
		if strings.Contains(e.logs.String(), info.Secret) {
			t.Fatalf("the log shows the secret")
		}
	})
}

func TestRotatingTheSecretRefusesTheOldOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, "gitlab")
		ctx := context.Background()
		old, err := e.svc.Info(ctx, admin, "i1")
		if err != nil {
			t.Fatal(err)
		}
		rotated, err := e.svc.Rotate(ctx, admin, "i1")
		if err != nil || rotated.Secret == old.Secret {
			t.Fatalf("Rotate = %v; the secret changed: %v", err, rotated.Secret != old.Secret)
		}
		body := []byte(`{"object_kind":"merge_request","project":{"id":15,"path_with_namespace":"acme/widgets"}}`)
		if got := e.deliver(t, webhook.Sign("gitlab", body, []byte(old.Secret)), body); got != http.StatusForbidden {
			t.Fatalf("the old token answered %d, want 403", got)
		}
		if got := e.deliver(t, webhook.Sign("gitlab", body, []byte(rotated.Secret)), body); got != http.StatusAccepted {
			t.Fatalf("the new token answered %d, want 202", got)
		}
	})
}

func TestOnlyAdministratorsSeeTheWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, "gitea")
		user := admin
		user.Admin = false
		for name, call := range map[string]func(context.Context, relay.Principal, string) (webhook.Info, error){"Info": e.svc.Info, "Rotate": e.svc.Rotate} {
			info, err := call(context.Background(), user, "i1")
			if e, ok := relay.AsError(err); !ok || e.Code != relay.EForbidden || info.Secret != "" {
				t.Errorf("%s as a user = %+v, %v; want forbidden and no secret", name, info, err)
			}
		}
		other := admin
		other.TenantID = "t2"
		if _, err := e.svc.Info(context.Background(), other, "i1"); err == nil {
			t.Errorf("an administrator of another tenant saw the webhook")
		}
	})
}

func TestUnknownIntegrationsAndOversizedBodiesAreRefusedWithoutDetail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, "github")
		// No webhook made yet: the integration is not listening.
		if got := e.deliver(t, webhook.Sign("github", []byte("{}"), []byte("x")), []byte("{}")); got != http.StatusUnauthorized {
			t.Fatalf("a delivery before the webhook exists answered %d, want 401", got)
		}
		info, _ := e.svc.Info(context.Background(), admin, "i1")
		big := bytes.Repeat([]byte("a"), webhook.MaxBody+1)
		if got := e.deliver(t, webhook.Sign("github", big, []byte(info.Secret)), big); got != http.StatusRequestEntityTooLarge {
			t.Fatalf("an oversized delivery answered %d, want 413", got)
		}
	})
}

func TestAzureServiceHooksUseBasicAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := setup(t, db, "azure-devops")
		info, err := e.svc.Info(context.Background(), admin, "i1")
		if err != nil || info.User != webhook.BasicUser || info.Scheme != webhook.SchemeBasic {
			t.Fatalf("Info = %+v, %v; want basic authentication as %s", info, err, webhook.BasicUser)
		}
		body := []byte(`{"eventType":"git.pullrequest.created","resource":{"repository":{"id":"r1","name":"widgets","project":{"name":"acme"}}}}`)
		if got := e.deliver(t, webhook.Sign("azure-devops", body, []byte(info.Secret)), body); got != http.StatusAccepted {
			t.Fatalf("a service hook with the password answered %d, want 202", got)
		}
		if got := e.deliver(t, http.Header{"Authorization": {"Basic Z2l0cmVsYXk6bm9wZQ=="}}, body); got != http.StatusForbidden {
			t.Fatalf("a service hook with another password answered %d, want 403", got)
		}
	})
}

// The webhook to register on a host: its URL, the host's events and the
// proof the receiver checks (basic authentication as gitrelay for Azure
// DevOps), with when its secret was made; rotating tells how many hooks
// gitrelay registered carry the old secret.
func TestTheHookToRegisterAndTheRegistrationsARotationOutdates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for kind, proof := range map[relay.Kind]func(relay.Credential) (string, string){
			"github":       func(c relay.Credential) (string, string) { return "", c.Token() },
			"azure-devops": func(c relay.Credential) (string, string) { return c.Username(), c.Password() },
		} {
			t.Run(string(kind), func(t *testing.T) {
				e := setup(t, db, kind)
				defer func() {
					_ = db.DeleteIntegration(ctx, "t1", "i1", relay.AuditEvent{ID: relay.NewID(), TenantID: "t1", Action: relay.ActionIntegrationDelete, Outcome: relay.OutcomeSuccess})
				}()
				hook, err := e.svc.Hook(ctx, "t1", "i1")
				if err != nil {
					t.Fatal(err)
				}
				info, err := e.svc.Info(ctx, admin, "i1")
				if err != nil {
					t.Fatal(err)
				}
				user, secret := proof(hook.Secret)
				if hook.URL != "https://gitrelay.example.com/hooks/i1" || secret != info.Secret || user != info.User ||
					strings.Join(hook.Events, ",") != strings.Join(webhook.Events(kind), ",") || hook.SecretAt.IsZero() {
					t.Fatalf("Hook = %+v (user %q), want the webhook's URL, events and secret", hook, user)
				}
				if info.Registered != 0 || info.Outdated != 0 {
					t.Errorf("a new webhook's registrations = %d (%d outdated), want none", info.Registered, info.Outdated)
				}
				reg := relay.WebhookRegistration{TenantID: "t1", IntegrationID: "i1", RepositoryID: "1", Repository: "acme/widgets", SecretAt: hook.SecretAt}
				if err := db.RecordWebhookRegistration(ctx, reg, relay.AuditEvent{ID: relay.NewID(), TenantID: "t1", Action: relay.ActionWebhookRegister, Outcome: relay.OutcomeSuccess}); err != nil {
					t.Fatal(err)
				}
				if info, _ := e.svc.Info(ctx, admin, "i1"); info.Registered != 1 || info.Outdated != 0 {
					t.Errorf("registrations = %d (%d outdated), want 1 (0)", info.Registered, info.Outdated)
				}
				rotated, err := e.svc.Rotate(ctx, admin, "i1")
				if err != nil {
					t.Fatal(err)
				}
				again, _ := e.svc.Hook(ctx, "t1", "i1")
				if rotated.Registered != 1 || rotated.Outdated != 1 || !again.SecretAt.After(hook.SecretAt) {
					t.Errorf("after a rotation: %d registered, %d outdated, secret made %v after %v; want 1, 1, later",
						rotated.Registered, rotated.Outdated, again.SecretAt, hook.SecretAt)
				}
			})
		}
	})
}

// Without a public URL, hosts would be given an address they cannot
// reach: gitrelay refuses to register, and says how to fix it.
func TestNoHookToRegisterWithoutThePublicURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		keys, _ := vault.NewStaticKeys(vault.NewKey())
		setup(t, db, "gitlab")
		svc := webhook.New(webhook.Config{Store: db, Sealer: keys})
		_, err := svc.Hook(context.Background(), "t1", "i1")
		if relay.ErrorCode(err) != relay.EInvalid || !strings.Contains(relay.ErrorMessage(err), "--public-url") {
			t.Errorf("Hook without a public URL = %v, want invalid_request naming --public-url", err)
		}
	})
}
