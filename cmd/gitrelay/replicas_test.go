package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// replicaKey is the secret key every replica of the tests shares.
const replicaKey = "GITRELAY_SECRET_KEY=bXlzZWNyZXRrZXlteXNlY3JldGtleW15c2VjcmV0a2U="

// Replicas started at the same moment on an empty PostgreSQL database all
// come up: exactly one creates the first administrator and shows its
// password, the others wait for it.
func TestReplicasStartingTogetherBootstrapOnce(t *testing.T) {
	env := baseEnv("GITRELAY_DATA="+t.TempDir(), "GITRELAY_DATABASE_URL="+storetest.EmptyPostgresURL(t), replicaKey)
	const n = 4
	starting := make([]*startingProc, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			starting[i] = startServe(t, env)
		}()
	}
	wg.Wait()
	passwords := 0
	for _, s := range starting {
		p := s.wait()
		if strings.Contains(p.stdout.String(), "Password (shown once)") {
			passwords++
		}
	}
	if passwords != 1 {
		t.Fatalf("%d replicas showed an administrator password, want exactly 1", passwords)
	}
}
