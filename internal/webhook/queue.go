package webhook

import (
	"context"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// ChangeQueue is the durable queue of repositories verified deliveries said
// changed (store.DB implements it).
type ChangeQueue interface {
	RepositoryChanges(ctx context.Context, limit int) ([]relay.RepositoryChange, error)
	DoneRepositoryChange(ctx context.Context, ch relay.RepositoryChange) (bool, error)
}

// DrainChanges hands each queued change, oldest first and at most limit,
// to read (typically: make the repository due for an incremental read
// now), and removes the ones read without error unless a newer delivery
// moved them meanwhile, which stay for the next drain. A change read
// returns an error for stays queued as well. It returns how many changes
// it removed; it stops at the first error of the queue itself or when ctx
// ends.
func DrainChanges(ctx context.Context, q ChangeQueue, limit int, read func(context.Context, relay.RepositoryChange) error) (int, error) {
	changes, err := q.RepositoryChanges(ctx, limit)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if read(ctx, ch) != nil {
			continue
		}
		removed, err := q.DoneRepositoryChange(ctx, ch)
		if err != nil {
			return done, err
		}
		if removed {
			done++
		}
	}
	return done, nil
}
