package azure_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/azure"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

func TestPullRequestsAreReadWithTheirStates(t *testing.T) {
	for name, adapter := range map[string]func(u string) (host.Adapter, relay.HostConfig){
		"azure-devops": func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Services(), relay.HostConfig{Kind: azure.KindServices, BaseURL: u + "/fabrikam"}
		},
		"azure devops server 2019": func(u string) (host.Adapter, relay.HostConfig) {
			return azure.Server(), relay.HostConfig{Kind: azure.KindServer, BaseURL: u, Options: map[string]string{"server_version": "2019", "suffix": ""}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			hosttest.RunPullRequests(t, hosttest.Env{Serve: serve, Adapter: adapter, Full: codeWrite}, false)
		})
	}
}

// Azure DevOps' own example answer (REST API 7.1) reads as an open pull
// request by its creator, with a link to its page.
func TestPullRequestListOfTheRecordedExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/pullrequests-7.1.json")
	if err != nil {
		t.Fatal(err)
	}
	var example struct {
		Responses struct {
			OK struct {
				Body json.RawMessage `json:"body"`
			} `json:"200"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &example); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(example.Responses.OK.Body)
	}))
	defer srv.Close()
	a := azure.Services()
	cfg, err := a.CheckConfig(relay.HostConfig{Kind: azure.KindServices, BaseURL: srv.URL + "/fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	hc := host.NewHTTPClient(host.ClientConfig{Egress: host.Egress{Allow: host.MustAllowlist(hosttest.LoopbackAllowed)}})
	c, err := a.NewClient(cfg, relay.TokenCredential("canary-example"), hc)
	if err != nil {
		t.Fatal(err)
	}
	repo := relay.Repository{ID: "3411ebc1-d5aa-464f-9615-0b527bc66719", Name: "2016_10_31", FullName: "2016_10_31/2016_10_31",
		WebURL: srv.URL + "/fabrikam/2016_10_31/_git/2016_10_31"}
	page, err := c.(host.PullRequestLister).ListPullRequests(t.Context(), repo, host.PullRequestCursor{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.PullRequests) == 0 {
		t.Fatal("no pull requests read from the example")
	}
	p := page.PullRequests[0]
	if p.Number != 22 || p.State != host.PullRequestOpen || p.Source != "npaulk/my_work" || p.Target != "new_feature" ||
		p.Author != "fabrikamfiber16@hotmail.com" || p.CreatedAt.IsZero() || p.URL == "" || p.Description != "Adding a new feature" {
		t.Errorf("the example's pull request = %+v", p)
	}
}
