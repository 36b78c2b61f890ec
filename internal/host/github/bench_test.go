package github_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// BenchmarkCreateBranch measures the adapter's cost per branch creation
// against the simulator served in process (no sockets).
func BenchmarkCreateBranch(b *testing.B) {
	sim := hostsim.New()
	defer sim.Close()
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Writers: []string{"alice"}})
	sim.AddToken(hostsim.Token{Value: "bench-token", Login: "alice", Scopes: []string{"repo"}})
	c, err := github.Cloud(github.WithAPIURL("https://api.github.test/")).NewClient(
		relay.HostConfig{Kind: github.KindCloud}, relay.TokenCredential("bench-token"), &http.Client{Transport: sim.Transport()})
	if err != nil {
		b.Fatal(err)
	}
	repo := relay.Repository{ID: "1296269", Name: "widgets", FullName: "acme/widgets", DefaultBranch: "main", WebURL: "https://github.test/acme/widgets"}
	base := sim.Branches("acme/widgets")["main"]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.CreateBranch(b.Context(), repo, fmt.Sprintf("ABC-%d", i), base); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
