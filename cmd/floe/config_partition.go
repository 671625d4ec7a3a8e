package main

import (
	"fmt"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/transform"
)

// ArrangeConfig is how sink tables are partitioned and sorted: a route's
// partition-by and sort-by, or the sink's, which are the default of every
// table whose route does not set them. Nil leaves a table's own as they
// are; the single entry `none` means unpartitioned (unsorted).
type ArrangeConfig struct {
	// PartitionBy is partition-by: Iceberg partition transforms on
	// columns, e.g. [day(created_at), bucket[16](id), region]
	// (lakewriter.ParsePartitionField).
	PartitionBy []string
	// SortBy is sort-by: columns, each optionally followed by asc or desc.
	SortBy []string
}

// isNone reports whether a list is the single word none.
func isNone(list []string) bool { return len(list) == 1 && strings.EqualFold(list[0], "none") }

// arrangements checks sink.partition-by, sink.sort-by and each route's.
// Columns and types are checked against each table when Floe opens it
// (lakewriter.Partitioning.Check): a route may match several tables.
func (v *validator) arrangements() {
	v.arrange("sink", v.c.Sink.Arrange)
	for i, r := range v.c.Route {
		v.arrange(fmt.Sprintf("route[%d]", i), r.Arrange)
	}
}

func (v *validator) arrange(p string, a ArrangeConfig) {
	if !isNone(a.PartitionBy) {
		for _, s := range a.PartitionBy {
			if _, err := lakewriter.ParsePartitionField(s); err != nil {
				v.add(p+".partition-by", "write transform(column), the transform one of identity, year, month, day, hour, bucket[N], truncate[W] (e.g. day(created_at)); a bare column; or none",
					"%v", err)
			}
		}
	}
	if !isNone(a.SortBy) {
		for _, s := range a.SortBy {
			if _, err := lakewriter.ParseSortField(s); err != nil {
				v.add(p+".sort-by", "write column names, each optionally followed by asc or desc (e.g. created_at desc), or none", "%v", err)
			}
		}
	}
}

// arrangement resolves the partition-by and sort-by that apply to a
// route's tables (route: the route's index, -1 for tables no route
// names): the route's own, else the sink's.
func arrangement(cfg *Config, route int) transform.Arrangement {
	var a transform.Arrangement
	pick := func(own []string, ownField string, def []string, defField string) ([]string, string) {
		list, field := def, defField
		if own != nil {
			list, field = own, ownField
		}
		if list == nil {
			return nil, ""
		}
		if isNone(list) {
			return []string{}, field
		}
		return list, field
	}
	var r ArrangeConfig
	rp := ""
	if route >= 0 {
		r, rp = cfg.Route[route].Arrange, fmt.Sprintf("route[%d]", route)
	}
	a.PartitionBy, a.PartitionField = pick(r.PartitionBy, rp+".partition-by", cfg.Sink.Arrange.PartitionBy, "sink.partition-by")
	a.SortBy, a.SortField = pick(r.SortBy, rp+".sort-by", cfg.Sink.Arrange.SortBy, "sink.sort-by")
	return a
}

// arrangementProblems checks each discovered table's partition-by and
// sort-by against the columns its Iceberg table gets (as floe run would
// when it opens the table), one problem per table and field.
func arrangementProblems(cfg *Config, router *transform.Router, infos []capture.TableInfo) []capture.Problem {
	mode, err := sinkMode(cfg)
	if err != nil {
		return nil // reported with sink.mode
	}
	var out []capture.Problem
	for _, ti := range infos {
		a := router.Target(ti.ID).Arrange
		if a.IsZero() {
			continue
		}
		layout, err := transform.BuildSinkLayout(ti.Schema, mode)
		if err != nil {
			continue // reported by the layout checks
		}
		var p lakewriter.Partitioning
		for _, s := range a.PartitionBy {
			if f, err := lakewriter.ParsePartitionField(s); err == nil {
				p.Fields = append(p.Fields, f)
			}
		}
		for _, s := range a.SortBy {
			if f, err := lakewriter.ParseSortField(s); err == nil {
				p.Sort = append(p.Sort, f)
			}
		}
		if err := lakewriter.CheckPartitioning(layout, p); err != nil {
			field := a.PartitionField
			if field == "" {
				field = a.SortField
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				out = append(out, capture.Problem{Field: field, Message: fmt.Sprintf("table %s: %s", ti.ID, line),
					Fix: "name columns of the table, with a transform their type takes (day, month, year: dates and timestamps; hour: timestamps; truncate: numbers, strings, binary)"})
			}
		}
	}
	return out
}
