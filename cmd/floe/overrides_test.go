package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// Values plain numeric holds that decimal(38,18), its default mapping,
// cannot: NaN, ±Infinity, 30 integer digits, 25 fractional digits.
var hardNumerics = []string{"NaN", "Infinity", "-Infinity",
	"123456789012345678901234567890", "-0.1234567890123456789012345", "1.50"}

// TestColumnTypeOverrides: with `type: string` on a route (and
// sink.numeric-unconstrained: string for another table), unconstrained
// numeric values Iceberg decimals cannot hold and timestamps snapshot and
// stream as their documented text, floe verify compares through the
// override and finds every table equal, and the Iceberg table holds the
// exact text. Mistakes in the overrides stop check and run with the field
// and the fix; an override changed on an existing table that Iceberg
// cannot follow stops the run with the fix.
func TestColumnTypeOverrides(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "overrides", `public\.(prices|ledger)`, "upsert", "")
	var inserts []string
	for i, v := range hardNumerics {
		inserts = append(inserts, fmt.Sprintf(`INSERT INTO prices VALUES (%d, '%s', '2024-01-02 03:04:05.5+02', 1.25)`, i+1, v),
			fmt.Sprintf(`INSERT INTO ledger VALUES (%d, '%s')`, i+1, v))
	}
	e.exec(append([]string{
		`CREATE TABLE prices (id int PRIMARY KEY, amount numeric, created timestamptz, price numeric(10,2))`,
		`CREATE TABLE ledger (id int PRIMARY KEY, balance numeric)`,
		`INSERT INTO prices VALUES (100, NULL, 'infinity', NULL)`,
		`ALTER TABLE prices OWNER TO u_overrides`, `ALTER TABLE ledger OWNER TO u_overrides`,
	}, inserts...)...)

	// Mistakes: each names its field and the fix, before anything runs.
	rewriteConfig(t, e, "\nlog:\n", "\nroute:\n  - source-table: public\\.prices\n    columns:\n      amount: {type: string}\n      nope: {type: string}\n      id: {type: string}\nlog:\n")
	out, code := runFloe(t, e, "check", "--config", e.config)
	expectOneLineError(t, out, code, "route[0].columns.nope", "table public.prices has no column nope", "remove the override")
	expectOneLineError(t, out, code, "route[0].columns.id", "part of the key of table public.prices", "remove the override of the key column")
	rewriteConfig(t, e, "      nope: {type: string}\n      id: {type: string}\n", "      created: {type: string}\n      price: {type: decimal(10,1)}\n")
	out, code = runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "route[0].columns.price", "numeric(10,2)", "S >= 2 and P-S >= 8")

	rewriteConfig(t, e, "      price: {type: decimal(10,1)}\n", "      price: {type: decimal(20,4)}\n")
	rewriteConfig(t, e, "  mode: upsert\n", "  mode: upsert\n  numeric-unconstrained: string\n")
	r := e.start()
	e.waitStreaming(r)
	e.exec(`INSERT INTO prices VALUES (200, '99999999999999999999999999999999999.000000000000000000000000001', '2024-06-30 23:59:59.999999+00', 12345678.5)`,
		`INSERT INTO ledger VALUES (200, 'NaN')`,
		`UPDATE prices SET amount = 'NaN', created = '-infinity' WHERE id = 4`,
		`UPDATE ledger SET balance = '-Infinity' WHERE id = 4`,
		`DELETE FROM prices WHERE id = 2`,
		// A column added while streaming takes the sink-wide choice.
		`ALTER TABLE ledger ADD COLUMN fee numeric`, `INSERT INTO ledger VALUES (300, 1, 'NaN')`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(2)

	want := map[int32][2]string{100: {"", "infinity"}, 200: {"99999999999999999999999999999999999.000000000000000000000000001", "2024-06-30T23:59:59.999999Z"},
		4: {"NaN", "-infinity"}}
	for i, v := range hardNumerics {
		if _, ok := want[int32(i+1)]; !ok && i+1 != 2 {
			want[int32(i+1)] = [2]string{v, "2024-01-02T01:04:05.5Z"}
		}
	}
	tbl := e.sinkTable("prices")
	l := tbl.Layout()
	for _, c := range []string{"amount", "created"} {
		if typ := l.Columns[l.Index(c)].Type.String(); typ != "string" {
			t.Fatalf("column %s is %s in Iceberg, want string", c, typ)
		}
	}
	if typ := l.Columns[l.Index("price")].Type.String(); typ != "decimal(20, 4)" {
		t.Fatalf("column price is %s in Iceberg, want decimal(20, 4)", typ)
	}
	got := map[int32][2]string{}
	err := tbl.Scan(context.Background(), func(row schema.Row) error {
		var s [2]string
		for j, c := range []string{"amount", "created"} {
			if v := row[l.Index(c)]; v != nil {
				s[j] = v.(string)
			}
		}
		got[row[l.Index("id")].(int32)] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Iceberg holds\n%v\nwant\n%v", got, want)
	}

	ledger := e.sinkTable("ledger").Layout()
	for _, c := range []string{"balance", "fee"} {
		if i := ledger.Index(c); i < 0 || ledger.Columns[i].Type.String() != "string" {
			t.Fatalf("ledger in Iceberg is %s, want balance and fee string", ledger)
		}
	}

	// A wider decimal is a promotion Iceberg follows in place.
	rewriteConfig(t, e, "      price: {type: decimal(20,4)}\n", "      price: {type: decimal(30,4)}\n")
	r = e.start()
	e.exec(`INSERT INTO prices VALUES (300, '1', '2024-01-01 00:00:00+00', 99999999.99)`)
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(2)
	if l := e.sinkTable("prices").Layout(); l.Columns[l.Index("price")].Type.String() != "decimal(30, 4)" {
		t.Fatalf("price is %s in Iceberg, want decimal(30, 4)", l)
	}

	// Iceberg cannot turn a string column into a decimal: the run stops
	// and says how to go on.
	rewriteConfig(t, e, "      amount: {type: string}\n", "      amount: {type: decimal(38,10)}\n")
	out, code = runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "column amount is decimal(38, 10) in the source but string in the sink table", "floe resnapshot")
	if !strings.Contains(out, "public.prices") {
		t.Fatalf("the error does not name the table:\n%s", out)
	}
	// The fix it names works: the table is read again in its new type.
	e.exec(`UPDATE prices SET amount = 1 WHERE amount = 'NaN' OR abs(amount) > 1e20 OR scale(amount) > 10 OR amount IS NULL`)
	if out, code := e.runVerb("resnapshot", "--config", e.config, "--table", "public.prices"); code != 0 {
		t.Fatalf("floe resnapshot exit %d:\n%s", code, out)
	}
	r = e.start()
	e.waitCaughtUp(r, time.Minute)
	e.stop(r)
	e.mustVerify(2)
	if l := e.sinkTable("prices").Layout(); l.Columns[l.Index("amount")].Type.String() != "decimal(38, 10)" {
		t.Fatalf("amount is %s in Iceberg after the resnapshot, want decimal(38, 10)", l)
	}
}

