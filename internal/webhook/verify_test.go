package webhook_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

var kinds = []relay.Kind{"github", "github-enterprise", "gitlab", "gitlab-self-managed", "gitea", "azure-devops", "vsts", "tfs"}

func TestADeliverySignedWithTheSecretVerifies(t *testing.T) {
	body := []byte(`{"repository":{"full_name":"acme/widgets"}}`)
	for _, kind := range kinds {
		if err := webhook.Verify(kind, webhook.Sign(kind, body, []byte("s3cret")), body, []byte("s3cret")); err != nil {
			t.Errorf("%s: Verify(signed) = %v, want nil", kind, err)
		}
	}
}

func TestForgedDeliveriesAreRefused(t *testing.T) {
	body := []byte(`{"repository":{"full_name":"acme/widgets"}}`)
	secret := []byte("s3cret")
	for _, kind := range kinds {
		cases := []struct {
			name string
			h    http.Header
			body []byte
			want error
		}{
			{"no proof at all", http.Header{}, body, webhook.ErrMissing},
			{"signed with another secret", webhook.Sign(kind, body, []byte("guess")), body, webhook.ErrMismatch},
			{"a body changed after signing", webhook.Sign(kind, body, secret), []byte(`{"repository":{"full_name":"evil/x"}}`), webhook.ErrMismatch},
		}
		if webhook.SchemeOf(kind) == webhook.SchemeToken || webhook.SchemeOf(kind) == webhook.SchemeBasic {
			// The token and password do not cover the body: only the
			// secret itself proves the sender.
			cases = cases[:2]
		}
		for _, c := range cases {
			if err := webhook.Verify(kind, c.h, c.body, secret); !errors.Is(err, c.want) {
				t.Errorf("%s, %s: Verify = %v, want %v", kind, c.name, err, c.want)
			}
		}
	}
	// GitHub's signature without its prefix, and a truncated one.
	for _, sig := range []string{"0123", "sha256=0123", "sha1=" + webhook.Sign("github", body, secret).Get("X-Hub-Signature-256")[7:]} {
		h := http.Header{"X-Hub-Signature-256": {sig}}
		if err := webhook.Verify("github", h, body, secret); !errors.Is(err, webhook.ErrMismatch) {
			t.Errorf("github signature %q: Verify = %v, want ErrMismatch", sig, err)
		}
	}
	// Azure's user name counts too.
	h := http.Header{"Authorization": {"Basic " + "bWFsbG9yeTpzM2NyZXQ="}} // mallory:s3cret
	if err := webhook.Verify("azure-devops", h, body, secret); !errors.Is(err, webhook.ErrMismatch) {
		t.Errorf("azure with another user: Verify = %v, want ErrMismatch", err)
	}
	if err := webhook.Verify("codecommit", webhook.Sign("github", body, secret), body, secret); !errors.Is(err, webhook.ErrUnsupported) {
		t.Errorf("codecommit: Verify = %v, want ErrUnsupported", err)
	}
	if err := webhook.Verify("github", webhook.Sign("github", body, nil), body, nil); err == nil {
		t.Errorf("an empty secret verified a delivery")
	}
}

func TestEventsAreReadFromEachHostsPayload(t *testing.T) {
	cases := []struct {
		kind   relay.Kind
		header http.Header
		body   string
		want   webhook.Event
	}{
		{"github", http.Header{"X-Github-Event": {"push"}}, `{"ref":"refs/heads/ABC-1","repository":{"id":1296269,"full_name":"acme/widgets"}}`,
			webhook.Event{Kind: "push", Repository: "acme/widgets", RepositoryID: "1296269"}},
		{"github-enterprise", http.Header{"X-Github-Event": {"pull_request"}}, `{"action":"opened","repository":{"id":7,"full_name":"acme/widgets"}}`,
			webhook.Event{Kind: "pull_request", Repository: "acme/widgets", RepositoryID: "7"}},
		{"github", http.Header{"X-Github-Event": {"ping"}}, `{"zen":"Keep it logically awesome.","hook_id":1}`,
			webhook.Event{Kind: "ping"}},
		{"github", http.Header{"X-Github-Event": {"issues"}}, `{"repository":{"full_name":"acme/widgets"}}`,
			webhook.Event{Repository: "acme/widgets"}},
		{"gitlab", http.Header{"X-Gitlab-Event": {"Push Hook"}}, `{"object_kind":"push","project":{"id":15,"path_with_namespace":"acme/widgets"}}`,
			webhook.Event{Kind: "push", Repository: "acme/widgets", RepositoryID: "15"}},
		{"gitlab", http.Header{"X-Gitlab-Event": {"Merge Request Hook"}}, `{"object_kind":"merge_request","project":{"id":15,"path_with_namespace":"acme/widgets"}}`,
			webhook.Event{Kind: "pull_request", Repository: "acme/widgets", RepositoryID: "15"}},
		{"gitea", http.Header{"X-Gitea-Event": {"push"}}, `{"repository":{"id":3,"full_name":"acme/widgets"}}`,
			webhook.Event{Kind: "push", Repository: "acme/widgets", RepositoryID: "3"}},
		{"azure-devops", nil, `{"eventType":"git.push","resource":{"repository":{"id":"278d5cd2","name":"widgets","project":{"name":"acme"}}}}`,
			webhook.Event{Kind: "push", Repository: "acme/widgets", RepositoryID: "278d5cd2"}},
		{"tfs", nil, `{"eventType":"git.pullrequest.merged","resource":{"repository":{"id":"278d5cd2","name":"widgets","project":{"name":"acme"}}}}`,
			webhook.Event{Kind: "pull_request", Repository: "acme/widgets", RepositoryID: "278d5cd2"}},
	}
	for _, c := range cases {
		got, err := webhook.Parse(c.kind, c.header, []byte(c.body))
		if err != nil || got != c.want {
			t.Errorf("%s %s: Parse = %+v, %v; want %+v", c.kind, c.body, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `not json`, `{"repository":{"full_name":""}}`} {
		if _, err := webhook.Parse("github", http.Header{"X-Github-Event": {"push"}}, []byte(bad)); !errors.Is(err, webhook.ErrPayload) {
			t.Errorf("Parse(%q) = %v, want ErrPayload", bad, err)
		}
	}
}
