package webhook_test

import (
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/webhook"
)

// FuzzVerify: no header or body makes Verify panic, and nothing but the
// secret's own signature verifies.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"repository":{"full_name":"acme/widgets"}}`)
	for _, kind := range kinds {
		h := webhook.Sign(kind, body, []byte("s3cret"))
		for name := range h {
			f.Add(string(kind), name, h.Get(name), body)
		}
	}
	f.Add("github", "X-Hub-Signature-256", "sha256=zz", []byte{})
	f.Add("azure-devops", "Authorization", "Basic !!!", []byte("{}"))
	f.Fuzz(func(t *testing.T, kind, name, value string, body []byte) {
		h := http.Header{}
		h.Set(name, value)
		err := webhook.Verify(relayKind(kind), h, body, []byte("s3cret"))
		if err == nil {
			want := webhook.Sign(relayKind(kind), body, []byte("s3cret"))
			if want.Get(name) == "" && http.CanonicalHeaderKey(name) != "X-Forgejo-Signature" {
				t.Fatalf("%s: %s: %q verified, but the secret's proof is in another header", kind, name, value)
			}
		}
	})
}

// FuzzParse: no payload makes Parse panic, and an event to act on always
// names a repository.
func FuzzParse(f *testing.F) {
	f.Add("github", "push", []byte(`{"repository":{"id":1,"full_name":"acme/widgets"}}`))
	f.Add("gitlab", "Push Hook", []byte(`{"object_kind":"push","project":{"id":15,"path_with_namespace":"acme/widgets"}}`))
	f.Add("gitea", "pull_request", []byte(`{"repository":{"id":3,"full_name":"acme/widgets"}}`))
	f.Add("azure-devops", "", []byte(`{"eventType":"git.push","resource":{"repository":{"id":"x","name":"w","project":{"name":"p"}}}}`))
	f.Fuzz(func(t *testing.T, kind, event string, body []byte) {
		h := http.Header{"X-Github-Event": {event}, "X-Gitea-Event": {event}, "X-Gitlab-Event": {event}}
		ev, err := webhook.Parse(relayKind(kind), h, body)
		if err == nil && (ev.Kind == "push" || ev.Kind == "pull_request") && ev.Repository == "" {
			t.Fatalf("Parse(%s, %q) = %+v: an event to act on without a repository", kind, body, ev)
		}
	})
}
