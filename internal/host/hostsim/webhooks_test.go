package hostsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/webhook"
)

// Every change to a repository is delivered to its hooks with the host's
// payload and proof, which gitrelay's verifier accepts and reads.
func TestChangesAreDeliveredWithEachHostsPayloadAndProof(t *testing.T) {
	kinds := map[HookFormat]relay.Kind{HookGitHub: "github", HookGitLab: "gitlab", HookGitea: "gitea", HookAzure: "azure-devops"}
	for format, kind := range kinds {
		t.Run(string(format), func(t *testing.T) {
			var mu sync.Mutex
			var got []webhook.Event
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := webhook.Verify(kind, r.Header, body, []byte("s3cret")); err != nil {
					t.Errorf("a delivery did not verify: %v", err)
					w.WriteHeader(http.StatusForbidden)
					return
				}
				ev, err := webhook.Parse(kind, r.Header, body)
				if err != nil {
					t.Errorf("a delivery did not parse: %v\n%s", err, body)
				}
				mu.Lock()
				got = append(got, ev)
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()

			s := New()
			s.AddRepo(Repo{Owner: "acme", Name: "widgets"})
			s.AddHook("acme/widgets", Hook{URL: srv.URL, Secret: "s3cret", Format: format})
			s.AddBranch("acme/widgets", "ABC-1", "")
			s.Commit("acme/widgets", "ABC-1")
			p, f := s.createPR("acme/widgets", PR{Title: "ABC-1", Source: "ABC-1", Target: "main", Author: "acme"})
			if f.kind != failNone {
				t.Fatalf("createPR: %v", f.kind)
			}
			s.MergePullRequest("acme/widgets", p.Number)
			if f := s.deleteBranch("acme/widgets", "ABC-1"); f.kind != failNone {
				t.Fatalf("deleteBranch: %v", f.kind)
			}

			want := []string{"push", "push", "pull_request", "pull_request", "push"}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(want) {
				t.Fatalf("delivered %d events %+v, want %v", len(got), got, want)
			}
			for i, ev := range got {
				if ev.Kind != want[i] || ev.Repository != "acme/widgets" {
					t.Errorf("event %d = %+v, want %s of acme/widgets", i, ev, want[i])
				}
			}
			for _, d := range s.Deliveries() {
				if d.Status != http.StatusAccepted || d.Err != nil {
					t.Errorf("delivery %+v, want accepted", d)
				}
			}
		})
	}
}

// A hook is delivered the events it subscribes to, in its host's names
// (an Azure DevOps subscription one event type), and nothing while it is
// inactive; a GitHub hook of content type form gets the payload as a form
// field.
func TestHooksGetTheEventsTheySubscribeTo(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // by path: content types
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], r.Header.Get("Content-Type"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := New()
	s.AddRepo(Repo{Owner: "acme", Name: "widgets"})
	for path, h := range map[string]Hook{
		"/github-pulls":  {Format: HookGitHub, Events: []string{"pull_request"}},
		"/github-form":   {Format: HookGitHub, Events: []string{"push"}, ContentType: "form"},
		"/gitlab-push":   {Format: HookGitLab, Events: []string{"push_events"}},
		"/azure-created": {Format: HookAzure, Events: []string{"git.pullrequest.created"}},
		"/azure-merged":  {Format: HookAzure, Events: []string{"git.pullrequest.merged"}},
		"/inactive":      {Format: HookGitea, Inactive: true},
	} {
		h.URL, h.Secret = srv.URL+path, "s3cret"
		s.AddHook("acme/widgets", h)
	}
	s.AddBranch("acme/widgets", "ABC-1", "")
	p, f := s.createPR("acme/widgets", PR{Title: "ABC-1", Source: "ABC-1", Target: "main", Author: "acme"})
	if f.kind != failNone {
		t.Fatalf("createPR: %v", f.kind)
	}
	s.ClosePullRequest("acme/widgets", p.Number)

	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"/github-pulls": 2, "/github-form": 1, "/gitlab-push": 1, "/azure-created": 1}
	for path, n := range want {
		if len(got[path]) != n {
			t.Errorf("%s was delivered %d events, want %d", path, len(got[path]), n)
		}
	}
	for _, path := range []string{"/azure-merged", "/inactive"} {
		if len(got[path]) != 0 {
			t.Errorf("%s was delivered %d events, want none", path, len(got[path]))
		}
	}
	if ct := got["/github-form"]; len(ct) != 1 || ct[0] != "application/x-www-form-urlencoded" {
		t.Errorf("the form hook got content types %q", ct)
	}
}
