package checkpoint

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/memsource"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// toastingExport is an exporting memsource whose stream sends an update
// that left key and v as they were as pgoutput sends one that left a
// TOASTed value unchanged: v as schema.Unchanged, and no before image.
type toastingExport struct{ memsource.Exporting }

func (s toastingExport) Stream(ctx context.Context, out chan<- capture.Batch) error {
	return rewriteStream(ctx, s.Exporting.Stream, out, func(b capture.Batch) capture.Batch {
		b.Changes = slices.Clone(b.Changes)
		for i, ch := range b.Changes {
			if ch.Op == capture.OpUpdate && ch.Before != nil && ch.After[0] == ch.Before[0] && ch.After[1] == ch.Before[1] {
				ch.After = slices.Clone(ch.After) // the DB holds ch.After
				ch.After[1] = schema.Unchanged
				ch.Before = nil // as pgoutput sends an update of an unchanged key
				b.Changes[i] = ch
			}
		}
		return b
	})
}

// TestBesideUnchangedValueBeforeItsChunk: a table re-snapshotted beside
// the stream from a source that sends unchanged TOAST values as
// schema.Unchanged. An update leaving v unchanged of a key whose chunk is
// not read yet, and whose v changed while floe was down, is committed
// while the reads are held: the table was reset for the snapshot (upsert:
// emptied; changelog: its rows from before the reset are stale) and the
// chunk row that would supply v is left out as superseded, so v is taken
// from the source's current row (the change converges), never from
// Iceberg; a key updated with a new v first fills from that image. Both
// tables end equal to the source, in upsert and changelog mode.
func TestBesideUnchangedValueBeforeItsChunk(t *testing.T) {
	for _, mode := range []transform.Mode{transform.Upsert, transform.Changelog} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			besideUnchanged(t, mode)
		})
	}
}

func besideUnchanged(t *testing.T, mode transform.Mode) {
	l, _, ctl, board := resnapshotAsked(t, mode)
	// Made while floe is down, before the export: the snapshot holds it,
	// and the rows Iceberg held before the reset do not.
	l.exec("UPDATE b SET v = 'b9' WHERE id = 95")

	held := holdReads("b")
	defer held.free()
	src := l.source(held.config())
	var changed, end memsource.Pos
	step := 0
	var logs bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	err := l.run(toastingExport{memsource.WithExport(src)}, runOpts{logs: &logs, wantStream: true, status: board, control: ctl, until: func() bool {
		switch step {
		case 0: // the export is taken and b's first chunk waits
			if !held.began() {
				return false
			}
			changed = l.exec("UPDATE b SET v = 'b9' WHERE id = 95", // v unchanged, its chunk not read
				"UPDATE b SET v = 'b1' WHERE id = 60", "UPDATE b SET v = 'b1' WHERE id = 60", // the second fills from the first
				"UPDATE b SET v = 'b1' WHERE id = 93", // its chunk row, older, is applied after it
				"UPDATE a SET v = 'a1' WHERE id = 1")
			step++
		case 1: // b commits those changes while its reads are held
			if l.committed("b") < changed {
				return false
			}
			held.free()
			l.exec("UPDATE b SET v = 'b0' WHERE id = 96", "UPDATE b SET v = 'b1' WHERE id = 94", "UPDATE b SET v = 'b1' WHERE id = 94")
			end = l.db.Sync()
			step++
		case 2: // b's snapshot is complete: v of 93 is left unchanged
			st, ok := board.Load()
			if !ok {
				return false
			}
			for _, tl := range st.Tables {
				if tl.Snapshotting {
					return false
				}
			}
			l.exec("UPDATE b SET v = 'b1' WHERE id = 93")
			end = l.db.Sync()
			step++
		case 3: // everything is acknowledged
			return acked(src, end)()
		}
		return false
	}})
	require.NoError(t, err)
	l.check("a")
	l.check("b")
	require.Equal(t, "b9", l.row("b", 95))
	require.Equal(t, "b1", l.row("b", 60))
	require.Equal(t, "b1", l.row("b", 94))
	require.Equal(t, "b1", l.row("b", 93))
	require.Equal(t, "b0", l.row("b", 96))
}
