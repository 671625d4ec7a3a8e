// Package pgtype is Floe's model of PostgreSQL column types: one value,
// Type, whatever describes the type, the mapping of each type to its
// Iceberg type, and the decoder of its text output into canonical values
// (see schema.Row), with a decoder of the binary form of a few fixed-width
// types that gives the same values (BinaryDecoder, binary.go).
//
// In: a type as a pgoutput Relation message gives it (OID and typmod:
// FromOID), as the catalog does (pg_type rows through CatalogQuery:
// Resolve, which follows domains and arrays), or as a literal; the text
// output of a value (snapshot rows and pgoutput 't' tuple columns alike).
// Out: schema.Columns whose Source is the Type (Column, mapping table in
// column.go), one schema.Decoder per column (TextDecoder), the type as
// PostgreSQL declares it for messages (Format).
//
// Invariants:
//   - the snapshot and the change stream decode every value of a column
//     through the one decoder TextDecoder returns, so a value never changes
//     type between them; the decoder is chosen by the column's Iceberg
//     type, so a widened column (int -> long) decodes into the wider type.
//     The one exception, BinaryDecoder, reads the snapshot's integers,
//     booleans, uuids, dates and timestamps in binary form into exactly
//     the values and errors TextDecoder gives for their text (checked
//     against the server's own text in the integration test), and only
//     for a column whose Iceberg type is that form's exact mapping;
//   - decoders assume the session settings DateStyle=ISO,
//     IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3,
//     bytea_output=hex and lc_monetary=C, and never consult the process's
//     local time zone;
//   - a type override (ApplyTypes, OverrideColumn; table in override.go)
//     changes a column's Iceberg type only to one with an exact
//     conversion (numeric to its exact text, the nearest double or a
//     decimal checked value by value; date and time types to ISO text),
//     and TextDecoder follows the column's type, so both paths still
//     share one decoder; a key column keeps its mapped type;
//   - what Iceberg cannot hold exactly (infinite dates and timestamps, NaN
//     decimals, multi-dimensional arrays, ...) is a *schema.ValueError
//     naming the column, the type and the value.
//
// See docs/decisions.md (one decoder per column, for snapshot and stream)
// and docs/architecture.md (the package map).
package pgtype
