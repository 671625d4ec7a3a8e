// Package transform turns captured changes into the rows Floe writes to
// one sink table per checkpoint: it routes source tables to sink tables
// (Router), defines the sink layout with Floe's metadata columns
// (SinkLayout) and how it evolves with a changed source layout
// (EvolveSinkLayout: added columns optional, widened types, dropped
// columns kept; PlanSinkChange decides it for each
// pipeline.schema-change-behavior: lenient, exception, evolve, try_evolve,
// ignore), and keeps the keyed state of one table for one
// checkpoint (Buffer), accepting changes of any source layout the sink
// layout holds.
//
// In: capture.Change values of one table in source order, each with a Meta
// (position, commit time, order inside its batch).
// Out: rows in the sink layout, key-only rows for equality deletes, and a
// truncate flag, ready for one Iceberg commit.
//
// Invariants:
//   - Upsert mode: a Buffer yields at most one row per key (the last image
//     applied), so one Iceberg snapshot never holds two versions of a key;
//     every key touched by a stream change gets an equality delete, so
//     applying a change twice (replay) converges to the same table;
//   - Changelog mode: every change is one row, in the order applied, with
//     _floe_op/_floe_pos/_floe_seq saying what and where it came from; a
//     primary-key change is two rows, a delete of the old key and then
//     the new row, so folding the log by key gives the table;
//   - an unchanged (TOAST) value is filled from the change's old image,
//     else from the buffered image of the key the row had before the
//     change, else from Iceberg (PendingKeys/Resolve); it is never written
//     as a placeholder or NULL: an unresolvable value is an error naming
//     the table, the key and the column. A change applied as Converging
//     (replayed over rows a resumed snapshot read later) takes such values
//     from the source's current row instead (RereadKeys/Resolve); when the
//     source no longer has the row, a later change deletes it, and the
//     image is dropped;
//   - a Buffer's memory is bounded by its budget, whatever the number of
//     changes or keys of the checkpoint: past it, Upsert entries (key,
//     image, flags) are written to sorted runs on disk and merged, newest
//     first, when read (a merge reads a value of 1 MiB or more only when it
//     writes it out, so it holds one such value, not one per run);
//     Changelog rows go to an append-only spill log and
//     each key's last row to sorted runs. The runs cost about 2 bytes of
//     memory a key (a Bloom filter and a sparse index) and are probed only
//     to fill an unchanged value. A spilled Upsert Buffer yields its rows in
//     key order, one that never spilled in the order keys were first
//     touched; the rows, delete keys and errors are the same either way.
//     What still grows with the checkpoint: the values to be looked up
//     (PendingKeys and the rows found for them, one per key with an
//     unresolved unchanged value) and, in Changelog mode, the per-row maps
//     of rows holding such values. Spill files are removed by Close.
//   - routing (Router.Validate) sends every captured table to a sink table
//     of its own, and every route applies to some table: a shared sink
//     table or a route that never applies is a problem naming route[i];
//   - an OpUnreadable change is refused by Apply with its Err: it is
//     never written, nor passed over;
//   - a value is never written other than exact: with
//     BufferOptions.Narrow, a wider change column's value that does not
//     fit its sink column's type, or a NULL in a required sink column, is
//     a *PlaceError naming the table and column, after which the buffer
//     is as it was (the caller may pass over the change: a dead letter);
//     SkipColumns only leaves out change columns the sink layout lacks.
//
// See docs/decisions.md (one image per key, equality deletes, the spilling buffer).
package transform
