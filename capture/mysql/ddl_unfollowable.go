package mysql

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
)

// unfollowableAlter returns the OpUnreadable change of an ALTER TABLE
// statement (event h) that changes t's rows without row events (why, from
// alterFillsRows): the consumer stops at it unless the table's committed
// state is past it. It is carried as a change, not as an end of the
// stream, so that after `floe resnapshot` the table's new snapshot passes
// it: a change this session's snapshot of t supersedes is dropped here
// (supersededBySnapshot), as for a statement-format change.
func (st *streamer) unfollowableAlter(h *replication.EventHeader, t *table, why, stmt string) []capture.Change {
	pos, at := st.statementPosition(h)
	if st.supersededBySnapshot(t, pos) {
		st.s.base.Log.Info("a schema change that Floe cannot follow, before this session's snapshot of the table, is superseded by it",
			"table", t.id.String(), "position", at, "statement", truncate(stmt, 200))
		return nil
	}
	hint := ""
	if strings.HasPrefix(why, "a column added") {
		hint = " (add columns as NULL without a default to have them followed)"
	}
	return []capture.Change{{Table: t.id, Op: capture.OpUnreadable, Err: fmt.Errorf(
		"schema change of captured table %s at %s: %s: %q; the binlog carries no row events for that, so the Iceberg table cannot follow; "+
			"fix: re-snapshot the table with floe resnapshot --table %s%s",
		t.id, at, why, truncate(stmt, 200), t.id, hint)}}
}
