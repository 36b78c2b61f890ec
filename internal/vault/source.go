package vault

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// KeySource is where a process gets its keys: a key file that may change
// while it runs (FileKeys) or keys fixed at start-up (StaticKeys). Rotate
// works on either.
type KeySource interface {
	relay.Sealer
	// Ring returns the keys in force now, re-reading the source first when
	// it can change.
	Ring() (*Ring, error)
}

var (
	_ KeySource = (*StaticKeys)(nil)
	_ KeySource = (*FileKeys)(nil)
)

// StaticKeys are keys fixed for the life of the process, such as those of
// GITRELAY_SECRET_KEY.
type StaticKeys struct{ ring *Ring }

// NewStaticKeys builds a source from keys, the first the primary.
func NewStaticKeys(keys ...[]byte) (*StaticKeys, error) {
	r, err := NewRing(keys...)
	if err != nil {
		return nil, err
	}
	return &StaticKeys{ring: r}, nil
}

func (s *StaticKeys) Seal(plaintext []byte, owner string) ([]byte, error) {
	return s.ring.Seal(plaintext, owner)
}

func (s *StaticKeys) Open(sealed []byte, owner string) ([]byte, error) {
	return s.ring.Open(sealed, owner)
}

func (s *StaticKeys) Ring() (*Ring, error) { return s.ring, nil }

// DefaultReloadInterval is how often, at most, FileKeys looks at its file.
const DefaultReloadInterval = time.Second

