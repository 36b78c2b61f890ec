package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

const (
	// DefaultBatch is how many secrets Rotate re-seals per transaction.
	DefaultBatch = 500
	// DefaultRotateWait is how long Rotate lets running servers take to load
	// a changed key file: longer than DefaultReloadInterval, with a margin.
	DefaultRotateWait = 2 * DefaultReloadInterval
	// maxPasses bounds the re-seal passes. More are needed only while some
	// server keeps sealing with an older key.
	maxPasses = 10
)

// ErrNeedNewKey: Rotate was given keys it cannot add to (an environment
// variable) and there was nothing left to finish. The error's text tells
// the operator what to do.
var ErrNeedNewKey = errors.New("vault: nothing to rotate")

// RotateOptions tune Rotate.
type RotateOptions struct {
	// Batch is how many secrets are re-sealed per transaction; DefaultBatch
	// when zero.
	Batch int
	// Progress, when set, is called after every batch with the number of
	// secrets seen and re-sealed so far (summed over passes).
	Progress func(seen, updated int)
	// Wait is how long to let running servers load a changed key file
	// before relying on it; DefaultRotateWait when zero, no wait when
	// negative (a single process, or tests).
	Wait time.Duration
}

// RotateStats say what Rotate did.
type RotateStats struct {
	// Generated is true when Rotate generated a new key and wrote it first
	// in the key file; false when it finished an earlier rotation instead.
	Generated bool
	// Primary is the key every secret that can be opened is sealed with now.
	Primary KeyID
	// Secrets is how many secrets the store holds (seen by the last pass).
	Secrets int
	// Resealed is how many secrets were sealed again with the primary.
	Resealed int
	// Passes is how many times Rotate went through every secret.
	Passes int
	// Unopenable is how many secrets no key of the ring opens (corrupt, or
	// sealed for another row). Rotate leaves them as they are and keeps the
	// keys they name. UnknownKeys lists keys such secrets were sealed with
	// that the ring does not hold: add them back if you still have them.
	Unopenable  int
	UnknownKeys []KeyID
	// Pruned lists the keys removed from the key file: no secret uses them.
	Pruned []KeyID
	// Unused lists keys still in GITRELAY_SECRET_KEY that no secret uses:
	// remove them once every server runs with the new first key.
	Unused []KeyID
}

// Rotate re-seals every stored secret with a new key, so that the old one
// can be retired. It can be run while servers serve, and run again after
// an interruption:
//
//   - If any secret is sealed with a key other than the primary (an
//     interrupted rotation, or an operator who put a new key first), Rotate
//     finishes that work and generates no key.
//   - Otherwise, for a key file, it writes a new key first in the file, the
//     old keys after, and waits for running servers to load it; for keys
//     from the environment it returns ErrNeedNewKey explaining what to do.
//   - It re-seals in passes until a pass finds nothing left to re-seal (a
//     server may have sealed with the old key meanwhile).
//   - Finally it removes from a key file the keys no secret uses, keeping
//     the primary; for environment keys it lists them in RotateStats.Unused.
func Rotate(ctx context.Context, keys KeySource, store relay.SecretStore, opts RotateOptions) (RotateStats, error) {
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Wait == 0 {
		opts.Wait = DefaultRotateWait
	}
	rt := &rotation{store: store, opts: opts}
	ring, err := keys.Ring()
	if err != nil {
		return rt.stats, err
	}
	file, isFile := keys.(*FileKeys)

	stale, err := rt.resealAll(ctx, ring)
	if err != nil {
		return rt.stats, err
	}
	if stale == 0 && len(rt.retired(ring)) == 0 {
		// Nothing left over from an earlier rotation: start one.
		if !isFile {
			return rt.stats, rt.needNewKey(ring)
		}
		if err := file.addPrimary(ring.Primary(), NewKey()); err != nil {
			return rt.stats, err
		}
		rt.stats.Generated = true
		if ring, err = keys.Ring(); err != nil {
			return rt.stats, err
		}
		if err := sleep(ctx, opts.Wait); err != nil {
			return rt.stats, err
		}
		if _, err := rt.resealAll(ctx, ring); err != nil {
			return rt.stats, err
		}
	}
	rt.stats.Primary = ring.Primary()

	if !isFile {
		rt.stats.Unused = rt.retired(ring)
		return rt.stats, nil
	}
	// Retire keys only after a clean pass that began once every server had
	// time to load the file as it is: a server still sealing with an old
	// key would otherwise write secrets nothing can open.
	changed, err := file.changedAt()
	if err != nil {
		return rt.stats, err
	}
	if settled := changed.Add(opts.Wait); rt.lastPass.Before(settled) {
		if err := sleep(ctx, time.Until(settled)); err != nil {
			return rt.stats, err
		}
		if _, err := rt.resealAll(ctx, ring); err != nil {
			return rt.stats, err
		}
	}
	keep := map[KeyID]bool{}
	for id := range rt.inUse {
		keep[id] = true
	}
	pruned, err := file.retain(ring.Primary(), keep)
	rt.stats.Pruned = pruned
	return rt.stats, err
}

