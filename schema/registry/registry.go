package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Compatibility is a subject's compatibility rule, spelled as the
// Confluent API spells it.
type Compatibility string

// The rules. A *_TRANSITIVE rule checks against every earlier version
// instead of only the latest one.
const (
	Backward           Compatibility = "BACKWARD"
	BackwardTransitive Compatibility = "BACKWARD_TRANSITIVE"
	Forward            Compatibility = "FORWARD"
	ForwardTransitive  Compatibility = "FORWARD_TRANSITIVE"
	Full               Compatibility = "FULL"
	FullTransitive     Compatibility = "FULL_TRANSITIVE"
	None               Compatibility = "NONE"
)

// DefaultCompatibility is the rule set on new subjects when none is
// configured.
const DefaultCompatibility = Backward

// ParseCompatibility parses a rule, case-insensitively; "" is
// DefaultCompatibility.
func ParseCompatibility(s string) (Compatibility, error) {
	if s == "" {
		return DefaultCompatibility, nil
	}
	c := Compatibility(strings.ToUpper(s))
	switch c {
	case Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None:
		return c, nil
	}
	return "", fmt.Errorf("compatibility %q is not a rule; use BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE", s)
}

// Registered is where a schema stands in the registry.
type Registered struct {
	// ID identifies the schema text across the whole registry: the same
	// schema registered under two subjects has one ID.
	ID int
	// Version numbers the schema within its subject, from 1.
	Version int
}

// Registry holds the Avro schemas of Floe's sink tables, one subject a
// table, and enforces each subject's compatibility rule.
type Registry interface {
	// Check reports whether schema could be registered under subject: nil
	// when it is already registered there, when the subject is new, or
	// when it passes the subject's compatibility rule; an
	// *IncompatibleError when the rule refuses it; another error when the
	// registry cannot answer.
	Check(ctx context.Context, subject string, schema Schema) error
	// Register checks schema as Check does and registers it under subject
	// as the subject's next version. Registering a schema the subject
	// already holds is idempotent: it returns the existing ID and version
	// and adds nothing. A new subject gets the configured compatibility
	// rule before its first version. A refusal is an *IncompatibleError
	// and registers nothing.
	Register(ctx context.Context, subject string, schema Schema) (Registered, error)
	// DeleteSubject retires every version of subject, as the Confluent
	// API's soft delete does: later registrations under it are checked
	// against no earlier version. Floe calls it when a table is dropped to
	// be snapshotted again (floe resnapshot), whose new layout may be
	// one its old versions refuse. Deleting a subject that does not exist
	// is no error.
	DeleteSubject(ctx context.Context, subject string) error
	// Close releases the registry's resources.
	Close() error
}

// IncompatibleError is a schema refused by its subject's compatibility
// rule.
type IncompatibleError struct {
	Subject string
	// Rule is the subject's rule, "" when the registry did not say.
	Rule Compatibility
	// Version is the registered version the schema failed against, 0 when
	// unknown.
	Version int
	// Reason is the checker's explanation, "" when there is none.
	Reason string
}

func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema registry subject %s refuses the new schema", e.Subject)
	if e.Rule != "" {
		fmt.Fprintf(&b, " under compatibility %s", e.Rule)
	}
	if e.Version > 0 {
		fmt.Fprintf(&b, " (against version %d)", e.Version)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}

// IsIncompatible reports whether err is (or wraps) an *IncompatibleError.
func IsIncompatible(err error) bool {
	var ie *IncompatibleError
	return errors.As(err, &ie)
}
