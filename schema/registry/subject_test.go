package registry

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

var orders = SubjectVars{Pipeline: "shop", Schema: "public", Table: "orders", Namespace: "lake.raw", IcebergTable: "pg_orders"}

func TestSubjectName(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"", "shop.public.orders-value"},
		{DefaultSubjectName, "shop.public.orders-value"},
		{IcebergSubjectName, "lake.raw.pg_orders-value"},
		{"{pipeline}-{namespace}.{iceberg_table}", "shop-lake.raw.pg_orders"},
		{"cdc.{table}.{table}", "cdc.orders.orders"},
		{"{schema}{table}", "publicorders"},
	} {
		n, err := ParseSubjectName(tc.tmpl)
		require.NoError(t, err, tc.tmpl)
		require.Equal(t, tc.want, n.Subject(orders), tc.tmpl)
	}
	var zero SubjectName
	require.Equal(t, "shop.public.orders-value", zero.Subject(orders))
	require.Equal(t, DefaultSubjectName, zero.String())
}

func TestSubjectNameRefused(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"{pipeline}.{db}.{table}", "unknown placeholder {db}; the placeholders are {pipeline}, {schema}, {table}, {namespace}, {iceberg_table}"},
		{"{Table}-value", "unknown placeholder {Table}"},
		{"{table-value", "'{' that is never closed"},
		{"table}-value", "'}' that closes no placeholder"},
		{"orders-value", "no placeholder"},
	} {
		_, err := ParseSubjectName(tc.tmpl)
		require.ErrorContains(t, err, tc.want, tc.tmpl)
	}
}

// TestSubjectClashes: a template that loses the table's identity, or
// whose separators make two names one, maps two tables to one subject.
func TestSubjectClashes(t *testing.T) {
	vars := []SubjectVars{
		{Pipeline: "p", Schema: "a.b", Table: "c", Namespace: "lake", IcebergTable: "a_b_c"},
		{Pipeline: "p", Schema: "a", Table: "b.c", Namespace: "lake", IcebergTable: "a_b_c2"},
		{Pipeline: "p", Schema: "x", Table: "c", Namespace: "lake", IcebergTable: "x_c"},
	}
	name := func(i int) string { return fmt.Sprintf("%s.%s", vars[i].Schema, vars[i].Table) }
	n, _ := ParseSubjectName("")
	require.Equal(t, []SubjectClash{{Subject: "p.a.b.c-value", First: "a.b.c", Second: "a.b.c"}}, n.Clashes(vars, name))
	n, _ = ParseSubjectName("{pipeline}.{table}")
	require.Equal(t, []SubjectClash{{Subject: "p.c", First: "a.b.c", Second: "x.c"}}, n.Clashes(vars, name))
	n, _ = ParseSubjectName(IcebergSubjectName)
	require.Empty(t, n.Clashes(vars, name))
}
