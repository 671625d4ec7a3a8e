package lakewriter

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/floe-cdc/floe/schema"
)

// Properties returns a copy of the table's properties, as this Table last
// loaded them (after its own commits, the committed ones).
func (t *Table) Properties() map[string]string {
	return maps.Clone(map[string]string(t.current().Properties()))
}

// changedProps returns the entries of want that have lacks or holds
// with another value; nil when there are none.
func changedProps(have iceberg.Properties, want map[string]string) iceberg.Properties {
	var out iceberg.Properties
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			if out == nil {
				out = iceberg.Properties{}
			}
			out[k] = v
		}
	}
	return out
}

// EnsureTableProps is EnsureTable, and gives the table the properties
// props: a table it creates has them from its create commit on; an
// existing one that lacks one or holds another value gets them in one
// commit of their own (none when they all match). nil props is
// EnsureTable.
func (c *Catalog) EnsureTableProps(ctx context.Context, id Ident, layout *schema.Table, identifier []int, props map[string]string) (*Table, error) {
	ctx = c.ioContext(ctx)
	tbl, err := c.ensureTable(ctx, id, layout, identifier, props)
	if err != nil || len(props) == 0 {
		return tbl, err
	}
	if err := tbl.SetProperties(ctx, props); err != nil {
		return nil, err
	}
	return tbl, nil
}

// SetProperties commits the properties of props the table lacks or holds
// with another value, in one catalog commit; nothing when they all
// match, so it is idempotent. It holds the lock Commit holds. A failed
// catalog commit is retried on the reloaded table, which also recognises
// a commit that reported an error but landed.
func (t *Table) SetProperties(ctx context.Context, props map[string]string) error {
	ctx = t.cat.ioContext(ctx)
	if len(changedProps(t.current().Properties(), props)) == 0 {
		return nil
	}
	t.commitMu.Lock()
	defer t.commitMu.Unlock()
	return t.retryCommit(ctx, "set properties of", "properties", func(base *table.Table) (bool, error) {
		changed := changedProps(base.Properties(), props)
		if len(changed) == 0 {
			return true, nil
		}
		next, err := commitProps(ctx, base, changed)
		if err != nil {
			return false, err
		}
		t.setCurrent(next)
		t.log.Info("iceberg table properties set", "properties", strings.Join(slices.Sorted(maps.Keys(changed)), ","))
		return true, nil
	})
}

// commitProps sets props on base in one catalog commit.
func commitProps(ctx context.Context, base *table.Table, props iceberg.Properties) (*table.Table, error) {
	tx := base.NewTransaction()
	if err := tx.SetProperties(props); err != nil {
		return nil, err
	}
	return tx.Commit(ctx)
}
