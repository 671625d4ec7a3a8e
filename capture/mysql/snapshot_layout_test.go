package mysql

import (
	"errors"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

// TestChunkAfterSchemaChange: a chunk read after its table's layout
// changed (an ALTER between two chunk reads of one snapshot) is refused
// with capture.ErrLayoutChanged instead of being decoded with the layout
// the snapshot started with. Decoded that way, a FLOAT widened to DOUBLE
// lost its digits and a column added since was not read at all, and
// because the chunk's watermark is after the ALTER, the stream then
// dropped the changes that carried the right values: the table differed
// from its source for good (TestMySQLCrashExactlyOnce's "348 differ" on a
// busy machine, where the workload's ALTER landed inside the snapshot).
func TestChunkAfterSchemaChange(t *testing.T) {
	for _, tc := range []struct{ name, alter string }{
		{"widen", "ALTER TABLE lay MODIFY a DOUBLE"},
		{"add column", "ALTER TABLE lay ADD COLUMN nick VARCHAR(10) NULL"},
		{"drop column", "ALTER TABLE lay DROP COLUMN v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.exec(`CREATE TABLE lay (id BIGINT PRIMARY KEY, a FLOAT, v VARCHAR(10))`,
				`INSERT INTO lay SELECT seq, seq / 3, 'x' FROM seq_1_to_400`)
			s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.lay`)
			ctx := testCtx(t)
			tid := id(e.db, "lay")
			chunks, err := s.PlanChunks(ctx, tid, 100)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadChunk(ctx, tid, chunks[0]); err != nil {
				t.Fatalf("chunk 0, before the ALTER: %v", err)
			}
			e.exec(tc.alter, `UPDATE lay SET a = 0.1234567891 WHERE id > 100`)
			b, err := s.ReadChunk(ctx, tid, chunks[1])
			if !errors.Is(err, capture.ErrLayoutChanged) {
				if err == nil {
					t.Fatalf("chunk 1, after %q: read %d rows in the old layout (first: %v), want capture.ErrLayoutChanged", tc.alter, len(b.Changes), b.Changes[0].After)
				}
				t.Fatalf("chunk 1, after %q: %v, want capture.ErrLayoutChanged", tc.alter, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}
