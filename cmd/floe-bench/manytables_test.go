package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestManyTableDDL(t *testing.T) {
	assert.Equal(t, []string{"mt_0001", "mt_0002", "mt_0003"}, manyTableNames(3))
	stmts := manyTableDDL(manyTableNames(5), manyTableNames(2), 3)
	require.Len(t, stmts, 5)
	assert.Equal(t, "DROP TABLE IF EXISTS mt_0001, mt_0002, mt_0003, mt_0004, mt_0005", stmts[0])
	assert.Equal(t, "CREATE TABLE mt_0002 (id BIGINT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL)", stmts[3])
	assert.Equal(t, "INSERT INTO mt_0002 VALUES (1, 1, 'v1', 1.01), (2, 2, 'v2', 2.02), (3, 3, 'v3', 3.03)", stmts[4])
}

// TestManyTxnPlan replays the stream on a model of the tables: every
// statement changes exactly one existing (or, an insert, new) row, the
// load is spread evenly over the tables, every table keeps rows+1 rows,
// and the marker changes one row of every table.
func TestManyTxnPlan(t *testing.T) {
	const n, rows, txns = 3, 4, 20
	names := manyTableNames(n)
	live := map[string]map[int]bool{}
	for _, name := range names {
		live[name] = map[int]bool{}
		for id := 1; id <= rows; id++ {
			live[name][id] = true
		}
	}
	stmtRE := regexp.MustCompile(`^(INSERT INTO|UPDATE|DELETE FROM) (mt_\d{4}) .*?(?:VALUES \((\d+),|WHERE id = (\d+))`)
	perTable := map[string]int{}
	apply := func(q string) {
		m := stmtRE.FindStringSubmatch(q)
		require.NotNil(t, m, q)
		var id int
		_, err := fmt.Sscan(m[3]+m[4], &id)
		require.NoError(t, err, q)
		tbl := live[m[2]]
		switch m[1] {
		case "INSERT INTO":
			assert.False(t, tbl[id], "%s: the row exists", q)
			tbl[id] = true
		case "DELETE FROM":
			assert.True(t, tbl[id], "%s: no such row", q)
			delete(tbl, id)
		default:
			assert.True(t, tbl[id], "%s: no such row", q)
		}
	}
	for k := range txns {
		stmts := manyTxn(names, rows, k)
		assert.Len(t, stmts, min(2+k/n, 3), "txn %d", k)
		for _, q := range stmts {
			apply(q)
		}
		perTable[names[k%n]]++
	}
	for _, name := range names {
		assert.Len(t, live[name], rows+1, name)
		assert.InDelta(t, txns/n, perTable[name], 1, name)
	}
	marker := manyMarker(names)
	require.Len(t, marker, n)
	for i, q := range marker {
		assert.Equal(t, fmt.Sprintf("UPDATE %s SET amount = amount + 1 WHERE id = 1", names[i]), q)
		apply(q)
	}
}

func TestManyStreamPacing(t *testing.T) {
	names := manyTableNames(2)
	start := time.Now()
	var got int
	for stmts := range manyStream(context.Background(), names, 10, 100, 200*time.Millisecond) {
		assert.NotEmpty(t, stmts)
		got++
	}
	assert.Equal(t, 20, got, "100 transactions/s for 200 ms")
	assert.GreaterOrEqual(t, time.Since(start), 180*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got = 0
	for range manyStream(ctx, names, 10, 100, time.Hour) {
		got++
	}
	assert.LessOrEqual(t, got, 1, "an ended context ends the stream")
}

func TestSetPerTable(t *testing.T) {
	sc := func(n int, rss int64) Scenario {
		s := Scenario{Name: scManyTables, Unit: "MiB", Tables: n,
			Runs: []Run{{Floe: float64(rss) / (1 << 20), PeakRSSBytes: rss, Count: 1000, CPUSeconds: 1}}}
		s.summarize(1)
		return s
	}
	scs := []Scenario{{Name: scHugeTxn, PeakRSSBytes: 900 << 20}, sc(1, 100<<20), sc(50, 149<<20), sc(200, 299<<20)}
	// Three runs at 200 tables: the median counts, not the highest.
	scs[3].Runs = append(scs[3].Runs, Run{Floe: 301, PeakRSSBytes: 301 << 20}, Run{Floe: 290, PeakRSSBytes: 290 << 20})
	scs[3].summarize(1)
	setPerTable(scs)
	require.NotNil(t, scs[3].MiBPerTable)
	assert.InDelta(t, 1.0, *scs[3].MiBPerTable, 1e-9, "(299 - 100) MiB over 199 tables")
	assert.Equal(t, int64(301<<20), scs[3].PeakRSSBytes, "the peak stays the highest run")
	assert.Equal(t, 1, scs[3].PerTableFrom)
	assert.Nil(t, scs[1].MiBPerTable)
	assert.Nil(t, scs[2].MiBPerTable)
	assert.Nil(t, scs[0].MiBPerTable)
	assert.Equal(t, "manytables at 200 tables", scenarioLabel(scs[3]))

	one := []Scenario{sc(50, 10<<20)}
	setPerTable(one)
	assert.Nil(t, one[0].MiBPerTable, "one table count: no difference")
	assert.InDelta(t, -0.5, mibPerTable(100, 99, 1, 3), 1e-9, "a difference below the noise stays visible")
}

func TestParseTableCounts(t *testing.T) {
	got, err := parseTableCounts("200, 1,50,50")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 50, 200}, got)
	for _, bad := range []string{"", "0", "x", "1,-3", "10000"} {
		_, err := parseTableCounts(bad)
		assert.ErrorContains(t, err, "-manytables", bad)
	}
	o, err := parseFlags([]string{"-memory"})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 50, 200}, o.manyTables)
	assert.Contains(t, o.scenarios, scManyTables)
	assert.Equal(t, "memory", o.label)
	o, err = parseFlags([]string{"-memory", "-manytables", "1,20"})
	require.NoError(t, err)
	assert.Equal(t, "custom", o.label)
}

// TestRenderManyTables: -render summarizes a version 5 file again,
// MiB per table included.
func TestRenderManyTables(t *testing.T) {
	r := fixedResults()
	for i := range r.Sources[1].Scenarios {
		r.Sources[1].Scenarios[i].MiBPerTable = nil
	}
	js, err := marshalResults(r)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(path, js, 0o644))
	md, err := renderFile(path)
	require.NoError(t, err)
	assert.Contains(t, md, "| mariadb | memory per table: median peak RSS at 200 tables less at 1, per table more | 1.00 MiB |")
}