// TestColumnTypeOverrideValueDoesNotFit: with pipeline.dead-letter: off, a
// value that does not fit the decimal a user chose stops the snapshot and
// the stream with one line
// naming the table, the row's key, the column, the value and the fix;
// nothing wrong is written.
func TestColumnTypeOverrideValueDoesNotFit(t *testing.T) {
	needServers(t)
	e := newPipelineEnv(t, "overfit", `public\.amounts`, "upsert", "")
	e.exec(`CREATE TABLE amounts (id int PRIMARY KEY, v numeric)`, `INSERT INTO amounts VALUES (1, 1.5), (2, 0.123456789012)`,
		`ALTER TABLE amounts OWNER TO u_overfit`)
	rewriteConfig(t, e, "\nlog:\n", "\nroute:\n  - source-table: public\\.amounts\n    columns:\n      v: {type: decimal(38,10)}\nlog:\n")
	rewriteConfig(t, e, "  checkpoint-interval: 1s\n", "  checkpoint-interval: 1s\n  dead-letter: off\n")
	out, code := runFloe(t, e, "run", "--config", e.config)
	expectOneLineError(t, out, code, "public.amounts", `row with key id=2: column v (numeric): value "0.123456789012": has more than 10 fractional digits`,
		"overridden to decimal(38,10): choose a wider decimal or string")

	e.exec(`UPDATE amounts SET v = 0.5 WHERE id = 2`)
	r := e.start()
	e.waitStreaming(r)
	e.exec(`INSERT INTO amounts VALUES (3, 'NaN')`)
	select {
	case <-r.Exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("floe run did not stop at the value; log:\n%s", e.tail(40))
	}
	expectOneLineError(t, e.tail(200), 1, "public.amounts", `row with key id=3: column v (numeric): value "NaN": Iceberg decimals cannot store NaN`,
		"keep it with `columns: {v: {type: string}}`")
	out, code = e.verify()
	if code == 0 || !strings.Contains(out, "id=3") {
		t.Fatalf("floe verify must find row id=3 missing, not written wrong:\n%s", out)
	}
}
