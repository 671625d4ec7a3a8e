package ledger

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SourceTableVersion is the version of the PropSourceTable encoding.
const SourceTableVersion = 1

// SourceTable is the source of a table's commit.
type SourceTable struct {
	Version int `json:"v"`
	// Table is the source table ("schema.table").
	Table string `json:"table"`
	// Identity is the table's identity at the source when the run that
	// made the commit started (capture.TableIdentifier); absent for a
	// source without identities.
	Identity string `json:"identity,omitempty"`
}

// ResetVersion is the version of the PropReset encoding.
const ResetVersion = 1

// Reset records why a table was emptied and snapshotted again.
type Reset struct {
	Version int `json:"v"`
	// Cause is one of the Cause* constants.
	Cause string `json:"cause"`
	// Reason says what was found, in words.
	Reason string `json:"reason"`
	// Previous is the position the table had committed before (absent
	// when it had none).
	Previous string `json:"previous,omitempty"`
}

// Causes of a reset (Reset.Cause, and the cause label of
// floe_checkpoint_table_resets_total).
const (
	// CauseNotCaptured: the source no longer carries the table's changes
	// (PostgreSQL: not in the publication).
	CauseNotCaptured = "not-captured"
	// CauseIdentity: the table's identity differs from the recorded one
	// (dropped and created again, or it left and re-joined the publication).
	CauseIdentity = "identity"
	// CausePosition: the table's committed position is behind the source's
	// start (its changes in between were released by another consumer of
	// the slot, or while the table was not captured).
	CausePosition = "position"
	// CauseRequested: an operator asked for the table to be snapshotted
	// again while the pipeline ran (the admin API's resnapshot action).
	CauseRequested = "requested"
	// CauseUnfollowable: the stream carried a change of the table that
	// it cannot follow from the log (a column added with a default, a
	// statement-logged DML, partition operations that drop rows), and
	// pipeline.on-unfollowable-change is resnapshot.
	CauseUnfollowable = "unfollowable-change"
)

// SchemaChangeVersion is the version of the PropSchemaChange encoding.
// Version 2 added Registry; a change registered nowhere is still written
// as version 1, which has none, and both are read.
const SchemaChangeVersion = 2

// schemaChangeVersionV1 is the encoding before Registry.
const schemaChangeVersionV1 = 1

// SchemaChange records one evolution of a table's Iceberg schema in the
// summary of the commit that first holds rows of the new layout.
type SchemaChange struct {
	Version int `json:"v"`
	// At is the source position of the first change in the new layout.
	At string `json:"at"`
	// Changes says what changed, one entry per column ("add column n
	// string", "widen column a int -> long").
	Changes []string `json:"changes"`
	// SchemaID is the Iceberg schema the table evolved to.
	SchemaID int `json:"schema-id"`
	// Registry is where the new layout's Avro schema was registered, nil
	// when no schema registry is in use. Since version 2.
	Registry *RegistryEntry `json:"registry,omitempty"`
}

// RegistryEntry names a schema in a schema registry.
type RegistryEntry struct {
	Subject string `json:"subject"`
	ID      int    `json:"id"`
	Version int    `json:"version"`
}

func encodeSourceTable(s SourceTable) string {
	s.Version = SourceTableVersion
	return encodeJSON(s)
}

func encodeReset(r Reset) string {
	r.Version = ResetVersion
	return encodeJSON(r)
}

func encodeSchemaChanges(changes []SchemaChange) string {
	out := make([]SchemaChange, len(changes))
	for i, c := range changes {
		c.Version = SchemaChangeVersion
		if c.Registry == nil {
			c.Version = schemaChangeVersionV1
		}
		out[i] = c
	}
	return encodeJSON(out)
}

// ParseSourceTable decodes a PropSourceTable value.
func ParseSourceTable(s string) (SourceTable, error) {
	var src SourceTable
	if err := parseRecord(PropSourceTable, s, &src, func() int { return src.Version }, SourceTableVersion); err != nil {
		return SourceTable{}, err
	}
	return src, nil
}

// ParseReset decodes a PropReset value.
func ParseReset(s string) (Reset, error) {
	var r Reset
	if err := parseRecord(PropReset, s, &r, func() int { return r.Version }, ResetVersion); err != nil {
		return Reset{}, err
	}
	return r, nil
}

// ParseSchemaChanges decodes a PropSchemaChange value.
func ParseSchemaChanges(s string) ([]SchemaChange, error) {
	var out []SchemaChange
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("parse %s: %w", PropSchemaChange, err)
	}
	for _, c := range out {
		if c.Version != SchemaChangeVersion && c.Version != schemaChangeVersionV1 {
			return nil, fmt.Errorf("parse %s: version %d, this build reads %d or %d", PropSchemaChange, c.Version, schemaChangeVersionV1, SchemaChangeVersion)
		}
	}
	return out, nil
}

// parseRecord decodes the JSON record s of property key into v and checks
// its version.
func parseRecord(key, s string, v any, version func() int, want int) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("parse %s: %w", key, err)
	}
	if got := version(); got != want {
		return fmt.Errorf("parse %s: version %d, this build reads %d", key, got, want)
	}
	return nil
}

// encodeJSON renders v (strings and ints only, so it cannot fail) as a
// property value, without HTML escapes ("int -> long", not
// "int -\u003e long").
func encodeJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode summary property: %v", err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
