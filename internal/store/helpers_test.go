package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// The assertion lives here rather than in store.go: see the comment there.
var _ directory.Store = (*store.DB)(nil)

// t0 is a fixed, microsecond-precise UTC instant: what the store keeps
// reads back equal (reflect.DeepEqual) to what was written.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func ptr[T any](v T) *T { return &v }

// wantCode fails unless err is a *relay.Error with code (and, when
// message is not empty, that message).
func wantCode(t *testing.T, err error, code, message string) {
	t.Helper()
	e, ok := relay.AsError(err)
	if !ok {
		t.Fatalf("got error %v, want *relay.Error with code %q", err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %q (%v), want %q", e.Code, err, code)
	}
	if message != "" && e.Message != message {
		t.Fatalf("got message %q, want %q", e.Message, message)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func newIntegration(tenant, id string) relay.Integration {
	return relay.Integration{
		ID:       id,
		TenantID: tenant,
		Kind:     "github",
		Name:     "GitHub " + id,
		BaseURL:  "https://api.github.com",
		Enabled:  true,
		Account: relay.Account{
			Login:  "relay-bot",
			Name:   "Relay Bot",
			Scopes: []string{"repo"},
		},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func credential(in relay.Integration) []byte {
	return []byte("sealed-credential:" + in.TenantID + "/" + in.ID)
}

func auditFor(action string) relay.AuditEvent {
	return relay.AuditEvent{Action: action, Username: "alice", UserID: "u-alice", Outcome: relay.OutcomeSuccess, At: t0}
}

func createIntegration(t *testing.T, db *store.DB, in relay.Integration) {
	t.Helper()
	must(t, db.CreateIntegration(context.Background(), in, credential(in), auditFor(relay.ActionIntegrationCreate)))
}

func newToken(tenant, user, integration string) relay.UserToken {
	return relay.UserToken{
		TenantID:      tenant,
		UserID:        user,
		IntegrationID: integration,
		Account:       relay.Account{Login: user + "-gh", Name: user, Scopes: []string{"repo", "workflow"}, ExpiresAt: ptr(at(60 * 24 * 30))},
		Status:        relay.TokenValid,
		ValidatedAt:   t0,
		UpdatedAt:     t0,
		Origin:        "https://" + integration + ".example.com/api/v3",
		Sealed:        []byte(fmt.Sprintf("sealed-token:%s/%s/%s", tenant, user, integration)),
	}
}

func putToken(t *testing.T, db *store.DB, tok relay.UserToken) {
	t.Helper()
	must(t, db.PutUserToken(context.Background(), tok, auditFor(relay.ActionTokenSave)))
}

func createUser(t *testing.T, db *store.DB, tenant, id, username string) relay.User {
	t.Helper()
	u := relay.User{ID: id, TenantID: tenant, Username: username, DisplayName: "User " + username,
		Email: username + "@example.com", CreatedAt: t0}
	must(t, db.CreateUser(context.Background(), u, "hash-of-"+username))
	return u
}

func auditCount(t *testing.T, db *store.DB, tenant string) int {
	t.Helper()
	events, err := db.Audit(context.Background(), tenant, relay.AuditFilter{Limit: store.MaxAuditLimit})
	must(t, err)
	return len(events)
}
