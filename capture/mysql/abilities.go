package mysql

import "github.com/floe-cdc/floe/capture"

// The optional abilities (capture/abilities.go) the MySQL/MariaDB source
// has beyond toolkit.Backend's and those asserted beside their code
// (Watermarker, SchemaFollower, TableLister).
var (
	_ capture.BesideWatermarker = (*Source)(nil) // beside.go
	_ capture.RenameStater      = (*Source)(nil) // ddl_rename.go
)
