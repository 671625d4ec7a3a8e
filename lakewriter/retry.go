package lakewriter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iceberg-go/table"
)

// retryCommit makes one catalog commit to t, retried on failure: it
// reloads the table and calls try with it until try reports done. try
// returns (true, nil) when it committed (or found nothing to commit),
// (true, err) for an error that ends the loop at once, and (false, err)
// when the catalog commit failed: that attempt is retried on the
// reloaded table, which also recognises a commit that reported an error
// but landed, after a backoff of firstBackoff doubling up to maxBackoff,
// up to maxAttempts attempts in all, unless ctx is done or err wraps
// errEvolvePlan (a bug, not a conflict). The caller holds the locks
// its commit needs.
//
// Errors start with what and the table ("evolve db.t: ..."); a retry is
// logged at debug level as "<kind> commit failed; retrying".
func (t *Table) retryCommit(ctx context.Context, what, kind string, try func(base *table.Table) (bool, error)) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		base, err := t.refresh(ctx)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, t.id, err)
		}
		done, err := try(base)
		if done {
			if err != nil {
				return fmt.Errorf("%s %s: %w", what, t.id, err)
			}
			return nil
		}
		if attempt >= maxAttempts || ctx.Err() != nil || errors.Is(err, errEvolvePlan) {
			return fmt.Errorf("%s %s: gave up after %d attempts: %w", what, t.id, attempt, err)
		}
		t.log.Debug(kind+" commit failed; retrying", "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w (last attempt: %w)", what, t.id, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
