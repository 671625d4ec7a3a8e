package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riferrei/srclient"
)

// ConfluentOptions configures a client of a Confluent-compatible registry
// (Confluent Schema Registry, Redpanda, Apicurio's ccompat API, Karapace).
type ConfluentOptions struct {
	// URL is the registry's base URL, e.g. http://registry:8081.
	URL string
	// Username and Password enable HTTP basic authentication when both
	// are set; Token (bearer authentication) is used when they are not.
	Username, Password, Token string
	// Compatibility is set on each subject Floe creates, before its first
	// version; "" leaves the registry's global rule in force.
	Compatibility Compatibility
	// Timeout bounds each HTTP request; 0 means 10 seconds.
	Timeout time.Duration
}

// Confluent registers schemas in a Confluent-compatible registry over its
// REST API. The registry enforces the compatibility rules; Confluent only
// asks. It is safe for concurrent use.
type Confluent struct {
	c      *srclient.SchemaRegistryClient
	compat Compatibility
}

// The Confluent API's error codes Floe acts on.
const (
	codeSubjectNotFound = 40401
	codeSchemaNotFound  = 40403
	codeIncompatible    = 409
)

// NewConfluent returns a client for the registry at opts.URL. It does not
// contact the registry.
func NewConfluent(opts ConfluentOptions) (*Confluent, error) {
	if opts.URL == "" {
		return nil, errors.New("registry.url: is empty; set the registry's base URL, e.g. http://registry:8081")
	}
	if opts.Compatibility != "" {
		if _, err := ParseCompatibility(string(opts.Compatibility)); err != nil {
			return nil, fmt.Errorf("registry.compatibility: %w", err)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := srclient.NewSchemaRegistryClient(opts.URL, srclient.WithClient(&http.Client{Timeout: timeout}))
	c.CodecCreationEnabled(false)
	c.CachingEnabled(false)
	if opts.Username != "" && opts.Password != "" {
		c.SetCredentials(opts.Username, opts.Password)
	} else if opts.Token != "" {
		c.SetBearerToken(opts.Token)
	}
	return &Confluent{c: c, compat: opts.Compatibility}, nil
}

// Close implements Registry.
func (c *Confluent) Close() error { return nil }

// call runs f, returning early when ctx ends; srclient takes no context,
// so a call abandoned that way runs on until the HTTP timeout.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// apiCode returns the Confluent error code of err, 0 when it has none.
func apiCode(err error) int {
	var e srclient.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// lookup returns where s stands under subject; found is false when the
// subject does not hold it, and subjectExists tells whether the subject
// exists at all.
func (c *Confluent) lookup(ctx context.Context, subject string, s Schema) (reg Registered, found, subjectExists bool, err error) {
	got, err := call(ctx, func() (*srclient.Schema, error) {
		return c.c.LookupSchema(subject, string(s), srclient.Avro)
	})
	switch {
	case err == nil:
		return Registered{ID: got.ID(), Version: got.Version()}, true, true, nil
	case apiCode(err) == codeSubjectNotFound:
		return Registered{}, false, false, nil
	case apiCode(err) == codeSchemaNotFound:
		return Registered{}, false, true, nil
	}
	return Registered{}, false, false, fmt.Errorf("schema registry: look up subject %s: %w", subject, err)
}

// rule returns subject's compatibility rule as the registry reports it,
// "" when it cannot tell.
func (c *Confluent) rule(ctx context.Context, subject string) Compatibility {
	lvl, err := call(ctx, func() (*srclient.CompatibilityLevel, error) {
		return c.c.GetCompatibilityLevel(subject, true)
	})
	if err != nil || lvl == nil {
		return ""
	}
	return Compatibility(*lvl)
}

// Check implements Registry by asking the registry.
func (c *Confluent) Check(ctx context.Context, subject string, s Schema) error {
	if _, err := parseAvro(s); err != nil {
		return fmt.Errorf("schema registry: subject %s: %w", subject, err)
	}
	_, found, exists, err := c.lookup(ctx, subject, s)
	if err != nil || found || !exists {
		return err
	}
	ok, err := call(ctx, func() (bool, error) {
		return c.c.IsSchemaCompatible(subject, string(s), "latest", srclient.Avro)
	})
	if err != nil {
		return fmt.Errorf("schema registry: check subject %s: %w", subject, err)
	}
	if !ok {
		return &IncompatibleError{Subject: subject, Rule: c.rule(ctx, subject)}
	}
	return nil
}

// Register implements Registry: it checks, sets the configured rule on a
// new subject, registers, and reads back the ID and version.
func (c *Confluent) Register(ctx context.Context, subject string, s Schema) (Registered, error) {
	if err := c.Check(ctx, subject, s); err != nil {
		return Registered{}, err
	}
	reg, found, exists, err := c.lookup(ctx, subject, s)
	if err != nil || found {
		return reg, err
	}
	if !exists && c.compat != "" {
		if _, err := call(ctx, func() (*srclient.CompatibilityLevel, error) {
			return c.c.ChangeSubjectCompatibilityLevel(subject, srclient.CompatibilityLevel(c.compat))
		}); err != nil {
			return Registered{}, fmt.Errorf("schema registry: set compatibility %s on subject %s: %w", c.compat, subject, err)
		}
	}
	if _, err := call(ctx, func() (*srclient.Schema, error) {
		return c.c.CreateSchema(subject, string(s), srclient.Avro)
	}); err != nil {
		if apiCode(err) == codeIncompatible {
			return Registered{}, &IncompatibleError{Subject: subject, Rule: c.rule(ctx, subject), Reason: err.Error()}
		}
		return Registered{}, fmt.Errorf("schema registry: register subject %s: %w", subject, err)
	}
	reg, found, _, err = c.lookup(ctx, subject, s)
	if err != nil {
		return Registered{}, err
	}
	if !found {
		return Registered{}, fmt.Errorf("schema registry: subject %s does not hold the schema just registered", subject)
	}
	return reg, nil
}

// DeleteSubject implements Registry with the API's soft delete.
func (c *Confluent) DeleteSubject(ctx context.Context, subject string) error {
	_, err := call(ctx, func() (struct{}, error) { return struct{}{}, c.c.DeleteSubject(subject, false) })
	if err != nil && apiCode(err) != codeSubjectNotFound {
		return fmt.Errorf("schema registry: delete subject %s: %w", subject, err)
	}
	return nil
}
