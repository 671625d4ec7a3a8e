// Package schema is the dialect-free core of Floe's table model: the
// layout of a table as Floe writes it to Iceberg (Table, Column), the
// canonical row (Row: one Go type per Iceberg type), how rows and keys are
// encoded for buffering and hashing, how a column's Iceberg type may
// evolve, and the civil date, time and decimal arithmetic that every
// source's decoders share. What a source's own types are and how its
// values read lives in one package per dialect: schema/pgtype for
// PostgreSQL, schema/mysqltype for MySQL and MariaDB.
//
// In: columns mapped by a dialect package (each Column's Source is that
// package's type value, a SourceType) and canonical values decoded by it.
// Out: *Table layouts, canonical Row values, encoded rows and keys, row
// hashes, type promotions, value errors.
//
// Invariants:
//   - a value that cannot be represented exactly is a *ValueError naming
//     the column, the source type and the value, never a silently altered
//     value (dialect decoders build it with NewValueError);
//   - the process's local time zone is never consulted: civil dates and
//     times (civil.go) are proleptic Gregorian arithmetic, and a zone is
//     applied only where one is named (ZonedInstant);
//   - SameType compares Iceberg types ignoring nested field IDs; Promotable
//     says which Iceberg type changes a column may take in place (int ->
//     long, float -> double, wider decimal precision), and Promote
//     converts a canonical value along one.
//
// Type overrides (override.go): ParseOverrideType reads a user's choice of
// Iceberg type (string, double, decimal(P,S)), ColumnTypes carries the
// choices for one table, and the dialect packages apply them; a
// ValueError can name the row's key (WithRowKey).
//
// Encodings (codec.go): AppendRow/DecodeRow are a lossless, versioned row
// codec for spilling rows to disk; AppendKey/AppendKeyOf give equal bytes
// exactly for equal key values; HashRow is a stable FNV-1a hash of the same
// key encoding. All three are pinned by golden files in testdata/.
// FormatValue renders values for people.
//
// Dialects live in schema/pgtype and schema/mysqltype; each turns its
// source's type descriptions into one type value with its decoders.
//
// See docs/decisions.md (one decoder per column, snapshot and stream alike).
package schema
