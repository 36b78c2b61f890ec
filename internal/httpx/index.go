package httpx

import (
	"time"

	"github.com/gitrelay/gitrelay/internal/action"
)

// IndexStatus is the state of an integration's index.
type IndexStatus struct {
	IntegrationID string            `json:"integration_id"`
	Total         int               `json:"total"`
	Indexed       int               `json:"indexed"`
	Queued        int               `json:"queued"`
	Failing       int               `json:"failing"`
	Commits       int64             `json:"commits"`
	DiskBytes     int64             `json:"disk_bytes"`
	LastCheckedAt *time.Time        `json:"last_checked_at,omitempty"`
	NextCheckAt   *time.Time        `json:"next_check_at,omitempty"`
	Repositories  []IndexRepository `json:"repositories"`
	Webhook       *IndexWebhook     `json:"webhook"`
	RateBudget    *IndexRateBudget  `json:"rate_budget"`
}

// IndexWebhook counts the integration's webhook deliveries.
type IndexWebhook struct {
	Received       int64      `json:"received"`
	Refused        int64      `json:"refused"`
	LastDeliveryAt *time.Time `json:"last_delivery_at"`
	LastRefusedAt  *time.Time `json:"last_refused_at"`
}

// IndexRateBudget is the integration account's rate limit.
type IndexRateBudget struct {
	Limit       int        `json:"limit"`
	Remaining   int        `json:"remaining"`
	Reserved    int        `json:"reserved"`
	ResetAt     *time.Time `json:"reset_at"`
	PausedUntil *time.Time `json:"paused_until"`
}

// IndexRepository is one repository's index state.
type IndexRepository struct {
	RepositoryID  string     `json:"repository_id"`
	Repository    string     `json:"repository"`
	State         string     `json:"state"`
	Commits       int64      `json:"commits"`
	DiskBytes     int64      `json:"disk_bytes"`
	LastCheckedAt *time.Time `json:"last_checked_at,omitempty"`
	LastChangedAt *time.Time `json:"last_changed_at,omitempty"`
	NextCheckAt   time.Time  `json:"next_check_at"`
	Failure       string     `json:"failure"`
	FailingSince  *time.Time `json:"failing_since,omitempty"`
}

// Repository index states: never read and waiting; being read now;
// failing; read.
const (
	IndexQueued  = "queued"
	IndexReading = "reading"
	IndexFailing = "failing"
	IndexIndexed = "indexed"
)

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// IndexStatusOf is the wire form of an index status.
func IndexStatusOf(s action.IndexStatus) IndexStatus {
	out := IndexStatus{IntegrationID: s.IntegrationID, Total: s.Total, Indexed: s.Indexed, Queued: s.Queued, Failing: s.Failing,
		Commits: s.Commits, DiskBytes: s.DiskBytes, LastCheckedAt: timePtr(s.LastCheckedAt), NextCheckAt: timePtr(s.NextCheckAt),
		Repositories: []IndexRepository{}}
	if w := s.Webhook; w != nil {
		out.Webhook = &IndexWebhook{Received: w.Received, Refused: w.Refused, LastDeliveryAt: timePtr(w.LastDeliveryAt), LastRefusedAt: timePtr(w.LastRefusedAt)}
	}
	if b := s.Budget; b != nil {
		out.RateBudget = &IndexRateBudget{Limit: b.Limit, Remaining: b.Remaining, Reserved: b.Reserved, ResetAt: timePtr(b.Reset), PausedUntil: timePtr(b.PausedUntil)}
	}
	for _, r := range s.Repositories {
		state := IndexIndexed
		switch {
		case r.Leased:
			state = IndexReading
		case r.Failure != "":
			state = IndexFailing
		case r.TipsDigest == "" || !r.RequestedAt.IsZero():
			state = IndexQueued
		}
		out.Repositories = append(out.Repositories, IndexRepository{RepositoryID: r.RepositoryID, Repository: r.FullName, State: state,
			Commits: r.Commits, DiskBytes: r.DiskBytes, LastCheckedAt: timePtr(r.LastCheckedAt), LastChangedAt: timePtr(r.LastChangedAt),
			NextCheckAt: r.NextPollAt.UTC(), Failure: r.Failure, FailingSince: timePtr(r.FailingSince)})
	}
	return out
}
