package index

import (
	"context"
	"maps"
	"math/bits"
	"slices"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// maxMovedBranches is how many moved branches a read follows one by one
// (what each lost and gained); a read with more works out the branches of
// every indexed commit of the repository instead, in one walk.
const maxMovedBranches = 16

// reach works out which of a set of branches each commit of a walk is on,
// for walks that give every commit before its parents (git's topological
// order): a commit is on the branches whose tip it is, and on those of
// every child. Only the commits whose parents are still to come are held.
type reach struct {
	names   []string         // by bit: the branches by name
	tips    map[string][]int // tip sha → bits
	pending map[string]bitset
	words   int
}

type bitset []uint64

func newReach(heads map[string]string) *reach {
	r := &reach{names: slices.Sorted(maps.Keys(heads)), tips: map[string][]int{}, pending: map[string]bitset{}}
	r.words = (len(r.names) + 63) / 64
	for i, name := range r.names {
		r.tips[heads[name]] = append(r.tips[heads[name]], i)
	}
	return r
}

// visit returns the branches sha is on, and passes them on to its
// parents.
func (r *reach) visit(sha string, parents []string) bitset {
	on := r.pending[sha]
	delete(r.pending, sha)
	if on == nil {
		on = make(bitset, r.words)
	}
	for _, i := range r.tips[sha] {
		on[i/64] |= 1 << (i % 64)
	}
	for _, p := range parents {
		if have, ok := r.pending[p]; ok {
			for i := range have {
				have[i] |= on[i]
			}
		} else {
			r.pending[p] = slices.Clone(on)
		}
	}
	return on
}

// branches names the branches of on, by name, at most
// relay.MaxCommitBranches.
func (r *reach) branches(on bitset) []string {
	out := []string{}
	for w, word := range on {
		for word != 0 && len(out) < relay.MaxCommitBranches {
			b := bits.TrailingZeros64(word)
			out = append(out, r.names[w*64+b])
			word &^= 1 << b
		}
	}
	return out
}

// rebranch works out the indexed commits (other than fresh, those this
// read walked) whose branches changed from the heads of the previous read
// (old: branch name → tip) to those of this one (now).
//
// A read whose branches only moved follows each: what it lost and gained
// (git log old...new, the messages that may name a key), and changes the
// branches of the indexed commits among them. A read that created or
// deleted a branch, moved more than maxMovedBranches, moved one from a tip
// this clone does not have (a clone made after the push), or took a
// branch from a commit that lists relay.MaxCommitBranches (whose other
// branches are not known) works out the branches of every indexed commit
// of the repository in one walk of its history from every branch.
func (x *Indexer) rebranch(ctx context.Context, k relay.IndexKey, dir string, old, now map[string]string, fresh map[string]bool) ([]relay.CommitBranches, error) {
	var moved []string
	whole := false
	for name, sha := range now {
		switch was, ok := old[name]; {
		case !ok:
			whole = true
		case was != sha:
			moved = append(moved, name)
		}
	}
	for name := range old {
		if _, ok := now[name]; !ok {
			whole = true
		}
	}
	if !whole && len(moved) == 0 {
		return nil, nil
	}
	if !whole && len(moved) <= maxMovedBranches {
		out, ok, err := x.followMoves(ctx, k, dir, old, now, moved, fresh)
		if err != nil || ok {
			return out, err
		}
	}
	return x.rebranchAll(ctx, k, dir, now, fresh)
}

// followMoves is rebranch for branches that only moved; it reports false
// when the moves cannot tell (rebranchAll must).
func (x *Indexer) followMoves(ctx context.Context, k relay.IndexKey, dir string, old, now map[string]string, moved []string, fresh map[string]bool) ([]relay.CommitBranches, bool, error) {
	gained, lost := map[string][]string{}, map[string][]string{}
	for _, name := range moved {
		err := x.git.sides(ctx, dir, old[name], now[name], func(left bool, sha, message string) error {
			if fresh[sha] || len(Keys(message, nil)) == 0 {
				return nil
			}
			if left {
				lost[sha] = append(lost[sha], name)
			} else {
				gained[sha] = append(gained[sha], name)
			}
			return nil
		})
		if err != nil {
			// The old tip is not in this clone (one made after the push
			// that moved it).
			return nil, false, nil
		}
	}
	if len(gained)+len(lost) == 0 {
		return nil, true, nil
	}
	shas := slices.Sorted(maps.Keys(gained))
	for sha := range lost {
		if _, ok := gained[sha]; !ok {
			shas = append(shas, sha)
		}
	}
	stored, err := x.c.Store.CommitBranches(ctx, k, shas)
	if err != nil {
		return nil, false, err
	}
	var out []relay.CommitBranches
	for _, sha := range slices.Sorted(maps.Keys(stored)) {
		was := stored[sha]
		next := slices.Clone(was)
		for _, name := range lost[sha] {
			i := slices.Index(next, name)
			if i < 0 {
				continue
			}
			if len(was) >= relay.MaxCommitBranches {
				// The commit may be on branches it does not list.
				return nil, false, nil
			}
			next = slices.Delete(next, i, i+1)
		}
		for _, name := range gained[sha] {
			if i, found := slices.BinarySearch(next, name); !found {
				next = slices.Insert(next, i, name)
			}
		}
		next = next[:min(len(next), relay.MaxCommitBranches)]
		if !slices.Equal(next, was) {
			out = append(out, relay.CommitBranches{SHA: sha, Branches: next})
		}
	}
	return out, true, nil
}

// rebranchAll works out the branches of every indexed commit of the
// repository but fresh: one walk of the history from every branch. Commits
// no branch reaches any more are on none.
func (x *Indexer) rebranchAll(ctx context.Context, k relay.IndexKey, dir string, now map[string]string, fresh map[string]bool) ([]relay.CommitBranches, error) {
	stored, err := x.c.Store.CommitBranches(ctx, k, nil)
	if err != nil {
		return nil, err
	}
	for sha := range fresh {
		delete(stored, sha)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	if err := x.git.commitGraph(ctx, dir); err != nil {
		return nil, gitFailure(err)
	}
	r := newReach(now)
	found := map[string][]string{}
	left := len(stored)
	err = x.git.parentsOf(ctx, dir, slices.Sorted(maps.Values(now)), func(sha string, parents []string) bool {
		on := r.visit(sha, parents)
		if _, ok := stored[sha]; ok {
			found[sha] = r.branches(on)
			left--
		}
		return left > 0
	})
	if err != nil {
		return nil, gitFailure(err)
	}
	var out []relay.CommitBranches
	for _, sha := range slices.Sorted(maps.Keys(stored)) {
		next := found[sha]
		if next == nil {
			next = []string{}
		}
		if !slices.Equal(next, stored[sha]) {
			out = append(out, relay.CommitBranches{SHA: sha, Branches: next})
		}
	}
	return out, nil
}
