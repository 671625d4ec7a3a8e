package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/lakewriter"
	"github.com/floe-cdc/floe/lakewriter/ledger"
	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/schema/registry"
)

// subject returns the registry subject of source table id, whose Iceberg
// table is ident (Options.Subjects).
func (c *Coordinator) subject(id capture.TableID, ident lakewriter.Ident) string {
	return c.opts.Subjects.Subject(registry.SubjectVars{Pipeline: c.opts.Pipeline, Schema: id.Schema, Table: id.Name,
		Namespace: ident.Namespace, IcebergTable: ident.Name})
}

// checkSubjects refuses, before any table is opened, a subject name
// template that maps two of the captured tables to one subject: their
// schemas would be checked against each other's versions. The error names
// the subject and both tables. Nothing is checked without a registry.
func (c *Coordinator) checkSubjects(ids []capture.TableID) error {
	if c.opts.Registry == nil {
		return nil
	}
	vars := make([]registry.SubjectVars, len(ids))
	for i, id := range ids {
		target := c.opts.Router.Target(id)
		vars[i] = registry.SubjectVars{Pipeline: c.opts.Pipeline, Schema: id.Schema, Table: id.Name,
			Namespace: target.Namespace, IcebergTable: target.Name}
	}
	clashes := c.opts.Subjects.Clashes(vars, func(i int) string { return ids[i].String() })
	if len(clashes) == 0 {
		return nil
	}
	msgs := make([]string, len(clashes))
	for i, cl := range clashes {
		msgs[i] = fmt.Sprintf("tables %s and %s both map to subject %s", cl.First, cl.Second, cl.Subject)
	}
	return fmt.Errorf("registry.subject-name %q: %s; use a template naming each table apart, e.g. %s",
		c.opts.Subjects, strings.Join(msgs, "; "), registry.DefaultSubjectName)
}

// registerLayout registers the Avro schema of sink layout (the layout
// Iceberg table ident has or is about to get) under the subject of source
// table id in Options.Registry, and returns where it stands there; nil,
// nil when no registry is configured. formerNames are the names the
// table's columns had before renames (lakewriter.Table.FormerNames; nil
// for a table not created yet): with the layout's RenamedFrom they become
// Avro aliases, so a rename passes the BACKWARD rule, and the schema text
// of one history is the same before and after the Iceberg table took a
// rename (and after a restart). It is called before the Iceberg table is
// created or evolved, so a layout the subject's compatibility rule
// refuses stops the pipeline with the table unchanged; the error names
// the source table, the subject, the rule and the fix. Registering is
// idempotent, so a run that crashed between registering and evolving the
// table registers nothing twice when it evolves the table again.
func (c *Coordinator) registerLayout(ctx context.Context, id capture.TableID, ident lakewriter.Ident, layout *schema.Table, formerNames map[string][]string) (*ledger.RegistryEntry, error) {
	if c.opts.Registry == nil {
		return nil, nil
	}
	subject := c.subject(id, ident)
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
// table that a registry configured later, or a changed subject name, has
// not seen yet; nothing new when it has). It returns the entry, nil
// without a registry.
func (c *Coordinator) registerAtOpen(ctx context.Context, id capture.TableID, ident lakewriter.Ident, layout *schema.Table) (*ledger.RegistryEntry, error) {
	if c.opts.Registry == nil {
		return nil, nil
	}
	var former map[string][]string
	tbl, err := c.opts.Catalog.LoadTable(ctx, ident)
	switch {
	case err == nil:
		layout, former = tbl.Layout(), tbl.FormerNames()
	case !errors.Is(err, lakewriter.ErrNoSuchTable):
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	return c.registerLayout(ctx, id, ident, layout, former)
}

// registryProps are the Iceberg table properties recording entry
// (ledger.RegistryEntry.TableProps); nil for no entry. They are set with
// the schema they describe: in the table's create commit, in the commit
// of each schema evolution, and at start on a table that lacks them or
// records another entry.
func registryProps(entry *ledger.RegistryEntry) map[string]string {
	if entry == nil {
		return nil
	}
	return entry.TableProps()
}
