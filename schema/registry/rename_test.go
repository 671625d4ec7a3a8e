package registry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/floe-cdc/floe/schema"
	"github.com/floe-cdc/floe/transform"
)

// avroAliased renders the upsert sink layout of shop.orders with cols
// (the first is the key) and the columns' earlier names formerNames.
func avroAliased(t *testing.T, formerNames map[string][]string, cols ...schema.Column) Schema {
	t.Helper()
	layout := transform.SinkLayout(&schema.Table{Columns: cols, Key: []int{0}}, transform.Upsert)
	s, err := AvroSchemaWithAliases("shop", "orders", layout, formerNames)
	require.NoError(t, err)
	return s
}

// TestRenameKeepsBackwardCompatibility: a column renamed at the source
// (a required one and the key among them) is an Avro field whose earlier
// name is an alias, so the subject's default rule, BACKWARD, accepts the
// renamed schema; without the aliases it refuses it (a required reader
// field missing from the writer). The schema rendered from the pending
// rename (RenamedFrom) and from the Iceberg table's history after it
// (formerNames) are the same bytes, so registering after the table took
// the rename finds the version registered before, and a second rename
// keeps the first name as an alias too.
func TestRenameKeepsBackwardCompatibility(t *testing.T) {
	ctx := context.Background()
	e := openEmbedded(t, Backward)
	subject := "shop.orders-value"
	_, err := e.Register(ctx, subject, avroOf(t, col("id", long, false), col("qty", integer, false), col("note", text, true)))
	require.NoError(t, err)

	taken := []schema.Column{col("key", long, false), col("amount", integer, false), col("note", text, true)}
	var ie *IncompatibleError
	require.ErrorAs(t, e.Check(ctx, subject, avroOf(t, taken...)), &ie, "without aliases the rename is refused")

	pending := []schema.Column{col("key", long, false), col("amount", integer, false), col("note", text, true)}
	pending[0].RenamedFrom, pending[1].RenamedFrom = "id", "qty"

	renamed := avroAliased(t, nil, pending...)
	require.Contains(t, string(renamed), `"name":"amount","type":"int","aliases":["qty"]`)
	reg, err := e.Register(ctx, subject, renamed)
	require.NoError(t, err)
	require.Equal(t, 2, reg.Version)

	after := avroAliased(t, map[string][]string{"key": {"id"}, "amount": {"qty"}}, taken...)
	require.Equal(t, renamed, after, "before and after the Iceberg table took the rename")
	again, err := e.Register(ctx, subject, after)
	require.NoError(t, err)
	require.Equal(t, reg, again, "no new version once the table took the rename")

	second := []schema.Column{col("key", long, false), col("total", integer, false), col("note", text, true)}
	second[1].RenamedFrom = "amount"
	s2 := avroAliased(t, map[string][]string{"key": {"id"}, "amount": {"qty"}}, second...)
	require.Contains(t, string(s2), `"name":"total","type":"int","aliases":["amount","qty"]`)
	reg2, err := e.Register(ctx, subject, s2)
	require.NoError(t, err)
	require.Equal(t, 3, reg2.Version)
}
