package registry

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// parseAvro parses s with a cache of its own, so that named types of one
// schema never leak into another (hamba/avro's default cache is global).
func parseAvro(s Schema) (avro.Schema, error) {
	sch, err := avro.ParseWithCache(string(s), "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	return sch, nil
}

// version is one registered version of a subject, as the embedded
// registry keeps it.
type version struct {
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  Schema `json:"schema"`
	// Deleted marks a version retired by DeleteSubject: kept for the
	// record, never matched or checked against.
	Deleted bool `json:"deleted,omitempty"`
}

// checkRule checks candidate against the versions of subject (oldest
// first) under rule, as the Confluent registry defines the rules: BACKWARD
// means a reader using candidate reads data written with the latest
// version, FORWARD means a reader using the latest version reads data
// written with candidate, FULL both; the *_TRANSITIVE rules check every
// version instead of the latest; NONE checks nothing. The Avro schema
// resolution rules decide (hamba/avro's checker: fields matched by name or
// alias, a reader field missing from the writer needs a default, the
// numeric promotions int→long→float→double and string↔bytes). Like Avro's
// own checker it does not compare logical-type parameters (a decimal's
// precision and scale); Iceberg's own evolution rules refuse those changes.
func checkRule(subject string, rule Compatibility, versions []version, candidate Schema) error {
	if rule == None || len(versions) == 0 {
		return nil
	}
	cand, err := parseAvro(candidate)
	if err != nil {
		return fmt.Errorf("subject %s: candidate: %w", subject, err)
	}
	against := versions[len(versions)-1:]
	switch rule {
	case BackwardTransitive, ForwardTransitive, FullTransitive:
		against = versions
	}
	backward := rule != Forward && rule != ForwardTransitive
	forward := rule != Backward && rule != BackwardTransitive
	for i := len(against) - 1; i >= 0; i-- {
		v := against[i]
		old, err := parseAvro(v.Schema)
		if err != nil {
			return fmt.Errorf("subject %s version %d: %w", subject, v.Version, err)
		}
		// A checker of its own: hamba/avro caches results by schema
		// fingerprint, which leaves out logical types.
		if backward {
			if err := avro.NewSchemaCompatibility().Compatible(cand, old); err != nil {
				return &IncompatibleError{Subject: subject, Rule: rule, Version: v.Version, Reason: "readers of the new schema cannot read data written with that version: " + err.Error()}
			}
		}
		if forward {
			if err := avro.NewSchemaCompatibility().Compatible(old, cand); err != nil {
				return &IncompatibleError{Subject: subject, Rule: rule, Version: v.Version, Reason: "readers of that version cannot read data written with the new schema: " + err.Error()}
			}
		}
	}
	return nil
}