// FileOptions configure FileKeys.
type FileOptions struct {
	// Create writes a key file with one new key when there is none.
	Create bool
	// Interval is the most often the file is checked for changes;
	// DefaultReloadInterval when zero.
	Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// FileKeys are the keys of a key file, reloaded when the file changes, so
// that a running server picks up a rotated key without a restart. It looks
// at the file (one stat) at most once per interval, on the way into Seal or
// Open; Rotate waits longer than that before relying on every server having
// seen a change.
type FileKeys struct {
	path     string
	interval time.Duration
	now      func() time.Time

	state   atomic.Pointer[fileState]
	checked atomic.Int64 // when the file was last looked at (UnixNano of now())

	mu    sync.Mutex  // serialises reloads and writes
	stamp os.FileInfo // of the file the ring was loaded from; guarded by mu
}

type fileState struct {
	ring *Ring
	// err is set while the file has changed but cannot be loaded. Seal
	// fails meanwhile: sealing with a key that a rotation may be about to
	// retire could lose the secret. Open goes on with the keys it has.
	err error
}

// NewFileKeys loads the key file at path (see LoadFile).
func NewFileKeys(path string, o FileOptions) (*FileKeys, error) {
	f := &FileKeys{path: path, interval: o.Interval, now: o.Now}
	if f.interval <= 0 {
		f.interval = DefaultReloadInterval
	}
	if f.now == nil {
		f.now = time.Now
	}
	// LoadFile creates the file when asked and explains what is wrong with
	// it; reloadLocked then loads it together with its stamp.
	if _, err := LoadFile(path, o.Create); err != nil {
		return nil, err
	}
	f.state.Store(&fileState{})
	f.mu.Lock()
	st := f.reloadLocked()
	f.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	f.checked.Store(f.now().UnixNano())
	return f, nil
}

// Path is the key file's path.
func (f *FileKeys) Path() string { return f.path }

func (f *FileKeys) String() string { return "vault.FileKeys{" + f.path + "}" }

// Seal seals with the file's first key.
func (f *FileKeys) Seal(plaintext []byte, owner string) ([]byte, error) {
	f.check(false)
	st := f.state.Load()
	if st.err != nil {
		return nil, st.err
	}
	return st.ring.Seal(plaintext, owner)
}

// Open opens with any key of the file.
func (f *FileKeys) Open(sealed []byte, owner string) ([]byte, error) {
	f.check(false)
	b, err := f.state.Load().ring.Open(sealed, owner)
	if errors.Is(err, ErrUnknownKey) {
		// Another server may have sealed with a key this one has not
		// loaded yet: look at the file now rather than fail.
		f.check(true)
		b, err = f.state.Load().ring.Open(sealed, owner)
	}
	return b, err
}

// Ring re-reads the file if it changed and returns its keys.
func (f *FileKeys) Ring() (*Ring, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked.Store(f.now().UnixNano())
	st := f.reloadLocked()
	if st.err != nil {
		return nil, st.err
	}
	return st.ring, nil
}

// check reloads the file if it changed, looking at most once per interval
// unless forced. Callers that find a check under way go on with the keys
// they have rather than wait.
func (f *FileKeys) check(force bool) {
	due := func() bool { return f.now().UnixNano()-f.checked.Load() >= int64(f.interval) }
	if !force && !due() {
		return
	}
	if force {
		f.mu.Lock()
	} else if !f.mu.TryLock() {
		return
	}
	defer f.mu.Unlock()
	if !force && !due() {
		return
	}
	f.checked.Store(f.now().UnixNano())
	f.reloadLocked()
}

// reloadLocked loads the file if it is not the one last loaded. It keeps
// the last good ring when the file cannot be read.
func (f *FileKeys) reloadLocked() *fileState {
	cur := f.state.Load()
	fi, err := os.Stat(f.path)
	if err != nil {
		return f.setFailed(cur, fmt.Errorf("vault: key file changed and cannot be read: %w", err))
	}
	// Rotation replaces the file by renaming a new one over it, so a
	// different file (inode) is the usual sign; mtime and size catch edits
	// in place.
	if os.SameFile(fi, f.stamp) && fi.ModTime().Equal(f.stamp.ModTime()) && fi.Size() == f.stamp.Size() {
		return cur
	}
	keys, err := readKeyFile(f.path)
	if err != nil {
		return f.setFailed(cur, err)
	}
	ring, err := NewRing(keys...)
	if err != nil {
		return f.setFailed(cur, fmt.Errorf("vault: key file %s: %w", f.path, err))
	}
	// Stat came before the read: should the file change in between, the
	// next check sees a new stamp and reads it again.
	f.stamp = fi
	st := &fileState{ring: ring}
	f.state.Store(st)
	return st
}

func (f *FileKeys) setFailed(cur *fileState, err error) *fileState {
	st := &fileState{ring: cur.ring, err: err}
	f.state.Store(st)
	return st
}

// The methods below let Rotate change the file. They re-read the file under
// the lock and refuse to act when its primary is not the one the rotation
// saw, which guards against two rotations at once.

// addPrimary writes key first in the file, before the keys already there.
func (f *FileKeys) addPrimary(expect KeyID, key []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.readExpecting(expect)
	if err != nil {
		return err
	}
	if err := writeKeyFile(f.path, append([][]byte{key}, keys...)); err != nil {
		return err
	}
	if st := f.reloadLocked(); st.err != nil {
		return st.err
	}
	return nil
}

// retain removes from the file every key but the primary and those in
// keep, and returns the ids of the keys it removed.
func (f *FileKeys) retain(primary KeyID, keep map[KeyID]bool) ([]KeyID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys, err := f.readExpecting(primary)
	if err != nil {
		return nil, err
	}
	var kept [][]byte
	var removed []KeyID
	for i, k := range keys {
		if id := IDOf(k); i == 0 || keep[id] {
			kept = append(kept, k)
		} else {
			removed = append(removed, id)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	if err := writeKeyFile(f.path, kept); err != nil {
		return nil, err
	}
	if st := f.reloadLocked(); st.err != nil {
		return nil, st.err
	}
	return removed, nil
}

// changedAt is when the key file last changed.
func (f *FileKeys) changedAt() (time.Time, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return time.Time{}, fmt.Errorf("vault: key file: %w", err)
	}
	return fi.ModTime(), nil
}

func (f *FileKeys) readExpecting(primary KeyID) ([][]byte, error) {
	keys, err := readKeyFile(f.path)
	if err != nil {
		return nil, err
	}
	if got := IDOf(keys[0]); got != primary {
		return nil, fmt.Errorf("vault: key file %s changed during rotation (its first key is now %s, not %s); is another rotation running? Run rotate again when it is done", f.path, got, primary)
	}
	return keys, nil
}
