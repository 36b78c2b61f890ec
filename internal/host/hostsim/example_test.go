package hostsim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

func Example() {
	sim := hostsim.New()
	defer sim.Close()
	sim.AddToken(hostsim.Token{Value: "ghp_example", Login: "alice", Scopes: []string{"repo"}})
	sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{"alice"}})
	base := sim.Branches("acme/widgets")["main"]

	// Serve GitHub's API (GitHub Enterprise's under /api/v3) over a socket,
	// or use sim.Transport() to skip the socket.
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()

	// Make the next branch creation fail as a busy GitHub would.
	sim.Inject(hostsim.Fault{Op: hostsim.OpCreateBranch, Status: http.StatusBadGateway, Times: 1})

	for range 2 {
		req, _ := http.NewRequest("POST", srv.URL+"/repos/acme/widgets/git/refs",
			strings.NewReader(`{"ref":"refs/heads/ABC-1","sha":"`+base+`"}`))
		req.Header.Set("Authorization", "Bearer ghp_example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	for _, w := range sim.Writes() {
		fmt.Println(w.Op, w.Repo, w.Ref, w.Login, w.Status)
	}
	fmt.Println(sim.Branches("acme/widgets")["ABC-1"] == base)
	// Output:
	// create_branch acme/widgets ABC-1 alice 502
	// create_branch acme/widgets ABC-1 alice 201
	// true
}
