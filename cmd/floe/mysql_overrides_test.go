package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// TestMySQLColumnTypeOverrides: on MariaDB, DECIMAL(65,30) kept as its
// exact text, a DECIMAL as double, a narrower DECIMAL widened to a
// decimal of the user's choosing and DATETIME/TIMESTAMP kept as ISO text
// snapshot and stream alike (text protocol and binlog), and floe verify
// compares through the overrides and finds the tables equal.
func TestMySQLColumnTypeOverrides(t *testing.T) {
	e := newMySQLEnv(t, "my_overrides", "upsert", "")
	db := e.db
	e.sql(`CREATE TABLE prices (id INT PRIMARY KEY, amount DECIMAL(65,30), rate DECIMAL(10,2), price DECIMAL(10,2),
		seen DATETIME(6), changed TIMESTAMP(6) NULL)`,
		`INSERT INTO prices VALUES (1, '12345678901234567890123456789012345.123456789012345678901234567890', 0.10, 12.5, '2024-01-02 03:04:05.5', '2024-01-02 03:04:05.123456'),
			(2, '-0.000000000000000000000000000001', -99999999.99, -1, '1000-01-01 00:00:00', NULL), (3, NULL, NULL, NULL, NULL, NULL)`)
	rewriteConfig(t, e.pipelineEnv, `\.(accounts|events|floe_marker)`, `\.(prices|floe_marker)`)
	rewriteConfig(t, e.pipelineEnv, "\nlog:\n", fmt.Sprintf(`
route:
  - source-table: %s\.prices
    columns:
      amount: {type: string}
      rate: {type: double}
      price: {type: decimal(20,4)}
      seen: {type: string}
      changed: {type: string}
log:
`, db))
	r := e.start()
	e.waitStreaming(r)
	e.sql(`INSERT INTO prices VALUES (4, '-99999999999999999999999999999999999.999999999999999999999999999999', 1234.56, 0.01, '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999')`,
		`UPDATE prices SET amount = '1.5', seen = '2024-06-30 12:00:00', changed = '2024-06-30 12:00:00.000001' WHERE id = 2`,
		`DELETE FROM prices WHERE id = 3`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(2)

	tbl := e.sinkTable("prices")
	l := tbl.Layout()
	for c, want := range map[string]string{"amount": "string", "rate": "double", "price": "decimal(20, 4)", "seen": "string", "changed": "string"} {
		if typ := l.Columns[l.Index(c)].Type.String(); typ != want {
			t.Fatalf("column %s is %s in Iceberg, want %s", c, typ, want)
		}
	}
	got := map[int32]string{}
	err := tbl.Scan(context.Background(), func(row schema.Row) error {
		s := ""
		for _, c := range []string{"amount", "rate", "price", "seen", "changed"} {
			i := l.Index(c)
			s += " " + schema.FormatValue(row[i], l.Columns[i].Type)
		}
		got[row[l.Index("id")].(int32)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]string{
		1: " 12345678901234567890123456789012345.123456789012345678901234567890 0.1 12.5000 2024-01-02T03:04:05.5 2024-01-02T03:04:05.123456Z",
		2: " 1.500000000000000000000000000000 -9.999999999e+07 -1.0000 2024-06-30T12:00:00 2024-06-30T12:00:00.000001Z",
		4: " -99999999999999999999999999999999999.999999999999999999999999999999 1234.56 0.0100 9999-12-31T23:59:59.999999 2038-01-19T03:14:07.999999Z",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Iceberg holds\n%v\nwant\n%v", got, want)
	}
}
