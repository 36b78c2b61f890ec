package vault

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func writeKeys(t *testing.T, path string, keys ...[]byte) {
	t.Helper()
	if err := writeKeyFile(path, keys); err != nil {
		t.Fatal(err)
	}
}

func sealedWith(t *testing.T, s KeySource, pt string) KeyID {
	t.Helper()
	sealed, err := s.Seal([]byte(pt), owner)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := KeyIDOf(sealed)
	return id
}

func TestFileKeysReloadsAtMostOncePerIntervalAfterTheFileChanges(t *testing.T) {
	a, b := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, path, a)
	clock := newClock()
	fk, err := NewFileKeys(path, FileOptions{Now: clock.Now, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := fk.Seal([]byte("old"), owner)

	writeKeys(t, path, b, a) // another process rotates
	clock.Advance(500 * time.Millisecond)
	if got := sealedWith(t, fk, "x"); got != IDOf(a) {
		t.Fatalf("within the interval: sealed with %v, want the old primary %v", got, IDOf(a))
	}
	clock.Advance(600 * time.Millisecond)
	if got := sealedWith(t, fk, "x"); got != IDOf(b) {
		t.Fatalf("after the interval: sealed with %v, want the new primary %v", got, IDOf(b))
	}
	if pt, err := fk.Open(old, owner); err != nil || string(pt) != "old" {
		t.Fatalf("opening a secret sealed before the reload = %q, %v", pt, err)
	}

	// An edit in place (same file, new size) is noticed too.
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(a)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if got := sealedWith(t, fk, "x"); got != IDOf(a) {
		t.Fatalf("after an edit in place: sealed with %v, want %v", got, IDOf(a))
	}
}

func TestFileKeysOpensSecretSealedWithAKeyItHasNotLoadedYet(t *testing.T) {
	a, b := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, path, a)
	clock := newClock()
	server1, _ := NewFileKeys(path, FileOptions{Now: clock.Now})
	server2, _ := NewFileKeys(path, FileOptions{Now: clock.Now})

	writeKeys(t, path, b, a)
	if _, err := server1.Ring(); err != nil { // server1 reloads first
		t.Fatal(err)
	}
	sealed, _ := server1.Seal([]byte("new"), owner)
	if id, _ := KeyIDOf(sealed); id != IDOf(b) {
		t.Fatalf("server1 sealed with %v, want %v", id, IDOf(b))
	}
	// server2's interval has not passed, but an unknown key makes it look.
	if pt, err := server2.Open(sealed, owner); err != nil || string(pt) != "new" {
		t.Fatalf("server2 Open = %q, %v", pt, err)
	}
}

func TestFileKeysRefusesToSealWhileTheChangedFileCannotBeLoaded(t *testing.T) {
	a, b := testKey(1), testKey(2)
	path := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, path, a)
	clock := newClock()
	fk, _ := NewFileKeys(path, FileOptions{Now: clock.Now})
	old, _ := fk.Seal([]byte("old"), owner)

	writeKeys(t, path, b, a)
	os.Chmod(path, 0o644)
	clock.Advance(time.Second)
	if _, err := fk.Seal([]byte("x"), owner); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Seal err = %v, want a refusal naming the problem", err)
	}
	if pt, err := fk.Open(old, owner); err != nil || string(pt) != "old" {
		t.Fatalf("Open while the file is unreadable = %q, %v; want the keys already loaded to work", pt, err)
	}
	if _, err := fk.Ring(); err == nil {
		t.Error("Ring succeeded while the file cannot be loaded")
	}

	os.Chmod(path, 0o600)
	clock.Advance(time.Second)
	if got := sealedWith(t, fk, "x"); got != IDOf(b) {
		t.Fatalf("after the fix: sealed with %v, want %v", got, IDOf(b))
	}
}

func TestFileKeysCreatesTheFileWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if _, err := NewFileKeys(path, FileOptions{}); err == nil {
		t.Fatal("NewFileKeys without Create succeeded on a missing file")
	}
	fk, err := NewFileKeys(path, FileOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := fk.Seal([]byte("x"), owner)
	keys, _ := LoadFile(path, false)
	if id, _ := KeyIDOf(sealed); len(keys) != 1 || id != IDOf(keys[0]) {
		t.Fatal("FileKeys does not seal with the key it created")
	}
}

func TestFileKeysIsSafeForConcurrentUseWhileTheFileChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, path, testKey(1))
	fk, _ := NewFileKeys(path, FileOptions{Interval: time.Microsecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				sealed, err := fk.Seal([]byte("pat"), owner)
				if err != nil {
					t.Error(err)
					return
				}
				if pt, err := fk.Open(sealed, owner); err != nil || string(pt) != "pat" {
					t.Errorf("Open = %q, %v", pt, err)
					return
				}
			}
		})
	}
	// Every file keeps the previous keys, as rotation does.
	keys := [][]byte{testKey(1)}
	for i := byte(2); i < 30; i++ {
		keys = append([][]byte{testKey(i)}, keys...)
		writeKeys(t, path, keys...)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
}
