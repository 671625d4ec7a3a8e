// Package mysqltype is Floe's model of MySQL and MariaDB column types: one
// value, Type, whatever describes the type, the mapping of each type to
// its Iceberg type, and the two decoders of its values into canonical
// values (see schema.Row): the text protocol's (the snapshot) and go-mysql's
// binlog row events' (the stream).
//
// In: a type as information_schema.COLUMNS describes it (FromInfoSchema),
// as a binlog TABLE_MAP event does, with or without its optional row
// metadata (TableMapColumns, then FromBinlog, given the server's
// collations by id), or as type text (Parse: COLUMN_TYPE, or the type of
// a column definition in DDL); values of the text protocol and of binlog
// row events.
// Out: schema.Columns whose Source is the Type (Column, mapping table in
// column.go, under Options), a text and a binlog decoder per column
// (TextDecoder, BinlogDecoder), the select expression that reads a column
// losslessly (SelectExpr), ENUM and SET labels in full (WithLabels), and
// what a TABLE_MAP says of a discovered column (Type.HoldsBinlog,
// Type.SameValues).
//
// Invariants:
//   - for the same stored value the text and the binlog decoder return the
//     same canonical value: both reduce a value to one intermediate form
//     (digits, bytes, calendar fields) and share one conversion per
//     column (a binlog DATE, DATETIME or TIMESTAMP comes from
//     DecodeRowsEvent as its stored bytes, *BinlogTemporal, and is
//     unpacked to the fields its text would give; a DECIMAL as its stored
//     bytes, *BinlogDecimal, printed to go-mysql's text);
//   - DecodeRowsEvent gives the values go-mysql gives, in cheaper
//     forms: it decodes the images of a table of common column types
//     itself (rowimage.go) and leaves any other event to go-mysql whole;
//   - a value Iceberg cannot hold exactly (a zero date under the default
//     treatment, an out-of-range integer, a value that is not a member of
//     its ENUM) is a *schema.ValueError naming the column, the type and
//     the value;
//   - DATETIME is a wall clock, never shifted, unless Options.DatetimeZone
//     names its zone; TIMESTAMP is an instant; the process's local time
//     zone is never consulted;
//   - a type override (ApplyTypes, table in override.go) changes a
//     column's Iceberg type only to one with an exact conversion (DECIMAL
//     to string, double or a decimal that holds it; DATE, DATETIME,
//     TIMESTAMP to ISO text through the column's own decoder); a key
//     column keeps its mapped type;
//   - a Type built from the binlog states only what the binlog carries
//     (no display widths, no spatial subtypes): compare it with a
//     discovered one with SameValues, not by text.
//
// See docs/decisions.md (one decoder per column, for snapshot and stream)
// and docs/architecture.md (the package map).
package mysqltype
