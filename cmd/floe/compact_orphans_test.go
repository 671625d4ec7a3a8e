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
