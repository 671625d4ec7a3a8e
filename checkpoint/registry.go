package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/registry"
)

// registerLayout registers the Avro schema of sink layout (the layout
// Iceberg table ident has or is about to get) under the table's subject
// in Options.Registry, and returns where it stands there; nil, nil when no
// registry is configured. formerNames are the names the table's columns
// had before renames (lakewriter.Table.FormerNames; nil for a table not
// created yet): with the layout's RenamedFrom they become Avro aliases,
// so a rename passes the BACKWARD rule, and the schema text of one
// history is the same before and after the Iceberg table took a rename. It is called before the Iceberg table is
// created or evolved, so a layout the subject's compatibility rule
// refuses stops the pipeline with the table unchanged; the error names
// the source table, the subject, the rule and the fix. Registering is
// idempotent, so a run that crashed between registering and evolving the
// table registers nothing twice when it evolves the table again.
func (c *Coordinator) registerLayout(ctx context.Context, id capture.TableID, ident lakewriter.Ident, layout *schema.Table, formerNames map[string][]string) (*ledger.RegistryEntry, error) {
	if c.opts.Registry == nil {
		return nil, nil
	}
	subject := registry.Subject(ident.Namespace, ident.Name)
	s, err := registry.AvroSchemaWithAliases(ident.Namespace, ident.Name, layout, formerNames)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	reg, err := c.opts.Registry.Register(ctx, subject, s)
	var refused *registry.IncompatibleError
	if errors.As(err, &refused) {
		return nil, fmt.Errorf("table %s: %w; the Iceberg table was left unchanged: allow the change in the registry (set the subject's compatibility there, e.g. to NONE) and restart, or re-snapshot the table with floe resnapshot, which retires the subject's versions", id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	c.log.Debug("schema registered", "table", id.String(), "subject", subject, "schema_id", reg.ID, "version", reg.Version)
	return &ledger.RegistryEntry{Subject: subject, ID: reg.ID, Version: reg.Version}, nil
}

// registerAtOpen registers, when a table is opened at start, the layout
// it will hold: for a table still to be created, the layout it is created
// with (before it is created); for an existing one, its own layout (a
// table that a registry configured later has not seen yet; nothing when
// it has).
func (c *Coordinator) registerAtOpen(ctx context.Context, id capture.TableID, ident lakewriter.Ident, layout *schema.Table) error {
	if c.opts.Registry == nil {
		return nil
	}
	var former map[string][]string
	tbl, err := c.opts.Catalog.LoadTable(ctx, ident)
	switch {
	case err == nil:
		layout, former = tbl.Layout(), tbl.FormerNames()
	case !errors.Is(err, lakewriter.ErrNoSuchTable):
		return fmt.Errorf("table %s: %w", id, err)
	}
	_, err = c.registerLayout(ctx, id, ident, layout, former)
	return err
}
