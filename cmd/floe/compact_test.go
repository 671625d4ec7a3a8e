package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/compaction"
)

// TestOrphanRemovalAtMostHourly: the background compactor removes a
// table's orphans on its first pass and then at most once per
// compaction.MinOrphanAge; other tables keep their own clock, and a
// configuration without orphan removal never gets it.
func TestOrphanRemovalAtMostHourly(t *testing.T) {
	c := &compactor{opts: compaction.Options{OrphansOlderThan: 72 * time.Hour}, orphansSwept: map[string]time.Time{}}
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	require.Equal(t, 72*time.Hour, c.passOptions("db.a", t0).OrphansOlderThan, "first pass")
	require.Zero(t, c.passOptions("db.a", t0.Add(time.Minute)).OrphansOlderThan, "a minute later")
	require.Equal(t, 72*time.Hour, c.passOptions("db.b", t0.Add(time.Minute)).OrphansOlderThan, "another table")
	require.Zero(t, c.passOptions("db.a", t0.Add(compaction.MinOrphanAge-time.Second)).OrphansOlderThan)
	require.Equal(t, 72*time.Hour, c.passOptions("db.a", t0.Add(compaction.MinOrphanAge)).OrphansOlderThan, "an hour later")

	off := &compactor{opts: compaction.Options{}, orphansSwept: map[string]time.Time{}}
	require.Zero(t, off.passOptions("db.a", t0).OrphansOlderThan)
}

// TestDescribeCompaction: floe compact's line for a table says what the
// pass did, the data files it left in place with their deletes
// converted included.
func TestDescribeCompaction(t *testing.T) {
	for _, tc := range []struct {
		res  compaction.Result
		want string
	}{
		{compaction.Result{}, "no files to rewrite; expired 0 snapshots; removed 0 orphan files"},
		{compaction.Result{SnapshotID: 7, RewrittenDataFiles: 60, AddedDataFiles: 1, BytesBefore: 3 << 20, BytesAfter: 2 << 20,
			RemovedDeleteFiles: 75, ConvertedDataFiles: 2, ConvertedDeleteRows: 1234, ExpiredSnapshots: 3},
			"rewrote 60 data files into 1 (3.0 MiB -> 2.0 MiB), dropped 75 delete files; left 2 data files in place, " +
				"their 1234 deleted rows now position deletes; expired 3 snapshots; removed 0 orphan files"},
	} {
		if got := describe(tc.res); got != tc.want {
			t.Errorf("describe(%+v)\n got %q\nwant %q", tc.res, got, tc.want)
		}
	}
}
