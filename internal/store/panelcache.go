package store

import (
	"container/list"
	"sync"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// panelCache keeps, per issue, what the development panel last read of its
// branch and pull request records and of the index, each with the version
// it was read at: the issue's record version (issue_record_changes) and
// the tenant's index version (index_versions). Every transaction that
// changes what those reads return adds one to the version, in the same
// transaction, and versions never go back. The panel's statements read
// the current version with the rows, and read the rows only when the
// version is not the kept one (issueRecordsQuery, issueIndexQuery): so a
// kept part is shown only while it is still what the database holds,
// whichever process changed it, and a panel read of an unchanged issue
// costs the database two key lookups instead of its joins and sorts.
//
// A kept issue is read again once it was kept for panelCacheFor, so that
// anything the versions could miss (two transactions moving the same
// record to different issues at the same moment; a replica of an older
// release writing records without counting them) is shown for at most
// that long. It holds at most panelCacheBytes (an estimate of the kept
// values' size), dropping the least recently read issues first. What it
// hands out is shared: callers must not modify it.
type panelCache struct {
	mu      sync.Mutex
	entries map[panelKey]*list.Element
	order   list.List // of *panelEntry, most recently read first
	bytes   int
	limit   int
	// now is the clock of keptAt; nil means time.Now.
	now func() time.Time
}

// panelCacheFor is how long a kept issue is used before it is read again.
const panelCacheFor = time.Minute

// panelCacheBytes bounds what panelCache keeps, for each store, unless
// SetPanelCacheBytes says otherwise.
const panelCacheBytes = 16 << 20

// SetPanelCacheBytes bounds what the development panel keeps in memory of
// issues' records and index (see panelCache) to about n bytes; 0 is the
// default (16 MiB), and a negative n keeps nothing, so that every panel
// read reads them (the cost of a changed issue, which benchmarks measure).
// Call it before the store serves.
func (db *DB) SetPanelCacheBytes(n int) {
	c := &db.panels
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit = n
	for c.order.Len() > 0 {
		c.remove(c.order.Back())
	}
}

type panelKey struct{ tenantID, issueKey string }

// panelKept is what is kept of an issue: either part with version -1 is
// not kept.
type panelKept struct {
	records      issueRecordSet
	index        relay.IssueIndex
	indexVersion int64
}

type panelEntry struct {
	key  panelKey
	kept panelKept
	size int
	// recordsAt and indexAt are when each part was read.
	recordsAt, indexAt time.Time
}

// notKept is a panelKept with neither part kept.
var notKept = panelKept{records: issueRecordSet{version: -1}, indexVersion: -1}

// get returns what is kept of the issue: a part not kept, or kept for
// panelCacheFor, has version -1.
func (c *panelCache) get(k panelKey) panelKept {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return notKept
	}
	e := el.Value.(*panelEntry)
	now := c.clock()
	kept := e.kept
	if now.Sub(e.recordsAt) >= panelCacheFor {
		kept.records = notKept.records
	}
	if now.Sub(e.indexAt) >= panelCacheFor {
		kept.index, kept.indexVersion = notKept.index, notKept.indexVersion
	}
	c.order.MoveToFront(el)
	return kept
}

func (c *panelCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// put keeps what was read of the issue (a part with version -1 is not
// kept). A part kept from before, not yet too old, stays with its age
// when its version is the same as the one read (it was not read again)
// or newer (the read began before a change another read saw first).
func (c *panelCache) put(k panelKey, read panelKept) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit < 0 {
		return
	}
	if c.entries == nil {
		c.entries = map[panelKey]*list.Element{}
		if c.limit == 0 {
			c.limit = panelCacheBytes
		}
	}
	now := c.clock()
	e := &panelEntry{key: k, kept: read, recordsAt: now, indexAt: now}
	if el, ok := c.entries[k]; ok {
		old := el.Value.(*panelEntry)
		if now.Sub(old.recordsAt) < panelCacheFor && old.kept.records.version >= read.records.version {
			e.kept.records, e.recordsAt = old.kept.records, old.recordsAt
		}
		if now.Sub(old.indexAt) < panelCacheFor && old.kept.indexVersion >= read.indexVersion {
			e.kept.index, e.kept.indexVersion, e.indexAt = old.kept.index, old.kept.indexVersion, old.indexAt
		}
		c.remove(el)
	}
	e.size = panelSize(k, e.kept)
	// An issue too large for its share is read every time rather than
	// push many others out.
	if e.size > c.limit/64 {
		return
	}
	c.entries[k] = c.order.PushFront(e)
	c.bytes += e.size
	for c.bytes > c.limit {
		c.remove(c.order.Back())
	}
}

func (c *panelCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*panelEntry)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// panelSize estimates the memory an entry holds: its strings, plus a
// fixed amount per entry and per item for the structures around them.
func panelSize(k panelKey, p panelKept) int {
	const entry, item = 256, 160
	n := entry + len(k.tenantID) + len(k.issueKey)
	for _, b := range p.records.branches {
		n += item + len(b.ID) + len(b.IntegrationID) + len(b.RepositoryID) + len(b.Repository) + len(b.Name) +
			len(b.URL) + len(b.ActedAs.Login) + len(b.CreatedBy)
	}
	for _, pr := range p.records.pullRequests {
		n += item + len(pr.ID) + len(pr.IntegrationID) + len(pr.RepositoryID) + len(pr.Repository) + len(pr.Title) +
			len(pr.URL) + len(pr.Source) + len(pr.Target) + len(pr.ActedAs.Login) + len(pr.CreatedBy)
	}
	place := func(p relay.IndexPlace) int {
		return item + len(p.IntegrationID) + len(p.RepositoryID) + len(p.Repository) + len(p.WebURL)
	}
	for _, b := range p.index.Branches {
		n += place(b.IndexPlace) + len(b.Name) + len(b.SHA) + len(b.Message) + len(b.Author)
	}
	for _, c := range p.index.Commits {
		n += place(c.IndexPlace) + len(c.SHA) + len(c.Message) + len(c.AuthorName) + len(c.AuthorEmail)
		for _, b := range c.Branches {
			n += 16 + len(b)
		}
	}
	for _, pr := range p.index.PullRequests {
		n += place(pr.IndexPlace) + len(pr.Title) + len(pr.State) + len(pr.Source) + len(pr.Target) + len(pr.Author) + len(pr.URL)
	}
	return n
}
