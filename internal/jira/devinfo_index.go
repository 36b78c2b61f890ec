package jira

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
)

// opUpsertIndexed carries what one read of the index saved for one
// repository: commits, branches and pull requests that name issues.
const opUpsertIndexed = "upsert_indexed"

// indexedOpEntities bounds the entities of one queued op, well under
// Jira's 400 per type and repository, so that a bulk request never splits
// an op (chunks keeps each op's entities together).
const indexedOpEntities = 100

// IndexedRepository is the repository an index read was of.
type IndexedRepository struct {
	IntegrationID string `json:"integration_id"`
	RepositoryID  string `json:"repository_id"`
	Name          string `json:"repository"`
	URL           string `json:"url"`
}

// IndexedCommit is a commit the index found naming issues.
type IndexedCommit struct {
	SHA       string    `json:"sha"`
	Message   string    `json:"message"`
	Author    string    `json:"author"`
	At        time.Time `json:"at"`
	URL       string    `json:"url"`
	IssueKeys []string  `json:"issue_keys"`
}

// IndexedBranch is a branch whose name names issues, at its last commit.
type IndexedBranch struct {
	Name       string        `json:"name"`
	URL        string        `json:"url"`
	IssueKeys  []string      `json:"issue_keys"`
	LastCommit IndexedCommit `json:"last_commit"`
}

// IndexedPullRequest is a pull request naming issues; State is open,
// draft, merged or declined.
type IndexedPullRequest struct {
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	State     string    `json:"state"`
	Source    string    `json:"source"`
	Target    string    `json:"target"`
	Author    string    `json:"author"`
	URL       string    `json:"url"`
	UpdatedAt time.Time `json:"updated_at"`
	IssueKeys []string  `json:"issue_keys"`
}

// Indexed is what one read of a repository saved.
type Indexed struct {
	Commits      []IndexedCommit      `json:"commits,omitempty"`
	Branches     []IndexedBranch      `json:"branches,omitempty"`
	PullRequests []IndexedPullRequest `json:"pull_requests,omitempty"`
}

type indexedOp struct {
	IndexedRepository
	Indexed
}

// IndexSaved queues what the index saves for a repository of a Jira
// tenant, so that Jira's development panel and JQL see the work done
// outside gitrelay too, in tx, the transaction that saves it (a store
// transaction, given to the index's hook): the ops and the job that pushes
// them commit with the index or not at all, and an error rolls the save
// back. Ops carry at most indexedOpEntities entities each, pushed in bulk
// requests within Jira's limits like every other op. The built-in
// directory's tenant has no Jira: nothing is queued.
func (d *Devinfo) IndexSaved(ctx context.Context, tx *sql.Tx, tenantID string, repo IndexedRepository, x Indexed) error {
	var ops []any
	var cur Indexed
	n := 0
	flush := func() {
		if n > 0 {
			ops = append(ops, indexedOp{IndexedRepository: repo, Indexed: cur})
		}
		cur, n = Indexed{}, 0
	}
	for _, c := range x.Commits {
		cur.Commits = append(cur.Commits, c)
		if n++; n == indexedOpEntities {
			flush()
		}
	}
	for _, b := range x.Branches {
		cur.Branches = append(cur.Branches, b)
		if n++; n == indexedOpEntities {
			flush()
		}
	}
	for _, p := range x.PullRequests {
		cur.PullRequests = append(cur.PullRequests, p)
		if n++; n == indexedOpEntities {
			flush()
		}
	}
	flush()
	return d.enqueueTx(ctx, tx, tenantID, opUpsertIndexed, ops...)
}

// indexedEntries turns an indexed op into devinfo entities: everything is
// in the op, so the host is not asked.
func (d *Devinfo) indexedEntries(op store.DevinfoOp) ([]entry, *devRepository, error) {
	var x indexedOp
	if err := json.Unmarshal(op.Payload, &x); err != nil {
		return nil, nil, err
	}
	dr := &devRepository{ID: EntityID(x.IntegrationID + "/" + x.RepositoryID), Name: x.Name, URL: x.URL,
		Commits: []any{}, Branches: []devBranch{}, PullRequests: []devPullRequest{}}
	var out []entry
	for _, c := range x.Commits {
		dc := devCommitOf(c, op.Sequence)
		out = append(out, entry{op: op, repoID: dr.ID, commit: &dc, keys: c.IssueKeys})
	}
	for _, b := range x.Branches {
		if len(b.IssueKeys) == 0 {
			continue
		}
		db := devBranch{ID: EntityID(b.Name), IssueKeys: b.IssueKeys, UpdateSequenceID: op.Sequence, Name: b.Name, URL: b.URL,
			LastCommit: devCommitOf(b.LastCommit, op.Sequence),
			CreatePullRequestURL: d.createPullRequestURL(branchOp{IssueKey: b.IssueKeys[0], IntegrationID: x.IntegrationID,
				RepositoryID: x.RepositoryID, Name: b.Name})}
		out = append(out, entry{op: op, repoID: dr.ID, branch: &db, keys: b.IssueKeys})
	}
	for _, p := range x.PullRequests {
		dp := devPullRequest{ID: strconv.Itoa(p.Number), IssueKeys: p.IssueKeys, UpdateSequenceID: op.Sequence,
			Status: pullRequestStatus(p.State), Title: p.Title, Author: devAuthor{Name: authorName(p.Author)}, SourceBranch: p.Source,
			DestinationBranch: p.Target, LastUpdate: p.UpdatedAt.UTC().Format(time.RFC3339), Reviewers: []any{},
			URL: p.URL, DisplayID: "#" + strconv.Itoa(p.Number)}
		out = append(out, entry{op: op, repoID: dr.ID, pr: &dp, keys: p.IssueKeys})
	}
	return out, dr, nil
}

func devCommitOf(c IndexedCommit, seq int64) devCommit {
	keys := c.IssueKeys
	if keys == nil {
		keys = []string{}
	}
	return devCommit{ID: c.SHA, IssueKeys: keys, UpdateSequenceID: seq, Hash: c.SHA, Message: c.Message,
		Author: devAuthor{Name: authorName(c.Author)}, URL: c.URL, AuthorTimestamp: c.At.UTC().Format(time.RFC3339), DisplayID: relay.ShortSHA(c.SHA)}
}

// pullRequestStatus is Jira's name of a pull request state.
func pullRequestStatus(state string) string {
	switch state {
	case "open", "draft", "merged", "declined":
		return strings.ToUpper(state)
	}
	return "UNKNOWN"
}

// authorName is Jira's required author name: the host's, or "unknown".
func authorName(name string) string {
	if name == "" {
		return "unknown"
	}
	return name
}
