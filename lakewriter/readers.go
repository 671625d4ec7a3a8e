package lakewriter

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// Bounds that Java readers misorder.
//
// A data or delete file's metrics carry each column's lower and upper
// bound. Readers use them to skip files: a data file whose range excludes
// a filter's values, and, when equality-delete files are matched to data
// files, a pair whose key ranges do not overlap. The Java Iceberg library
// (Trino 476 bundles 1.9.1; Spark and Flink use the same library) compares
// uuid bounds with java.util.UUID.compareTo, two signed longs, where the
// spec orders uuids as unsigned bytes (apache/iceberg#14216, open; so
// still in 1.10.x and the 1.11 release candidates). A file whose uuids lie
// on both sides of 0x80… then looks disjoint from almost every other file:
// Trino skips the equality deletes meant for it (deleted rows and old
// versions come back), and a uuid filter handed to Iceberg's file pruning
// (InclusiveMetricsEvaluator orders the literal the same way; Trino 476
// hands none) can skip a file holding a match. Java reads a missing bound
// as "may overlap", so Floe writes none for uuid columns: their metrics
// mode is counts (value and null counts stay). Every other type's Java
// comparator agrees with the spec's order (deploy/interop
// TestTrinoKeyTypes reads each through Trino), so their bounds stay.

// metricsModeKey is the table property that sets one column's metrics
// mode; iceberg-go's writers (data files, equality deletes, compaction
// rewrites) read it from the table's properties.
func metricsModeKey(column string) string {
	return table.MetricsModeColumnConfPrefix + "." + column
}

// writesBounds reports whether a metrics mode (none, counts, full,
// truncate(N)) writes lower and upper bounds.
func writesBounds(mode string) bool {
	mode = strings.TrimSpace(strings.ToLower(mode))
	return mode != "counts" && mode != "none"
}

// readerSafeProps returns the properties a table with schema sc and
// properties have lacks so that no file written for it carries bounds
// Java readers misorder: the metrics mode counts for every top-level uuid
// column whose mode (its own or the table's default) writes bounds. Nested
// fields need nothing: iceberg-go writes no bounds for them.
func readerSafeProps(sc *iceberg.Schema, have iceberg.Properties) iceberg.Properties {
	out := iceberg.Properties{}
	def := have.Get(table.DefaultWriteMetricsModeKey, table.DefaultWriteMetricsModeDefault)
	for _, f := range sc.Fields() {
		if _, ok := f.Type.(iceberg.UUIDType); !ok {
			continue
		}
		mode, ok := have[metricsModeKey(f.Name)]
		if !ok {
			mode = def
		}
		if writesBounds(mode) {
			out[metricsModeKey(f.Name)] = "counts"
		}
	}
	return out
}

// metadataCleanupProps returns the properties a table with properties
// have lacks so that each commit deletes the metadata files beyond the
// newest write.metadata.previous-versions-max (100): without them every
// commit leaves its metadata.json behind, one file a checkpoint, each
// ~1 KB per snapshot the table holds (at 1 s checkpoints and a day of
// snapshots, 86,400 files a day of up to 86 MB each, until orphan
// removal). A value the table already holds, also false, is kept.
func metadataCleanupProps(have iceberg.Properties) iceberg.Properties {
	if _, ok := have[table.MetadataDeleteAfterCommitEnabledKey]; ok {
		return nil
	}
	return iceberg.Properties{table.MetadataDeleteAfterCommitEnabledKey: "true"}
}

// missingProps is readerSafeProps and metadataCleanupProps.
func missingProps(sc *iceberg.Schema, have iceberg.Properties) iceberg.Properties {
	out := readerSafeProps(sc, have)
	maps.Copy(out, metadataCleanupProps(have))
	return out
}

// ensureReaderPropsLocked is ensureReaderProps under the table's commit
// lock, taken only when a property is missing.
func (c *Catalog) ensureReaderPropsLocked(ctx context.Context, id Ident, tbl *table.Table) (*table.Table, error) {
	if len(missingProps(tbl.Schema(), tbl.Properties())) == 0 {
		return tbl, nil
	}
	mu := c.tableLock(id)
	mu.Lock()
	defer mu.Unlock()
	return c.ensureReaderProps(ctx, id, tbl)
}

// ensureReaderProps commits the properties missingProps finds missing
// from tbl (a table Floe created before it wrote them, or one created by
// another tool) and returns the table with them; tbl itself when none are
// missing. The caller holds the table's commit lock. A failed catalog
// commit is retried on the reloaded table.
func (c *Catalog) ensureReaderProps(ctx context.Context, id Ident, tbl *table.Table) (*table.Table, error) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		missing := missingProps(tbl.Schema(), tbl.Properties())
		if len(missing) == 0 {
			return tbl, nil
		}
		tx := tbl.NewTransaction()
		err := tx.SetProperties(missing)
		var next *table.Table
		if err == nil {
			next, err = tx.Commit(ctx)
		}
		if err == nil {
			if _, ok := missing[table.MetadataDeleteAfterCommitEnabledKey]; ok {
				c.log.Info("each commit now deletes the table's metadata files beyond the newest write.metadata.previous-versions-max",
					"table", id.String(), "property", table.MetadataDeleteAfterCommitEnabledKey)
			}
			cols := make([]string, 0, len(missing))
			for k := range missing {
				if col, ok := strings.CutPrefix(k, table.MetricsModeColumnConfPrefix+"."); ok {
					cols = append(cols, col)
				}
			}
			if len(cols) == 0 {
				return next, nil
			}
			slices.Sort(cols)
			c.log.Info("uuid columns now get no lower/upper bounds in file metrics (metrics mode counts): Java readers compare them as signed longs",
				"table", id.String(), "columns", strings.Join(cols, ","))
			if tbl.CurrentSnapshot() != nil {
				c.log.Warn("files written before carry uuid bounds that Trino and Spark (Iceberg 1.10 and older) misorder: they may return deleted rows from those files until floe compact rewrites them",
					"table", id.String(), "columns", strings.Join(cols, ","))
			}
			return next, nil
		}
		if attempt >= maxAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("set table properties of %s: gave up after %d attempts: %w", id, attempt, err)
		}
		c.log.Debug("table properties commit failed; retrying", "table", id.String(), "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("set table properties of %s: %w (last attempt: %w)", id, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		if err := c.checkFile(); err != nil {
			return nil, err
		}
		if tbl, err = c.cat.LoadTable(ctx, id.iceberg()); err != nil {
			return nil, fmt.Errorf("reload table %s: %w", id, err)
		}
	}
}
