// Package schema owns table layouts and types: how a source column type
// maps to an Iceberg type, how a source value becomes a canonical Go value
// (see Row), and how rows and keys are encoded for buffering and hashing.
//
// In: source type descriptions (SourceType) and source value text.
// Out: *Table layouts, Column types, canonical Row values, encoded keys.
//
// Invariants:
//   - the initial snapshot and the change stream decode every value through
//     the same decoder for a column, so a value never changes type between them;
//   - a value that cannot be represented exactly is an error naming the column
//     and the value, never a silently altered value;
//   - the process's local time zone is never consulted;
//   - Promotable says which Iceberg type changes a column may take in
//     place (int -> long, float -> double, wider decimal precision), and
//     Promote converts a canonical value along one.
//
// PostgreSQL: PostgresColumn maps a column type to its Iceberg type (the
// table is in postgres.go) and PostgresDecoder returns the one decoder of
// the column's text output, which assumes the session settings
// DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3,
// bytea_output=hex and lc_monetary=C. Decoders reject what Iceberg cannot
// hold exactly (infinite dates, NaN decimals, multi-dimensional arrays, ...)
// with a *ValueError.
//
// Encodings (codec.go): AppendRow/DecodeRow are a lossless, versioned row
// codec for spilling rows to disk; AppendKey/AppendKeyOf give equal bytes
// exactly for equal key values; HashRow is a stable FNV-1a hash of the same
// key encoding. All three are pinned by golden files in testdata/.
// FormatValue renders values for people.
//
// MySQL and MariaDB columns map through MySQLColumn; MySQLTextDecoder (the
// snapshot's text protocol) and MySQLBinlogDecoder (go-mysql's row event
// values) produce identical canonical values for the same stored value.
//
// See docs/decisions.md (one decoder per column, snapshot and stream alike).
package schema
