package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema/registry"
)

// TestRegistryConfig: the registry: section is read, checked field by
// field, redacted, and mapped onto the Confluent client's options.
func TestRegistryConfig(t *testing.T) {
	env := testEnv(map[string]string{"REG_PW": "pw-123"})
	cfg, err := ParseConfig("r.yaml", []byte(minimalYAML+"registry:\n  url: https://registry:8081\n  username: floe\n  password: ${REG_PW}\n  compatibility: full\n"), env)
	require.NoError(t, err)
	require.Equal(t, RegistryConfig{URL: "https://registry:8081", Username: "floe", Password: "pw-123", Compatibility: "full"}, cfg.Registry)
	opts, err := cfg.Registry.Options()
	require.NoError(t, err)
	require.Equal(t, registry.Full, opts.Compatibility)

	red := cfg.Redacted()
	require.NotContains(t, red, "pw-123")
	require.Contains(t, red, "registry:\n  url: https://registry:8081\n  username: floe\n  password: '***'")
	again, err := ParseConfig("red.yaml", []byte(red), env)
	require.NoError(t, err, "the redacted configuration parses:\n%s", red)
	require.Equal(t, "https://registry:8081", again.Registry.URL)
	require.Equal(t, registry.DefaultSubjectName, cfg.Registry.Subjects().String(), "the default subject naming")
	named, err := ParseConfig("n.yaml", []byte(minimalYAML+"registry:\n  subject-name: \"{namespace}.{iceberg_table}-value\"\n"), nil)
	require.NoError(t, err)
	require.Equal(t, "lake.orders-value", named.Registry.Subjects().Subject(registry.SubjectVars{Namespace: "lake", IcebergTable: "orders"}))
	require.Contains(t, named.Redacted(), "subject-name: '{namespace}.{iceberg_table}-value'")
	noReg, err := ParseConfig("m.yaml", []byte(minimalYAML), nil)
	require.NoError(t, err)
	require.NotContains(t, noReg.Redacted(), "registry:", "an unset section is not rendered")

	for _, tc := range []struct{ yaml, field, message string }{
		{"registry:\n  url: registry:8081\n", "registry.url", "is not an http(s) URL"},
		{"registry:\n  url: http://u:p@registry:8081\n", "registry.url", "carries credentials"},
		{"registry:\n  username: floe\n  password: x\n", "registry.url", "is empty but credentials are set"},
		{"registry:\n  url: http://r:8081\n  username: floe\n", "registry.username", "needs both username and password"},
		{"registry:\n  url: http://r:8081\n  username: a\n  password: b\n  token: c\n", "registry.token", "is set together with registry.username"},
		{"registry:\n  compatibility: sideways\n", "registry.compatibility", `compatibility "sideways" is not a rule`},
		{"registry:\n  urll: http://r:8081\n", "registry.urll", "unknown key"},
		{"registry:\n  subject-name: \"{pipeline}.{db}.{table}-value\"\n", "registry.subject-name",
			"unknown placeholder {db}; the placeholders are {pipeline}, {schema}, {table}, {namespace}, {iceberg_table}"},
		{"registry:\n  subject-name: orders-value\n", "registry.subject-name", "has no placeholder"},
	} {
		_, err := ParseConfig("bad.yaml", []byte(minimalYAML+tc.yaml), nil)
		require.Error(t, err, tc.yaml)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		found := false
		for _, p := range ce.Problems {
			if p.Field == tc.field && strings.Contains(p.Message, tc.message) {
				found = true
			}
		}
		require.True(t, found, "%q: want %s: %s in %v", tc.yaml, tc.field, tc.message, ce.Problems)
	}
}

// TestRegistryUnreachableIsRetried: a registry that refuses connections
// ends an attempt as a lost connection (retried with backoff), not as a
// fatal error; a refusal by its rule is fatal.
func TestRegistryUnreachableIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	c, err := registry.NewConfluent(registry.ConfluentOptions{URL: "http://" + addr})
	require.NoError(t, err)
	_, err = c.Register(context.Background(), "x-value", `{"type":"record","name":"x","fields":[{"name":"id","type":"long"}]}`)
	require.Error(t, err)
	require.Equal(t, lostConnection, classify(fmt.Errorf("table t: %w", err), false), "%v", err)
	refused := &registry.IncompatibleError{Subject: "x-value", Rule: registry.Backward}
	require.Equal(t, fatal, classify(fmt.Errorf("table t: %w", refused), true))
}

// TestOpenRegistry: which registry floe run opens for a configuration —
// the embedded one in a SQLite or a PostgreSQL catalog database (durable:
// a registry opened again holds what the first registered), a Confluent
// client for registry.url, none for a REST catalog without registry.url.
func TestOpenRegistry(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	log := newLogger(LogConfig{Format: "text", Level: "info"}, io.Discard)
	schemas := []registry.Schema{`{"type":"record","name":"x","fields":[{"name":"id","type":"long"}]}`,
		`{"type":"record","name":"x","fields":[{"name":"id","type":"long"},{"name":"n","type":["null","string"],"default":null}]}`}
	dsn, err := sharedPG.CreateDatabase(ctx, "registry_catalog", "registry_catalog", testPassword)
	require.NoError(t, err)
	for name, uri := range map[string]string{
		"sqlite":   "sqlite://" + filepath.Join(t.TempDir(), "catalog.db"),
		"postgres": dsn,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Sink.Catalog.URI = uri
			// The second opening (a later run) continues the first's subject.
			for i, schema := range schemas {
				reg, err := openRegistry(ctx, cfg, log)
				require.NoError(t, err)
				require.IsType(t, embeddedRegistry{}, reg)
				got, err := reg.Register(ctx, "x-value", schema)
				require.NoError(t, err)
				require.Equal(t, registry.Registered{ID: i + 1, Version: i + 1}, got)
				require.NoError(t, reg.Close())
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Registry.URL = "http://registry:8081"
	reg, err := openRegistry(ctx, cfg, log)
	require.NoError(t, err)
	require.IsType(t, &registry.Confluent{}, reg)

	cfg = DefaultConfig()
	cfg.Sink.Catalog.Type = "rest"
	reg, err = openRegistry(ctx, cfg, log)
	require.NoError(t, err)
	require.Nil(t, reg)
}
