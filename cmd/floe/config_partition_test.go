package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/transform"
)

const arrangeBase = `
pipeline: {name: shop}
source: {type: postgres, username: floe, database: shop, tables: "public\\..*"}
`

func TestConfigPartitionBy(t *testing.T) {
	cfg, err := ParseConfig("floe.yaml", []byte(arrangeBase+`
sink:
  type: iceberg
  partition-by: day(created_at)
  sort-by: [created_at desc, id]
route:
  - source-table: public\.orders
    partition-by: [region, "bucket[16](id)"]
  - source-table: public\.events
    partition-by: none
    sort-by: none
  - source-table: public\.items
    sort-by: sku
`), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"day(created_at)"}, cfg.Sink.Arrange.PartitionBy)

	r := newRouter(cfg)
	at := func(table string) transform.Arrangement {
		return r.Target(capture.TableID{Schema: "public", Name: table}).Arrange
	}
	require.Equal(t, transform.Arrangement{
		PartitionBy: []string{"region", "bucket[16](id)"}, PartitionField: "route[0].partition-by",
		SortBy: []string{"created_at desc", "id"}, SortField: "sink.sort-by",
	}, at("orders"))
	require.Equal(t, transform.Arrangement{PartitionBy: []string{}, PartitionField: "route[1].partition-by",
		SortBy: []string{}, SortField: "route[1].sort-by"}, at("events"))
	require.Equal(t, transform.Arrangement{PartitionBy: []string{"day(created_at)"}, PartitionField: "sink.partition-by",
		SortBy: []string{"sku"}, SortField: "route[2].sort-by"}, at("items"))
	require.Equal(t, transform.Arrangement{PartitionBy: []string{"day(created_at)"}, PartitionField: "sink.partition-by",
		SortBy: []string{"created_at desc", "id"}, SortField: "sink.sort-by"}, at("unrouted"))

	// Nothing set: tables keep their own.
	cfg, err = ParseConfig("floe.yaml", []byte(arrangeBase+"sink: {type: iceberg}\n"), nil)
	require.NoError(t, err)
	require.True(t, newRouter(cfg).Target(capture.TableID{Schema: "public", Name: "x"}).Arrange.IsZero())
}

func TestConfigPartitionByProblems(t *testing.T) {
	ps := configProblems(t, arrangeBase+`
sink:
  type: iceberg
  partition-by: "days(created_at)"
route:
  - source-table: public\.orders
    partition-by: ["bucket(id)", "truncate[0](name)"]
    sort-by: "created_at downwards"
`, nil)
	require.Len(t, ps, 4, "%v", ps)
	want := map[string][]string{
		"sink.partition-by":     {`unknown transform "days"`},
		"route[0].partition-by": {`unknown transform "bucket"`, "whole number of at least 1"},
		"route[0].sort-by":      {"asc or desc"},
	}
	for _, p := range ps {
		msgs, ok := want[p.Field]
		require.True(t, ok, "unexpected problem %v", p)
		found := false
		for _, m := range msgs {
			found = found || strings.Contains(p.Message, m)
		}
		require.True(t, found, "problem %v", p)
		require.NotEmpty(t, p.Fix)
		require.Positive(t, p.Line, "problem %v has its line", p)
	}
}
