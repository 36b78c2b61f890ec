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
