package hostsim_test

import (
	"slices"
	"testing"

	"github.com/gitrelay/gitrelay/internal/host/hostsim"
)

// A fault with Every applies to every Every-th matching request only; the
// requests it skips fall through to the next matching fault, and requests
// that do not match are not counted.
func TestEveryAppliesToEveryNthMatchingRequest(t *testing.T) {
	sim, srv := world(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: 503, Every: 3})
	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: 502, Every: 2})
	var got []int
	for i := range 6 {
		if i == 2 {
			// Not an identity request: not counted by either fault.
			call(t, "GET", srv.URL+"/repos/acme/widgets", "Bearer classic-alice", "")
		}
		got = append(got, call(t, "GET", srv.URL+"/user", "Bearer classic-alice", "").status)
	}
	// The first fault takes requests 3 and 6; the second sees the four
	// others (1, 2, 4, 5) and takes its 2nd and 4th of them.
	want := []int{200, 502, 503, 200, 502, 503}
	if !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

// Times counts the requests a fault with Every applied to, not the ones it
// skipped.
func TestEveryWithTimesStopsAfterTimesApplications(t *testing.T) {
	sim, srv := world(t)
	sim.Inject(hostsim.Fault{Op: hostsim.OpIdentity, Status: 503, Every: 2, Times: 2})
	var got []int
	for range 7 {
		got = append(got, call(t, "GET", srv.URL+"/user", "Bearer classic-alice", "").status)
	}
	want := []int{200, 503, 200, 503, 200, 200, 200}
	if !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}
