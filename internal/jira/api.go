package jira

import "time"

// The remote's payloads are httpx's wire types, the JSON API's, so the
// Forge panel and API clients read the same fields; these few are the
// remote's own (the devinfo queue administrators see in the panel).

type queuedJSON struct {
	ID               string    `json:"id"`
	Op               string    `json:"op"`
	UpdateSequenceID int64     `json:"update_sequence_id"`
	Attempts         int       `json:"attempts"`
	NextAttemptAt    time.Time `json:"next_attempt_at"`
	LastError        string    `json:"last_error"`
	QueuedAt         time.Time `json:"queued_at"`
}

type failureJSON struct {
	At           time.Time `json:"at"`
	EntityType   string    `json:"entity_type"`
	EntityID     string    `json:"entity_id"`
	RepositoryID string    `json:"repository_id"`
	IssueKeys    []string  `json:"issue_keys"`
	Reason       string    `json:"reason"`
}

type devinfoStatusJSON struct {
	Queued   []queuedJSON  `json:"queued"`
	Failures []failureJSON `json:"failures"`
}
