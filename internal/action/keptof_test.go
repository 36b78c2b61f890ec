package action

import (
	"slices"
	"testing"
)

// keptOf never modifies what it filters: the panel's index read is shared
// with other requests (the store keeps it).
func TestKeptOfLeavesItsInputAlone(t *testing.T) {
	in := []int{1, 2, 3, 4, 5, 6}
	orig := slices.Clone(in)
	even := func(v int) bool { return v%2 == 0 }
	if got := keptOf(in, even); !slices.Equal(got, []int{2, 4, 6}) {
		t.Fatalf("kept %v, want [2 4 6]", got)
	}
	if !slices.Equal(in, orig) {
		t.Fatalf("input changed to %v, want %v", in, orig)
	}
	all := keptOf(in, func(int) bool { return true })
	if &all[0] != &in[0] || len(all) != len(in) {
		t.Fatal("keeping everything copied the slice")
	}
	if got := keptOf(in, func(int) bool { return false }); len(got) != 0 {
		t.Fatalf("kept %v, want none", got)
	}
}
