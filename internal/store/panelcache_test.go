package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

func keptRecords(version int64, names ...string) panelKept {
	k := notKept
	k.records = issueRecordSet{version: version, branches: []relay.BranchRecord{}, pullRequests: []relay.PullRequestRecord{}}
	for _, n := range names {
		k.records.branches = append(k.records.branches, relay.BranchRecord{Name: n})
	}
	return k
}

// A read that began before a change, and ends after another read kept the
// change, does not put the older records back; a newer read replaces
// them. The index part is kept on its own version the same way.
func TestPanelCacheNeverGoesBack(t *testing.T) {
	var c panelCache
	k := panelKey{"t1", "ABC-1"}
	if got := c.get(k); got.records.version != -1 || got.indexVersion != -1 {
		t.Fatalf("empty cache holds versions %d and %d, want -1 and -1", got.records.version, got.indexVersion)
	}
	c.put(k, keptRecords(5, "new"))
	c.put(k, keptRecords(4, "old"))
	if got := c.get(k); got.records.version != 5 || got.records.branches[0].Name != "new" {
		t.Fatalf("after an older put: version %d %v, want 5 [new]", got.records.version, got.records.branches)
	}
	c.put(k, keptRecords(6, "newer"))
	if got := c.get(k); got.records.version != 6 || got.records.branches[0].Name != "newer" {
		t.Fatalf("after a newer put: version %d %v, want 6 [newer]", got.records.version, got.records.branches)
	}

	withIndex := keptRecords(6, "newer")
	withIndex.indexVersion = 9
	withIndex.index = relay.IssueIndex{Commits: []relay.IssueIndexCommit{{IndexedCommit: relay.IndexedCommit{SHA: "c9"}}}}
	c.put(k, withIndex)
	older := keptRecords(7, "newest")
	older.indexVersion = 8
	c.put(k, older)
	got := c.get(k)
	if got.records.version != 7 || got.indexVersion != 9 || got.index.Commits[0].SHA != "c9" {
		t.Fatalf("parts kept: records %d, index %d %v; want records 7, index 9 [c9]", got.records.version, got.indexVersion, got.index.Commits)
	}
}

// The cache holds at most its limit, dropping the issues read least
// recently; an issue too large for its share is not kept at all.
func TestPanelCacheKeepsToItsLimit(t *testing.T) {
	c := panelCache{}
	c.put(panelKey{"t1", "ABC-00"}, keptRecords(1))
	one := c.bytes
	c.limit = 64 * one // the largest issue kept is a 64th of the limit
	for i := 1; i < 64; i++ {
		c.put(panelKey{"t1", fmt.Sprintf("ABC-%02d", i)}, keptRecords(1))
	}
	if len(c.entries) != 64 || c.bytes != 64*one {
		t.Fatalf("%d entries of %d bytes, want 64 of %d", len(c.entries), c.bytes, 64*one)
	}
	c.get(panelKey{"t1", "ABC-00"}) // read recently: kept
	c.put(panelKey{"t1", "ABC-64"}, keptRecords(1))
	if len(c.entries) != 64 || c.bytes > c.limit {
		t.Fatalf("%d entries of %d bytes, want 64 within %d", len(c.entries), c.bytes, c.limit)
	}
	if got := c.get(panelKey{"t1", "ABC-01"}); got.records.version != -1 {
		t.Fatal("the least recently read issue is still kept")
	}
	if got := c.get(panelKey{"t1", "ABC-00"}); got.records.version != 1 {
		t.Fatal("a recently read issue was dropped")
	}

	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("ABC-1-branch-%03d", i)
	}
	c.put(panelKey{"t1", "ABC-big"}, keptRecords(1, names...))
	if got := c.get(panelKey{"t1", "ABC-big"}); got.records.version != -1 {
		t.Fatalf("an issue of %d bytes is kept in a cache of %d", panelSize(panelKey{"t1", "ABC-big"}, keptRecords(1, names...)), c.limit)
	}
}

// A kept part is used for panelCacheFor after it was read, then read
// again; reading the other part again does not make it younger.
func TestPanelCacheReadsAgainAfterAMinute(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := panelCache{now: func() time.Time { return now }}
	k := panelKey{"t1", "ABC-1"}
	both := keptRecords(3, "fix")
	both.indexVersion = 7
	c.put(k, both)

	now = now.Add(panelCacheFor / 2)
	records := c.get(k)
	records.records = keptRecords(4, "fix", "feature").records // the records changed: read again
	c.put(k, records)

	now = now.Add(panelCacheFor/2 - time.Second)
	if got := c.get(k); got.records.version != 4 || got.indexVersion != 7 {
		t.Fatalf("within the minute: versions %d and %d, want 4 and 7", got.records.version, got.indexVersion)
	}
	now = now.Add(time.Second)
	got := c.get(k)
	if got.records.version != 4 || got.indexVersion != -1 {
		t.Fatalf("a minute after the index was read: versions %d and %d, want 4 and -1", got.records.version, got.indexVersion)
	}
	got.indexVersion = 7 // read again, unchanged
	c.put(k, got)
	now = now.Add(panelCacheFor / 2)
	if got := c.get(k); got.records.version != -1 || got.indexVersion != 7 {
		t.Fatalf("a minute after the records were read: versions %d and %d, want -1 and 7", got.records.version, got.indexVersion)
	}
}
