package postgres

import "github.com/floe-cdc/floe/capture"

// The optional abilities (capture/abilities.go) the PostgreSQL source has
// beyond toolkit.Backend's and those asserted beside their code
// (SnapshotExporter, TableIdentifier, TableLister, SchemaFollower,
// AddedColumnChecker).
var (
	_ capture.DropFinder          = (*Source)(nil) // dropped.go
	_ capture.NewTableFinder      = (*Source)(nil) // dropped.go
	_ capture.RenameStater        = (*Source)(nil) // ddlstream.go
	_ capture.DDLTriggerInstaller = (*Source)(nil) // ddltrigger.go
)
