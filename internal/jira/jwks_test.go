package jira_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
)

// slowKeyServer serves the fake's key set, or, while blocked, announces
// each request on arrived and answers only once released.
type slowKeyServer struct {
	*httptest.Server
	hits    atomic.Int32
	mu      sync.Mutex
	blocked bool
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newSlowKeyServer(t *testing.T, fake *jiratest.Fake) *slowKeyServer {
	s := &slowKeyServer{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		blocked := s.blocked
		s.mu.Unlock()
		if blocked {
			s.arrived <- struct{}{}
			<-s.release
		}
		resp, err := http.Get(fake.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(s.unblock)
	return s
}

func (s *slowKeyServer) block() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = true
}

func (s *slowKeyServer) unblock() { s.once.Do(func() { close(s.release) }) }

// verifyAll runs n verifications of tokens signed at now with kid's key at
// once, and reports each one's error when all have ended.
func verifyAll(v *jira.Verifier, n int, tok string) <-chan []error {
	out := make(chan []error, 1)
	go func() {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = v.Verify(context.Background(), tok)
			}()
		}
		wg.Wait()
		out <- errs
	}()
	return out
}

// newKeyedVerifier returns a verifier whose key set comes from a key server
// that can be held up, on a clock that moves only by advance, after one
// verification has fetched the key set.
func newKeyedVerifier(t *testing.T) (*jiratest.Fake, *slowKeyServer, *jira.Verifier, func() jiratest.Claims, func(time.Duration)) {
	t.Helper()
	fake := jiratest.New(t)
	ks := newSlowKeyServer(t, fake)
	clock := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	v := jira.NewVerifier(jiratest.AppID, jira.NewJWKS(ks.URL, hosttest.LocalClient(time.Minute), now), now)
	claims := func() jiratest.Claims {
		return jiratest.Claims{InstallationID: "inst-1", CloudID: "cloud-1", AccountID: "acc-1", IssuedAt: now()}
	}
	if _, err := v.Verify(context.Background(), fake.FIT(claims())); err != nil {
		t.Fatal(err)
	}
	return fake, ks, v, claims, advance
}

// After the key set's TTL, a slow key server delays no verification whose
// key is known: the cached keys keep verifying while one refresh runs in
// the background.
func TestStaleKeysVerifyWhileTheKeySetRefreshes(t *testing.T) {
	fake, ks, v, claims, advance := newKeyedVerifier(t)

	ks.block()
	advance(2 * time.Hour)
	const n = 16
	select {
	case errs := <-verifyAll(v, n, fake.FIT(claims())):
		for i, err := range errs {
			if err != nil {
				t.Errorf("verification %d during the refresh: %v", i, err)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("verifications with a known key waited for the key server")
	}
	<-ks.arrived
	if got := ks.hits.Load(); got != 2 {
		t.Errorf("key set fetched %d times, want 2 (the first, and one refresh for %d requests)", got, n)
	}
	ks.unblock()
}

// A key id the cache does not know makes the requests that carry it wait
// for one refresh, shared by all of them; more unknown ids within the
// minimum interval fetch nothing.
func TestUnknownKeyIDsShareOneRefresh(t *testing.T) {
	fake, ks, v, claims, advance := newKeyedVerifier(t)
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake.PublishKey("rotated", &rotated.PublicKey)
	advance(time.Minute)

	ks.block()
	const n = 8
	done := verifyAll(v, n, fake.FITWithKey(claims(), rotated, "rotated"))
	<-ks.arrived
	// The known key still verifies while the refresh is held up.
	if _, err := v.Verify(context.Background(), fake.FIT(claims())); err != nil {
		t.Fatalf("known key during the refresh: %v", err)
	}
	ks.unblock()
	for i, err := range <-done {
		if err != nil {
			t.Errorf("verification %d with the rotated key: %v", i, err)
		}
	}
	if got := ks.hits.Load(); got != 2 {
		t.Errorf("key set fetched %d times, want 2", got)
	}
	if _, err := v.Verify(context.Background(), fake.FITWithKey(claims(), rotated, "made-up")); err == nil {
		t.Fatal("a made-up key id verified")
	}
	if got := ks.hits.Load(); got != 2 {
		t.Errorf("a made-up key id within the minimum interval fetched the key set: %d fetches", got)
	}
}
