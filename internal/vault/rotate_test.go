package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// fakeStore behaves like the real stores' ResealSecrets: batches in their
// own transactions (a failing fn rolls its batch back), and a row is only
// updated if it did not change since it was read.
type fakeStore struct {
	mu     sync.Mutex
	owners []string
	rows   map[string][]byte
	calls  int
	// failAfter, when positive, makes ResealSecrets fail once fn has been
	// called that many times in all.
	failAfter int
	// between, when set, runs after each batch is read and before it is
	// written, like another server writing meanwhile.
	between func(s *fakeStore, batch int)
}

func newFakeStore() *fakeStore { return &fakeStore{rows: map[string][]byte{}} }

func (s *fakeStore) put(owner string, sealed []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[owner]; !ok {
		s.owners = append(s.owners, owner)
	}
	s.rows[owner] = sealed
}

func (s *fakeStore) get(owner string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[owner]
}

func (s *fakeStore) ResealSecrets(ctx context.Context, batch int, fn func(relay.SealedSecret) ([]byte, error)) (seen, updated int, err error) {
	s.mu.Lock()
	owners := slices.Clone(s.owners)
	s.mu.Unlock()
	for b, start := 0, 0; start < len(owners); b, start = b+1, start+batch {
		if err := ctx.Err(); err != nil {
			return seen, updated, err
		}
		type write struct {
			owner       string
			read, wrote []byte
		}
		var writes []write
		for _, o := range owners[start:min(start+batch, len(owners))] {
			s.mu.Lock()
			read := s.rows[o]
			s.calls++
			fail := s.failAfter > 0 && s.calls > s.failAfter
			s.mu.Unlock()
			if fail {
				return seen, updated, errors.New("connection reset by peer")
			}
			out, err := fn(relay.SealedSecret{Owner: o, Sealed: bytes.Clone(read)})
			if err != nil {
				return seen, updated, err // the batch's transaction rolls back
			}
			seen++
			if out != nil {
				writes = append(writes, write{o, read, out})
			}
		}
		if s.between != nil {
			s.between(s, b)
		}
		s.mu.Lock()
		for _, w := range writes {
			if bytes.Equal(s.rows[w.owner], w.read) {
				s.rows[w.owner] = w.wrote
				updated++
			}
		}
		s.mu.Unlock()
	}
	return seen, updated, nil
}

func ownerN(i int) string {
	return relay.UserTokenOwner("tenant", fmt.Sprintf("user-%d", i), "integration", "https://git.example.com/api/v3")
}

// fill stores n secrets sealed by s and returns their plaintexts by owner.
func fill(t *testing.T, store *fakeStore, s relay.Sealer, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		pt := "ghp_" + (rand.Text() + rand.Text())[:36]
		sealed, err := s.Seal([]byte(pt), ownerN(i))
		if err != nil {
			t.Fatal(err)
		}
		store.put(ownerN(i), sealed)
		want[ownerN(i)] = pt
	}
	return want
}

// checkOpens checks that every secret opens to its plaintext with ring.
func checkOpens(t *testing.T, store *fakeStore, ring *Ring, want map[string]string) {
	t.Helper()
	for o, pt := range want {
		got, err := ring.Open(store.get(o), o)
		if err != nil || string(got) != pt {
			t.Fatalf("secret of %q opens to %q, %v; want its original plaintext", o, got, err)
		}
		if ring.NeedsReseal(store.get(o)) {
			t.Fatalf("secret of %q is not sealed with the primary", o)
		}
	}
}

// onlyKeyInFile returns the ring of the key file, failing unless it holds
// exactly one key.
func onlyKeyInFile(t *testing.T, path string) *Ring {
	t.Helper()
	keys, err := LoadFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("key file holds %d keys, want only the new one", len(keys))
	}
	return mustRing(t, keys...)
}

func newFileKeys(t *testing.T, keys ...[]byte) (*FileKeys, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, path, keys...)
	fk, err := NewFileKeys(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fk, path
}

