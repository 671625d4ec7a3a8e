// Package problem is the one type every Floe package reports a bad
// setting or a bad state of a server with: a Problem names the
// configuration field, what is wrong, the fix and, once the caller that
// read the file knows it, the file line. Configuration types
// (postgres.Config, mysql.Config, lakewriter.Options, checkpoint.Config,
// compaction.Config) return their problems from Validate, sources from
// their preflight checks and setup errors, and cmd/floe renders each as
// one line: "FILE:LINE: FIELD: MESSAGE (fix: FIX)".
//
// In: a field path, a message, a fix, optionally the error found.
// Out: one-line renderings, ordered lists, and the checks every Validate
// shares (Checks), so that the same mistake reads the same in every
// package.
//
// Where it lives: schema is the bottom layer of the package graph, which
// every domain package (capture, transform, lakewriter, checkpoint)
// already imports, and this subpackage imports nothing of Floe. Any
// package, compaction included, can therefore import it without an arrow
// pointing up or sideways between domain packages (cmd -> checkpoint ->
// {capture, transform, schema, lakewriter, state}; capture and
// lakewriter never import each other). A top-level package would change
// the fixed layout; a type in capture would make lakewriter and
// compaction import a source package.
//
// Invariants:
//   - a Problem renders on one line; Fix is written as an instruction;
//   - Field is the path as the configuration file spells it
//     ("source.slot.name", "route[1].sink-table"), a section ("source")
//     when the whole section is concerned, or "" for the file itself;
//     a setting no file sets is named by its Go field name;
//   - a Problem found from an error keeps it (Err, Unwrap), so callers can
//     tell a refused connection from a lasting misconfiguration;
//   - Redact hides a secret only inside quoted values (%q), never in the
//     text around them.
//
// See docs/architecture.md (the package map and the dependency
// direction).
package problem
