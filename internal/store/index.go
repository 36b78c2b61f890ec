package store

// indexTables hold the index of an integration's repositories (see
// migration 0012_index): everything in them was read from the host and can
// be read again, so they go with their repository, integration or tenant.
var indexTables = []string{
	"indexed_pull_request_issues", "indexed_pull_requests", "indexed_commit_issues", "indexed_commits",
	"indexed_branches", "index_repositories",
}
