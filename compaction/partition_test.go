package compaction

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/lakewriter"
)

// partitionedSeeded is seeded on a table partitioned by truncate[50](qty)
// (two partitions; the random updates move rows between them) and
// bucket[2](id).
func partitionedSeeded(t *testing.T, seed uint64, n, changes, keys int) (*lakewriter.Table, model, *rand.Rand) {
	t.Helper()
	tbl := ensure(t, newLake(t).open(t))
	var p lakewriter.Partitioning
	for _, s := range []string{"truncate[50](qty)", "bucket[2](id)"} {
		f, err := lakewriter.ParsePartitionField(s)
		require.NoError(t, err)
		p.Fields = append(p.Fields, f)
	}
	_, err := tbl.SetPartitioning(context.Background(), p)
	require.NoError(t, err)
	m := model{}
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for cp := 1; cp <= n; cp++ {
		ingest(t, tbl, m, rng, cp, changes, keys)
	}
	return tbl, m, rng
}

// filesByPartition counts the live data files of each partition of the
// current spec (by partition tuple), and those of other specs.
func filesByPartition(t *testing.T, tbl *lakewriter.Table) (byPartition map[string]int, otherSpec int) {
	t.Helper()
	byPartition = map[string]int{}
	err := tbl.Maintain(context.Background(), func(ctx context.Context, it *table.Table) (*table.Table, error) {
		tasks, err := it.Scan().PlanFiles(ctx)
		if err != nil {
			return nil, err
		}
		spec := it.Spec()
		for _, task := range tasks {
			if int(task.File.SpecID()) != spec.ID() {
				otherSpec++
				continue
			}
			byPartition[fmt.Sprint(task.File.Partition())]++
		}
		return nil, nil
	})
	require.NoError(t, err)
	return byPartition, otherSpec
}

// TestCompactPartitioned: upserts that move rows between partitions read
// back exactly before compaction (the equality deletes are global), and
// a pass packs each partition's small files into one file of that
// partition, applies every delete and drops the delete files.
func TestCompactPartitioned(t *testing.T) {
	ctx := context.Background()
	tbl, m, rng := partitionedSeeded(t, 3, 20, 40, 300)
	requireEqual(t, tbl, m)
	before, other := filesByPartition(t, tbl)
	require.Zero(t, other)
	require.Len(t, before, 4, "2 qty ranges x 2 id buckets")
	for part, n := range before {
		require.Greater(t, n, 10, "partition %s has many small files", part)
	}

	res, err := Compact(ctx, tbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	require.NotZero(t, res.SnapshotID)
	requireEqual(t, tbl, m)
	after, other := filesByPartition(t, tbl)
	require.Zero(t, other)
	require.Len(t, after, 4)
	for part, n := range after {
		require.Equal(t, 1, n, "partition %s compacts into one file", part)
	}
	_, deletes, err := tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Zero(t, deletes, "every delete was applied and dropped")

	// After a spec change, files of the old spec are rewritten into the
	// new one, and the rows stay the same.
	f, err := lakewriter.ParsePartitionField("bucket[3](id)")
	require.NoError(t, err)
	_, err = tbl.SetPartitioning(ctx, lakewriter.Partitioning{Fields: []lakewriter.PartitionField{f}})
	require.NoError(t, err)
	for cp := 21; cp <= 25; cp++ {
		ingest(t, tbl, m, rng, cp, 40, 300)
	}
	requireEqual(t, tbl, m)
	_, err = Compact(ctx, tbl, Options{MinInputFiles: 2})
	require.NoError(t, err)
	requireEqual(t, tbl, m)
	_, deletes, err = tbl.FileCounts(ctx)
	require.NoError(t, err)
	require.Zero(t, deletes)
	_, other = filesByPartition(t, tbl)
	require.Zero(t, other, "files of the old spec are rewritten in the new one")
}
