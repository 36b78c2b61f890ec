package relay

import "time"

// IndexKey names one repository of one integration in the index.
type IndexKey struct {
	TenantID      string
	IntegrationID string
	RepositoryID  string
}

// IndexState is the index's state of one repository: what was read last,
// when it is read next, and why it failed, if it did.
type IndexState struct {
	IndexKey
	FullName string
	WebURL   string
	// Tips are the refs as of the last complete read (ref name → sha) and
	// TipsDigest a digest of them ("" = never read).
	Tips       map[string]string
	TipsDigest string
	// Commits counts the commits walked so far.
	Commits       int64
	LastCheckedAt time.Time // zero: never
	LastChangedAt time.Time // zero: never
	NextPollAt    time.Time
	// RequestedAt is when an administrator asked for a re-index not yet
	// done (zero: none).
	RequestedAt time.Time
	// Leased is true while a replica reads the repository.
	Leased bool
	// Holder is the replica whose data directory holds the repository's
	// clone ("" when none does yet): see IndexClaim.
	Holder string
	// Failure is why the last read failed ("" when it succeeded), safe to
	// show; FailingSince is when the failures began.
	Failure      string
	FailingSince time.Time
	DiskBytes    int64
}

// IndexedCommit is a commit whose message names an issue.
type IndexedCommit struct {
	SHA         string
	Message     string // first line
	AuthorName  string
	AuthorEmail string
	At          time.Time
	// Branches are the branches the commit is on (reachable from), by
	// name, at most MaxCommitBranches: the first ones by name when it is
	// on more.
	Branches  []string
	IssueKeys []string
}

// MaxCommitBranches bounds the branches an indexed commit lists: a commit
// of the default branch of a repository with many branches is on most of
// them.
const MaxCommitBranches = 20

// CommitBranches are the branches an indexed commit is on now (see
// IndexedCommit.Branches).
type CommitBranches struct {
	SHA      string
	Branches []string
}

// IndexedBranch is a branch whose name names an issue, with its last
// commit.
type IndexedBranch struct {
	Name      string
	IssueKey  string
	SHA       string
	Message   string // the last commit's first line
	Author    string
	CommitAt  time.Time
	UpdatedAt time.Time
}

// IndexClaim asks for due repositories to read. A repository's clone
// lives in one replica's data directory, its holder, and only the holder
// reads it while it lives (its heartbeat is recent), so that each
// repository is cloned once and read incrementally; a repository no
// replica holds, or whose holder is gone, is claimed by whichever replica
// asks first, which becomes its holder.
type IndexClaim struct {
	// Owner names the lease: the process that reads. Replica names the
	// data directory the clones are read into (it outlives the process).
	Owner, Replica string
	Now            time.Time
	// Lease is how long a claimed repository stays Owner's.
	Lease time.Duration
	// GoneAfter: a replica whose last heartbeat is older than this is
	// gone; its repositories, leased or not, may be claimed.
	GoneAfter time.Duration
	Limit     int
}

// IndexUpdate is what one read of a repository found, saved at once.
type IndexUpdate struct {
	IndexKey
	// Owner is the lease holder saving it; the update is refused when the
	// lease passed to someone else.
	Owner      string
	Tips       map[string]string
	TipsDigest string
	Changed    bool
	Walked     int64
	// Commits are the commits walked that name an issue, with the
	// branches they are on; a commit already indexed (a re-index) gets
	// these branches.
	Commits []IndexedCommit
	// Rebranched are commits indexed before whose branches changed
	// (branches created, moved, deleted or force-pushed), with their
	// branches now.
	Rebranched []CommitBranches
	// Branches replace every indexed row of the branches named in
	// ChangedBranches (moved, created or deleted).
	ChangedBranches []string
	Branches        []IndexedBranch
	CheckedAt       time.Time
	NextPollAt      time.Time
	// DueAt is when the repository was due as claimed: a later due time
	// found on saving is a change a webhook told of during the read
	// (PollSoon), kept so that the change is read next.
	DueAt     time.Time
	DiskBytes int64
}

// IndexedPullRequest is a pull request read through the host API whose
// title, source branch or description names an issue. State is open,
// draft, merged or declined.
type IndexedPullRequest struct {
	Number    int
	Title     string
	State     string
	Source    string
	Target    string
	Author    string
	URL       string
	UpdatedAt time.Time
	IssueKeys []string
}

// IssueIndex is what the index holds for one issue, from the given
// integrations' repositories.
type IssueIndex struct {
	Branches     []IssueIndexBranch
	Commits      []IssueIndexCommit
	PullRequests []IssueIndexPullRequest
}

// IndexPlace says where an indexed item was found.
type IndexPlace struct {
	IntegrationID string
	RepositoryID  string
	Repository    string // full name
	WebURL        string // the repository's web page
}

// IssueIndexBranch is an indexed branch of an issue.
type IssueIndexBranch struct {
	IndexPlace
	IndexedBranch
}

// IssueIndexCommit is an indexed commit of an issue.
type IssueIndexCommit struct {
	IndexPlace
	IndexedCommit
}

// IssueIndexPullRequest is an indexed pull request of an issue.
type IssueIndexPullRequest struct {
	IndexPlace
	IndexedPullRequest
}

// ShortSHA is how a commit is named for people: the first 7 characters of
// its sha (all of it when shorter).
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