func TestRotateFileKeysReSealsTenThousandSecretsAndRetiresTheOldKey(t *testing.T) {
	old := testKey(1)
	fk, path := newFileKeys(t, old)
	store := newFakeStore()
	want := fill(t, store, fk, 10_000)

	var progress [][2]int
	stats, err := Rotate(context.Background(), fk, store, RotateOptions{
		Batch: 500, Wait: -1,
		Progress: func(seen, updated int) { progress = append(progress, [2]int{seen, updated}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ring := onlyKeyInFile(t, path)
	if ring.Primary() == IDOf(old) {
		t.Fatal("the key file still holds the old key only")
	}
	checkOpens(t, store, ring, want)
	if !stats.Generated || stats.Primary != ring.Primary() || stats.Resealed != 10_000 || stats.Secrets != 10_000 ||
		stats.Unopenable != 0 || !slices.Equal(stats.Pruned, []KeyID{IDOf(old)}) {
		t.Errorf("stats = %+v", stats)
	}
	if len(progress) < 20 {
		t.Fatalf("Progress was called %d times, want after every batch", len(progress))
	}
	for i := 1; i < len(progress); i++ {
		if progress[i][0] < progress[i-1][0] || progress[i][1] < progress[i-1][1] {
			t.Fatalf("progress went backwards: %v then %v", progress[i-1], progress[i])
		}
	}
	if last := progress[len(progress)-1]; last[1] != 10_000 {
		t.Errorf("last progress = %v, want 10000 updated", last)
	}
	// The rotating process itself seals with the new key from now on.
	if sealedWith(t, fk, "x") != ring.Primary() {
		t.Error("the rotating process does not seal with the new key")
	}
}

func TestRotateResumesWithoutANewKeyAfterAnInterruption(t *testing.T) {
	const n = 3000
	interruptions := map[string]func(store *fakeStore) (context.Context, RotateOptions){
		"store fails midway": func(store *fakeStore) (context.Context, RotateOptions) {
			store.failAfter = n + 1234 // in the re-seal pass after the first look
			return context.Background(), RotateOptions{Batch: 100, Wait: -1}
		},
		"context cancelled midway": func(store *fakeStore) (context.Context, RotateOptions) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx, RotateOptions{Batch: 100, Wait: -1, Progress: func(seen, updated int) {
				if updated >= 1000 {
					cancel()
				}
			}}
		},
	}
	for name, interrupt := range interruptions {
		t.Run(name, func(t *testing.T) {
			old := testKey(1)
			fk, path := newFileKeys(t, old)
			store := newFakeStore()
			want := fill(t, store, fk, n)

			ctx, opts := interrupt(store)
			stats, err := Rotate(ctx, fk, store, opts)
			if err == nil {
				t.Fatal("the interrupted rotation reported success")
			}
			if !strings.Contains(err.Error(), "run rotate again") {
				t.Errorf("error %q does not say to run rotate again", err)
			}
			if !stats.Generated {
				t.Fatal("the interrupted rotation did not get as far as a new key")
			}
			keys, _ := LoadFile(path, false)
			if len(keys) != 2 || !bytes.Equal(keys[1], old) {
				t.Fatalf("after the interruption the file holds %d keys, want new then old", len(keys))
			}
			newKey := IDOf(keys[0])
			for o, pt := range want {
				if got, err := mustRing(t, keys...).Open(store.get(o), o); err != nil || string(got) != pt {
					t.Fatalf("after the interruption %q opens to %q, %v", o, got, err)
				}
			}

			store.failAfter = 0
			stats, err = Rotate(context.Background(), fk, store, RotateOptions{Batch: 100, Wait: -1})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Generated || stats.Primary != newKey {
				t.Fatalf("resumed rotation: Generated = %v, primary %v; want no new key, primary %v", stats.Generated, stats.Primary, newKey)
			}
			if stats.Resealed == 0 || stats.Resealed == n {
				t.Errorf("resumed rotation re-sealed %d secrets, want only those left over", stats.Resealed)
			}
			ring := onlyKeyInFile(t, path)
			if ring.Primary() != newKey {
				t.Fatalf("the file's key is %v, want %v", ring.Primary(), newKey)
			}
			checkOpens(t, store, ring, want)
		})
	}
}

func TestRotateResumesWhenOnlyRetiringTheOldKeyWasLeft(t *testing.T) {
	old, newer := testKey(1), testKey(2)
	fk, path := newFileKeys(t, newer, old)
	store := newFakeStore()
	want := fill(t, store, fk, 50) // all sealed with the new primary already

	stats, err := Rotate(context.Background(), fk, store, RotateOptions{Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Generated || stats.Resealed != 0 || !slices.Equal(stats.Pruned, []KeyID{IDOf(old)}) {
		t.Errorf("stats = %+v; want no new key, nothing re-sealed, the old key pruned", stats)
	}
	if ring := onlyKeyInFile(t, path); ring.Primary() != IDOf(newer) {
		t.Error("the file does not hold the newer key")
	}
	checkOpens(t, store, mustRing(t, newer), want)
}

func TestRotateCatchesSecretsAServerSealsWithTheOldKeyMeanwhile(t *testing.T) {
	old := testKey(1)
	fk, path := newFileKeys(t, old)
	staleServer := mustRing(t, old) // has not reloaded the file yet
	store := newFakeStore()
	const batch = 10
	want := fill(t, store, fk, 100)

	fired := false
	store.between = func(s *fakeStore, b int) {
		// Once re-sealing has begun (the first row is no longer under the
		// old key), a user saves two new tokens through the stale server:
		// one in a batch already written, one in the batch being written.
		if id, _ := KeyIDOf(s.rows[ownerN(0)]); fired || b != 1 || id == IDOf(old) {
			return
		}
		fired = true
		for _, i := range []int{0, batch + 1} {
			sealed, _ := staleServer.Seal(fmt.Appendf(nil, "new-token-%d", i), ownerN(i))
			s.rows[ownerN(i)] = sealed
			want[ownerN(i)] = fmt.Sprintf("new-token-%d", i)
		}
	}
	stats, err := Rotate(context.Background(), fk, store, RotateOptions{Batch: batch, Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !fired {
		t.Fatal("the stale server never wrote")
	}
	checkOpens(t, store, onlyKeyInFile(t, path), want)
	if stats.Passes < 4 {
		t.Errorf("Passes = %d, want a look, a re-seal, a catch-up and a clean pass", stats.Passes)
	}
}

func TestRotateEnvironmentKeys(t *testing.T) {
	old, newer := testKey(1), testKey(2)
	store := newFakeStore()
	want := fill(t, store, mustRing(t, old), 200)
	ctx := context.Background()

	t.Run("nothing to do explains what to change", func(t *testing.T) {
		before := maps(store)
		_, err := Rotate(ctx, mustStatic(t, old), store, RotateOptions{Wait: -1})
		if !errors.Is(err, ErrNeedNewKey) {
			t.Fatalf("err = %v, want ErrNeedNewKey", err)
		}
		for _, want := range []string{"GITRELAY_SECRET_KEY", "first", "comma-separated", "restart", "rotate again", "openssl rand -base64 32"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if !equalMaps(before, maps(store)) {
			t.Error("the store changed")
		}
	})
	t.Run("new key first re-seals everything and lists the old key as unused", func(t *testing.T) {
		stats, err := Rotate(ctx, mustStatic(t, newer, old), store, RotateOptions{Wait: -1})
		if err != nil {
			t.Fatal(err)
		}
		if stats.Generated || stats.Resealed != 200 || stats.Primary != IDOf(newer) || !slices.Equal(stats.Unused, []KeyID{IDOf(old)}) {
			t.Errorf("stats = %+v", stats)
		}
		checkOpens(t, store, mustRing(t, newer), want)
	})
	t.Run("running it again is harmless", func(t *testing.T) {
		stats, err := Rotate(ctx, mustStatic(t, newer, old), store, RotateOptions{Wait: -1})
		if err != nil || stats.Resealed != 0 || !slices.Equal(stats.Unused, []KeyID{IDOf(old)}) {
			t.Errorf("stats = %+v, err = %v", stats, err)
		}
	})
	t.Run("once the old key is removed there is nothing to do", func(t *testing.T) {
		if _, err := Rotate(ctx, mustStatic(t, newer), store, RotateOptions{Wait: -1}); !errors.Is(err, ErrNeedNewKey) {
			t.Errorf("err = %v, want ErrNeedNewKey", err)
		}
	})
}

func TestRotateLeavesSecretsItCannotOpenAndKeepsTheirKeys(t *testing.T) {
	old, lost := testKey(1), testKey(9)
	fk, path := newFileKeys(t, old)
	store := newFakeStore()
	want := fill(t, store, fk, 20)
	store.put("corrupt", []byte("not a sealed secret"))
	moved, _ := fk.Seal([]byte("pat"), ownerN(0)) // copied to another row
	store.put("moved", moved)
	fromLostKey, _ := mustRing(t, lost).Seal([]byte("pat"), "lost")
	store.put("lost", fromLostKey)

	stats, err := Rotate(context.Background(), fk, store, RotateOptions{Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Unopenable != 3 || !slices.Equal(stats.UnknownKeys, []KeyID{IDOf(lost)}) {
		t.Errorf("Unopenable = %d, UnknownKeys = %v; want 3 and the lost key", stats.Unopenable, stats.UnknownKeys)
	}
	if len(stats.Pruned) != 0 {
		t.Errorf("Pruned = %v; the old key still names a stored secret and must stay", stats.Pruned)
	}
	keys, _ := LoadFile(path, false)
	if len(keys) != 2 || !bytes.Equal(keys[1], old) {
		t.Fatalf("the file holds %d keys, want the new one and the old one", len(keys))
	}
	checkOpens(t, store, mustRing(t, keys[0]), want)
	if !bytes.Equal(store.get("moved"), moved) || !bytes.Equal(store.get("lost"), fromLostKey) {
		t.Error("Rotate changed a secret it could not open")
	}
}

func TestRotateLetsServersLoadTheNewKeyFirst(t *testing.T) {
	fk, _ := newFileKeys(t, testKey(1))
	store := newFakeStore()
	fill(t, store, fk, 10)
	const wait = 300 * time.Millisecond
	start := time.Now()
	if _, err := Rotate(context.Background(), fk, store, RotateOptions{Wait: wait}); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < wait {
		t.Errorf("Rotate took %v, want at least the %v wait", elapsed, wait)
	}
}

func TestRotateOfAnEmptyStoreReplacesTheKey(t *testing.T) {
	old := testKey(1)
	fk, path := newFileKeys(t, old)
	stats, err := Rotate(context.Background(), fk, newFakeStore(), RotateOptions{Wait: -1})
	if err != nil {
		t.Fatal(err)
	}
	if ring := onlyKeyInFile(t, path); !stats.Generated || ring.Primary() == IDOf(old) {
		t.Errorf("stats = %+v; want the old key replaced", stats)
	}
}

func mustStatic(t *testing.T, keys ...[]byte) *StaticKeys {
	t.Helper()
	s, err := NewStaticKeys(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func maps(s *fakeStore) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]byte{}
	for k, v := range s.rows {
		m[k] = bytes.Clone(v)
	}
	return m
}

func equalMaps(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