type rotation struct {
	store relay.SecretStore
	opts  RotateOptions
	stats RotateStats

	seen, updated int // for Progress, summed over passes
	// Of the last pass: when it began and the keys of the ring that
	// secrets it did not re-seal are sealed with.
	lastPass time.Time
	inUse    map[KeyID]bool
}

// resealAll runs passes until one finds nothing to re-seal, and returns
// how many stale secrets the passes found in all.
func (rt *rotation) resealAll(ctx context.Context, ring *Ring) (int, error) {
	total := 0
	for range maxPasses {
		stale, err := rt.pass(ctx, ring)
		total += stale
		if err != nil || stale == 0 {
			return total, err
		}
	}
	return total, fmt.Errorf("vault: after %d passes, secrets are still being sealed with a key other than %s; a running gitrelay server has not loaded the new key — restart it, then run rotate again", maxPasses, ring.Primary())
}

// pass goes once through every secret, re-sealing with the primary those
// sealed with another key of the ring.
func (rt *rotation) pass(ctx context.Context, ring *Ring) (stale int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rt.stats.Passes++
	rt.lastPass = time.Now()
	primary := ring.Primary()
	inUse := map[KeyID]bool{}
	unknown := map[KeyID]bool{}
	unopenable, seen, proposed := 0, 0, 0
	report := func() {
		if rt.opts.Progress != nil {
			rt.opts.Progress(rt.seen+seen, rt.updated+proposed)
		}
	}
	fn := func(s relay.SealedSecret) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen++
		if seen%rt.opts.Batch == 0 {
			defer report()
		}
		id, err := KeyIDOf(s.Sealed)
		if err != nil {
			unopenable++
			return nil, nil
		}
		if id == primary {
			inUse[id] = true
			return nil, nil
		}
		plaintext, err := ring.Open(s.Sealed, s.Owner)
		if err != nil {
			unopenable++
			if ring.Has(id) {
				inUse[id] = true
			} else {
				unknown[id] = true
			}
			return nil, nil
		}
		defer clear(plaintext)
		stale++
		proposed++
		return ring.Seal(plaintext, s.Owner)
	}
	n, updated, err := rt.store.ResealSecrets(ctx, rt.opts.Batch, fn)
	rt.seen += n
	rt.updated += updated
	rt.stats.Resealed += updated
	seen, proposed = 0, 0
	report()
	if err != nil {
		return stale, fmt.Errorf("vault: re-sealing secrets (run rotate again to resume): %w", err)
	}
	rt.stats.Secrets = n
	rt.stats.Unopenable = unopenable
	rt.stats.UnknownKeys = sortedIDs(unknown)
	rt.inUse = inUse
	return stale, nil
}

// retired lists the ring's keys, other than the primary, that the last
// pass found no secret sealed with.
func (rt *rotation) retired(ring *Ring) []KeyID {
	var ids []KeyID
	for _, id := range ring.IDs()[1:] {
		if !rt.inUse[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

func (rt *rotation) needNewKey(ring *Ring) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: every secret is already sealed with the first key of %s (key id %s) and no older key is left to retire. ", ErrNeedNewKey, EnvVar, ring.Primary())
	fmt.Fprintf(&b, "gitrelay cannot add a key to an environment variable: generate one (openssl rand -base64 32), put it first in %s followed by the current key (comma-separated, new key first), restart every gitrelay server, then run rotate again", EnvVar)
	if n := rt.stats.Unopenable; n > 0 {
		fmt.Fprintf(&b, ". Note: %d secrets cannot be opened with any configured key", n)
		if len(rt.stats.UnknownKeys) > 0 {
			fmt.Fprintf(&b, " (sealed with key ids %s, which are not in %s; add them back if you still have them)", joinIDs(rt.stats.UnknownKeys), EnvVar)
		}
	}
	return &wrapped{msg: b.String(), err: ErrNeedNewKey}
}

// wrapped is an error with its own text that still matches err with
// errors.Is.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sortedIDs(set map[KeyID]bool) []KeyID {
	ids := make([]KeyID, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b KeyID) int { return bytes.Compare(a[:], b[:]) })
	if len(ids) == 0 {
		return nil
	}
	return ids
}

func joinIDs(ids []KeyID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}
