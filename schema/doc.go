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
//   - the process's local time zone is never consulted.
package schema
