package lakewriter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDropTableThenRecreateEmpty(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	tbl := ensureSimple(t, c, "orders")
	_, err := tbl.Commit(ctx, Commit{Rows: seqOf(simpleRow(1, "a"), simpleRow(2, "b")), Props: props("1"), Token: "floe.checkpoint"})
	require.NoError(t, err)
	id := Ident{Namespace: "db", Name: "orders"}

	require.NoError(t, c.DropTable(ctx, id, true))
	_, err = c.LoadTable(ctx, id)
	require.ErrorIs(t, err, ErrNoSuchTable)
	require.ErrorIs(t, c.DropTable(ctx, id, true), ErrNoSuchTable)

	again := ensureSimple(t, c, "orders")
	require.Empty(t, scanAll(t, again))
	hist, err := again.History(ctx)
	require.NoError(t, err)
	require.Empty(t, hist, "a recreated table starts without history")
}

func TestListTables(t *testing.T) {
	ctx := context.Background()
	c, _ := openTestCatalog(t)
	ensureSimple(t, c, "b")
	ensureSimple(t, c, "a")
	ids, err := c.ListTables(ctx, "db")
	require.NoError(t, err)
	require.ElementsMatch(t, []Ident{{Namespace: "db", Name: "a"}, {Namespace: "db", Name: "b"}}, ids)
	ids, err = c.ListTables(ctx, "nowhere")
	require.NoError(t, err)
	require.Empty(t, ids)
}
