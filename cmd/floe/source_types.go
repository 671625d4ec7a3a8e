package main

import (
	"log/slog"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// sourceType is one value of source.type: how the source: section
// becomes that source's Config, checked by its Validate, and the source
// that Config opens. The Config's package owns the defaults and the
// checks; an entry only maps the file's keys onto it.
type sourceType struct {
	name string
	// defaults fills the defaults of c.Source that depend on the type or
	// on other fields (a port the file does not set, a derived id).
	defaults func(c *Config)
	// validate returns the problems of the section for this type: keys
	// the type's Config cannot hold as written, then its Validate.
	validate func(c *Config) []Problem
	// open builds the source; it does not connect.
	open func(c *Config, env sourceEnv) (floeSource, error)
}

// sourceEnv is what floe hands a source beyond its section.
type sourceEnv struct {
	log  *slog.Logger
	keys map[capture.TableID]capture.KeyOverride // route keys (keyOverrides)
	live *capture.Liveness                       // nil: the stream's liveness is not watched
	// types returns the column type choices of a table (columnTypesFor).
	types func(capture.TableID) schema.ColumnTypes
}

// sourceTypes are the values of source.type, in the order fixes name them.
var sourceTypes = []sourceType{postgresType, mysqlType}

// lookupSourceType returns the entry of source.type name.
func lookupSourceType(name string) (sourceType, bool) {
	for _, t := range sourceTypes {
		if t.name == name {
			return t, true
		}
	}
	return sourceType{}, false
}

// sourceTypeNames are the values source.type takes.
func sourceTypeNames() []string {
	names := make([]string, len(sourceTypes))
	for i, t := range sourceTypes {
		names[i] = t.name
	}
	return names
}
