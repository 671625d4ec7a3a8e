package lakewriter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
)

// Maintain runs fn on the table's newest state while no Commit of this
// table runs in this process (the lock Commit takes is held for the whole
// call), so a maintenance pass such as compaction never races this
// process's own ingestion commits. fn stages its changes on a transaction
// of tbl and commits them itself; it returns the table it committed, or
// nil when it changed nothing. Writers in other processes are not
// excluded: fn must commit with the validation iceberg-go offers for its
// operation, and a conflict fails fn's commit.
func (t *Table) Maintain(ctx context.Context, fn func(ctx context.Context, tbl *table.Table) (*table.Table, error)) error {
	ctx = t.cat.ioContext(ctx)
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	base, err := t.refresh(ctx)
	if err != nil {
		return err
	}
	// Files fn writes (compaction rewrites) follow the metrics modes too,
	// also on a table no floe run has opened since they were introduced.
	if base, err = t.cat.ensureReaderProps(ctx, t.id, base); err != nil {
		return err
	}
	t.setCurrent(base)
	next, err := fn(ctx, base)
	if next != nil {
		t.setCurrent(next)
	}
	if err != nil {
		return fmt.Errorf("maintain %s: %w", t.id, err)
	}
	return nil
}

// Inspect runs fn on the table's newest state without the commit lock:
// Commits of this process go on meanwhile, so fn sees a state that may
// be old by the time it returns. It is for maintenance that excludes no
// writer: orphan removal (protected by the files' age alone) and
// deleting the files of snapshots an expiry already committed.
func (t *Table) Inspect(ctx context.Context, fn func(ctx context.Context, tbl *table.Table) error) error {
	ctx = t.cat.ioContext(ctx)
	tbl, err := t.refresh(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx, tbl); err != nil {
		return fmt.Errorf("inspect %s: %w", t.id, err)
	}
	return nil
}

// Snapshot identifies the current snapshot of a table and what it holds.
type Snapshot struct {
	ID          int64
	TimestampMs int64
	Props       map[string]string
}

// History returns main's current snapshot and its ancestors, newest first
// (as far back as the metadata still holds them).
func (t *Table) History(ctx context.Context) ([]Snapshot, error) {
	return t.HistoryOn(t.cat.ioContext(ctx), table.MainBranch)
}

// FileCounts reports the live data and delete files of the table's
// newest snapshot.
func (t *Table) FileCounts(ctx context.Context) (data, deletes int, err error) {
	ctx = t.cat.ioContext(ctx)
	tbl, err := t.refresh(ctx)
	if err != nil {
		return 0, 0, err
	}
	d, del, err := liveFiles(ctx, tbl)
	if err != nil {
		return 0, 0, fmt.Errorf("list files of %s: %w", t.id, err)
	}
	return len(d), len(del), nil
}

// Location returns the table's root location (a path or URI).
func (t *Table) Location() string { return t.current().Location() }

// DropTable removes table id from the catalog. With purge, its files are
// deleted too where the catalog offers that (catalog.PurgeableTable);
// otherwise they stay for the warehouse's own cleanup. A missing table is
// an error matching ErrNoSuchTable. Writers of the table in this process
// finish their commit first.
func (c *Catalog) DropTable(ctx context.Context, id Ident, purge bool) error {
	ctx = c.ioContext(ctx)
	mu := c.tableLock(id)
	mu.Lock()
	defer mu.Unlock()
	var err error
	if p, ok := c.cat.(catalog.PurgeableTable); ok && purge {
		err = p.PurgeTable(ctx, id.iceberg())
	} else {
		err = c.cat.DropTable(ctx, id.iceberg())
	}
	if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
		return fmt.Errorf("drop table %s: %w", id, ErrNoSuchTable)
	}
	if err != nil {
		return fmt.Errorf("drop table %s: %w", id, err)
	}
	c.log.Info("dropped iceberg table", "table", id.String(), "purged", purge)
	return nil
}

// MetadataLocation returns the location of table id's current metadata
// file. On a SQLite catalog it is one query of the catalog's database,
// without reading the file (a metadata file holds ~1 KB per snapshot, and
// a reader that polls for new commits parsed it whole every time); on any
// other catalog it loads the table. A missing table matches
// ErrNoSuchTable.
func (c *Catalog) MetadataLocation(ctx context.Context, id Ident) (string, error) {
	if c.db != nil && c.file != "" {
		var loc sql.NullString
		err := c.db.QueryRowContext(ctx, `SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?`,
			c.name, id.Namespace, id.Name).Scan(&loc)
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("metadata location of %s: %w", id, ErrNoSuchTable)
		}
		if err != nil {
			return "", fmt.Errorf("metadata location of %s: %w", id, err)
		}
		return loc.String, nil
	}
	tbl, err := c.cat.LoadTable(c.ioContext(ctx), id.iceberg())
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return "", fmt.Errorf("metadata location of %s: %w", id, ErrNoSuchTable)
	}
	if err != nil {
		return "", fmt.Errorf("metadata location of %s: %w", id, err)
	}
	return tbl.MetadataLocation(), nil
}

// ListTables returns the tables of namespace (dots separate levels); a
// namespace that does not exist has none.
func (c *Catalog) ListTables(ctx context.Context, namespace string) ([]Ident, error) {
	ctx = c.ioContext(ctx)
	var out []Ident
	for id, err := range c.cat.ListTables(ctx, strings.Split(namespace, ".")) {
		if errors.Is(err, catalog.ErrNoSuchNamespace) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", namespace, err)
		}
		if len(id) < 2 {
			continue
		}
		out = append(out, Ident{Namespace: strings.Join(id[:len(id)-1], "."), Name: id[len(id)-1]})
	}
	return out, nil
}
