package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/capture"
)

// TestColumnTypesConfig: route columns and sink.numeric-unconstrained
// parse into the choices discovery applies (the first matching route's),
// and each mistake is one problem naming its field, line and fix.
func TestColumnTypesConfig(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte(strings.Replace(minimalYAML, "tables: public.orders", "tables: public.orders, public.prices", 1)+`  numeric-unconstrained: decimal(38, 10)
route:
  - source-table: public\.prices
    columns:
      amount: {type: string}
      rate: {type: decimal(20,4)}
  - source-table: public\..*
    columns:
      amount: {type: double}
`), nil)
	require.NoError(t, err)
	types := columnTypesFor(cfg)
	ct := types(capture.TableID{Schema: "public", Name: "prices"})
	require.Equal(t, "route[0].columns", ct.Field)
	require.Equal(t, "string", ct.Columns["amount"].String())
	require.Equal(t, "decimal(20, 4)", ct.Columns["rate"].String())
	require.Equal(t, "decimal(38, 10)", ct.Unconstrained.String())
	ct = types(capture.TableID{Schema: "public", Name: "orders"})
	require.Equal(t, "route[1].columns", ct.Field)
	require.Equal(t, "double", ct.Columns["amount"].String())
	ct = types(capture.TableID{Schema: "other", Name: "orders"})
	require.Empty(t, ct.Columns)
	require.Equal(t, "sink.numeric-unconstrained", ct.UnconstrainedField)

	_, err = ParseConfig("c.yaml", []byte(minimalYAML+`  numeric-unconstrained: text
route:
  - source-table: public\.orders
    columns:
      a: {type: decimal(40,2)}
      b: {kind: string}
      c: string
`), nil)
	var cerr *ConfigError
	require.ErrorAs(t, err, &cerr)
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.Field+" | "+p.Message+" | "+p.Fix)
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"sink.numeric-unconstrained | unknown type \"text\": write string, double or decimal(P,S) | write string, double or decimal(P,S)",
		"route[0].columns.a.type | decimal(40,2) is not an Iceberg decimal: precision must be 1 to 38",
		"route[0].columns.b.kind | unknown key",
		"route[0].columns.c | expected a mapping, got a string",
	} {
		require.Contains(t, joined, want)
	}

	// One sink: block serves both sources: MySQL has no numeric without
	// precision, so the setting applies to nothing there.
	_, err = ParseConfig("c.yaml", []byte(strings.Replace(minimalYAML, "type: postgres", "type: mysql", 1)+"  numeric-unconstrained: string\n"), nil)
	require.NoError(t, err)
}
