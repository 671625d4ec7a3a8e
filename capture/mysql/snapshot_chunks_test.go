package mysql

import (
	"fmt"
	"slices"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/capture/internal/toolkit"
)

// TestSnapshotWideRowChunks checks that planning cuts chunks by the rows'
// bytes as well as by their count: rows of about 1 MB each, with
// toolkit.ChunkBytes lowered to 2 MiB, make chunks of two or three rows
// although 1,000 rows per chunk are asked for; the chunks still cover the
// table exactly once, in key order.
func TestSnapshotWideRowChunks(t *testing.T) {
	defer func(b int) { toolkit.ChunkBytes = b }(toolkit.ChunkBytes)
	toolkit.ChunkBytes = 2 << 20
	e := newEnv(t)
	const n = 12
	e.exec(`CREATE TABLE wide (id INT PRIMARY KEY, v LONGBLOB)`)
	for i := 1; i <= n; i++ {
		e.exec(fmt.Sprintf(`INSERT INTO wide VALUES (%d, REPEAT('x', 960000))`, i))
	}
	for i := 101; i <= 150; i++ {
		e.exec(fmt.Sprintf(`INSERT INTO wide VALUES (%d, 'small')`, i))
	}
	s := startedSource(t, e, capture.StartRequest{Snapshot: true}, e.db+`\.wide`)
	ctx := testCtx(t)
	tid := id(e.db, "wide")
	chunks, err := s.PlanChunks(ctx, tid, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// 12 rows of ~0.92 MiB cross a multiple of 2 MiB every 2 or 3 rows.
	if len(chunks) < 5 || len(chunks) > 8 {
		t.Errorf("%d chunks, want 5 to 8 (one cut per 2 MiB of rows)", len(chunks))
	}
	var got []int64
	for _, c := range chunks {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range b.Changes {
			got = append(got, int64(ch.After[0].(int32)))
		}
	}
	var want []int64
	for i := 1; i <= n; i++ {
		want = append(want, int64(i))
	}
	for i := 101; i <= 150; i++ {
		want = append(want, int64(i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("chunks hold ids %v, want %v (each row once, in key order)", got, want)
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
}
