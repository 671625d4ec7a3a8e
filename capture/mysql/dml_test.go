package mysql

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
)

func TestParseDML(t *testing.T) {
	id := func(db, name string) capture.TableID { return capture.TableID{Schema: db, Name: name} }
	shop := func(name string) capture.TableID { return id("shop", name) }
	for _, tc := range []struct {
		stmt    string
		targets []capture.TableID
		refs    []capture.TableID
		cols    []string
	}{
		{stmt: "INSERT INTO orders VALUES (1)", targets: []capture.TableID{shop("orders")}},
		{stmt: "insert low_priority ignore into `shop`.`orders` (a) values (1)", targets: []capture.TableID{shop("orders")}},
		{stmt: "INSERT orders SET a = 1", targets: []capture.TableID{shop("orders")}},
		{stmt: "INSERT INTO other.t PARTITION (p0) SELECT * FROM orders", targets: []capture.TableID{id("other", "t")}},
		{stmt: "INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = (SELECT max(x) FROM orders)", targets: []capture.TableID{shop("t")}},
		{stmt: "INSERT INTO t VALUES ('DELETE FROM orders', \"x\")", targets: []capture.TableID{shop("t")}},
		{stmt: "/* app=web */ INSERT /*!40000 IGNORE */ INTO -- a comment\n orders VALUES (1)", targets: []capture.TableID{shop("orders")}},
		{stmt: "REPLACE DELAYED INTO `my``table` VALUES (1)", targets: []capture.TableID{shop("my`table")}},
		{stmt: `INSERT INTO "orders" VALUES (1)`, targets: []capture.TableID{shop("orders")}}, // ANSI_QUOTES
		{stmt: "UPDATE orders SET a = 1 WHERE id IN (SELECT id FROM other.t)", targets: []capture.TableID{shop("orders")}},
		{stmt: "UPDATE LOW_PRIORITY IGNORE orders AS o SET o.a = 1", targets: []capture.TableID{shop("orders")}},
		{stmt: "UPDATE orders o JOIN items i ON o.id = i.oid SET i.qty = 0", targets: []capture.TableID{shop("items")},
			refs: []capture.TableID{shop("orders"), shop("items")}},
		{stmt: "UPDATE orders, items SET qty = 0, items.n = 1", targets: []capture.TableID{shop("items")},
			refs: []capture.TableID{shop("orders"), shop("items")}, cols: []string{"qty"}},
		{stmt: "UPDATE (orders JOIN items USING (id)) SET orders.a = 1", targets: []capture.TableID{shop("orders")},
			refs: []capture.TableID{shop("orders"), shop("items")}},
		{stmt: "UPDATE orders JOIN (SELECT id FROM big) AS d ON d.id = orders.id SET orders.a = d.id", targets: []capture.TableID{shop("orders")}},
		{stmt: "UPDATE shop.orders LEFT OUTER JOIN other.items USE INDEX (i) ON 1 SET other.items.q = 1", targets: []capture.TableID{id("other", "items")},
			refs: []capture.TableID{shop("orders"), id("other", "items")}},
		{stmt: "DELETE FROM orders WHERE id = 5", targets: []capture.TableID{shop("orders")}},
		{stmt: "DELETE LOW_PRIORITY QUICK IGNORE FROM `Orders` PARTITION (p1) WHERE 1 ORDER BY id LIMIT 3", targets: []capture.TableID{shop("Orders")}},
		{stmt: "DELETE o FROM orders o JOIN items i ON o.id = i.oid", targets: []capture.TableID{shop("orders")}},
		{stmt: "DELETE i FROM orders AS o, items AS i WHERE o.id = i.oid", targets: []capture.TableID{shop("items")}},
		{stmt: "DELETE orders.*, other.items FROM orders STRAIGHT_JOIN other.items", targets: []capture.TableID{shop("orders"), id("other", "items")}},
		{stmt: "DELETE FROM a1, a2.* USING orders AS a1 INNER JOIN items AS a2 USING (id) WHERE a1.x > 0", targets: []capture.TableID{shop("orders"), shop("items")}},
		{stmt: "LOAD DATA LOW_PRIORITY LOCAL INFILE '/tmp/x' REPLACE INTO TABLE orders FIELDS TERMINATED BY ','", targets: []capture.TableID{shop("orders")}},
		{stmt: "LOAD XML INFILE 'x.xml' INTO TABLE `other`.`t` ROWS IDENTIFIED BY '<row>'", targets: []capture.TableID{id("other", "t")}},
		{stmt: "WITH c AS (SELECT 1 AS a), d (x) AS (SELECT 2) UPDATE orders SET a = 1", targets: []capture.TableID{shop("orders")}},
	} {
		info, ok := parseDML("shop", tc.stmt)
		if !ok || info.guessed || !slices.Equal(info.targets, tc.targets) || !slices.Equal(info.refs, tc.refs) || !slices.Equal(info.cols, tc.cols) {
			t.Errorf("parseDML(%q) = %+v, %v; want targets %v refs %v cols %v", tc.stmt, info, ok, tc.targets, tc.refs, tc.cols)
		}
	}
	for _, stmt := range []string{"BEGIN", "COMMIT", "SET @a = 1", "CREATE TABLE x AS SELECT * FROM orders", "ALTER TABLE orders ADD c INT",
		"CREATE TRIGGER trg AFTER INSERT ON x FOR EACH ROW INSERT INTO orders VALUES (1)", "SAVEPOINT s", "/* INSERT INTO orders */ SELECT 1",
		"TRUNCATE orders", "GRANT SELECT ON *.* TO u"} {
		if info, ok := parseDML("shop", stmt); ok {
			t.Errorf("parseDML(%q) = %+v, want no data change", stmt, info)
		}
	}
	// A statement it cannot parse changes, as far as it can tell, every
	// table it names.
	if info, ok := parseDML("shop", "UPDATE SET = 1 orders"); !ok || !info.guessed || !slices.Contains(info.targets, shop("orders")) {
		t.Errorf("unparsed statement: %+v, %v", info, ok)
	}
}

// TestStatementFormatDML: a data-changing statement a session logged as
// text (binlog_format=STATEMENT) on a captured table is an OpUnreadable
// change of that table naming it, the position and the fix, whatever the
// statement's form; statements that only read captured tables or change
// others are passed over. A table whose chunks a later session reads
// again does not stop on the statements before that session.
func TestStatementFormatDML(t *testing.T) {
	e := newEnv(t)
	e.exec("CREATE TABLE c1 (id INT PRIMARY KEY, v INT)", "CREATE TABLE c2 (id INT PRIMARY KEY, qty INT)",
		"CREATE TABLE o1 (id INT PRIMARY KEY, v INT, note VARCHAR(20))",
		"INSERT INTO c1 VALUES (1, 1), (2, 2)", "INSERT INTO c2 VALUES (1, 5)", "INSERT INTO o1 VALUES (1, 0, 'x')")
	data := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(data, []byte("50,50\n51,51\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for dir := filepath.Dir(data); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		_ = os.Chmod(dir, 0o755) // the server (OS user mysql) reads the file
	}
	cfg := e.config(e.db + `\.c[12]`)
	s := e.source(cfg)
	ctx := testCtx(t)
	info, err := s.Start(ctx, capture.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	conn, err := e.root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	statement := func(stmts ...string) {
		t.Helper()
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("exec %q: %v", q, err)
			}
		}
	}
	statement("SET SESSION binlog_format = 'STATEMENT'")
	// Reading captured tables, changing others: passed over.
	statement("INSERT INTO o1 VALUES (2, 0, 'DELETE FROM c1')",
		"UPDATE o1 JOIN c1 ON c1.id = o1.id SET o1.v = c1.v",
		"UPDATE o1, c1 SET note = 'n' WHERE o1.id = c1.id", // only o1 has note
		"DELETE o1 FROM o1 JOIN c1 ON c1.id = o1.id WHERE o1.id = 2",
		"INSERT INTO o1 SELECT id + 10, v, 'copy' FROM c1",
		"REPLACE INTO o1 (id, v) SELECT id + 20, qty FROM c2",
		fmt.Sprintf("LOAD DATA INFILE '%s' INTO TABLE o1 FIELDS TERMINATED BY ',' (id, v)", data))
	e.exec("INSERT INTO c1 VALUES (100, 100)") // row format
	if b := r.Next(); len(b.Changes) != 1 || b.Changes[0].Op != capture.OpInsert || b.Changes[0].After[0] != int32(100) {
		t.Fatalf("after statements that change no captured table: %+v, want the row-format insert of id 100 alone", b.Changes)
	}

	touching := []struct{ stmt, table string }{
		{"INSERT INTO c1 VALUES (3, 3)", "c1"},
		{fmt.Sprintf("INSERT INTO `%s`.`c2` VALUES (3, 3)", e.db), "c2"},
		{"UPDATE c1 SET v = v + 1", "c1"},
		{"UPDATE o1 JOIN c2 ON c2.id = o1.id SET qty = 9", "c2"}, // qty is c2's
		{"UPDATE c1 AS a JOIN o1 ON a.id = o1.id SET a.v = 7", "c1"},
		{"DELETE FROM c1 WHERE id = 3", "c1"},
		{"DELETE x FROM o1 JOIN c2 AS x ON x.id = o1.id", "c2"},
		{"DELETE FROM t USING c1 AS t, o1 WHERE t.id = o1.id + 1000", "c1"},
		{"REPLACE INTO c2 SELECT id, v FROM o1 WHERE id = 1", "c2"},
		{fmt.Sprintf("LOAD DATA INFILE '%s' IGNORE INTO TABLE c1 FIELDS TERMINATED BY ','", data), "c1"},
	}
	for _, tc := range touching {
		statement(tc.stmt)
	}
	statement("USE mysql")
	statement(fmt.Sprintf("UPDATE `%s`.c2 SET qty = 1", e.db)) // another default database
	touching = append(touching, struct{ stmt, table string }{fmt.Sprintf("UPDATE `%s`.c2 SET qty = 1", e.db), "c2"})
	for _, tc := range touching {
		b := r.Next()
		if len(b.Changes) != 1 || b.Changes[0].Op != capture.OpUnreadable || b.Changes[0].Table != id(e.db, tc.table) {
			t.Fatalf("%q: batch %+v, want one OpUnreadable change of %s", tc.stmt, b.Changes, tc.table)
		}
		reason := b.Changes[0].Err.Error()
		quoted := fmt.Sprintf("%q", truncate(tc.stmt, 200))
		if strings.HasPrefix(tc.stmt, "LOAD") {
			quoted = fmt.Sprintf("\"LOAD DATA INFILE '%s' IGNORE INTO TABLE `c1`", data) // as the server logs it
		}
		for _, part := range []string{"captured table " + e.db + "." + tc.table + " at " + b.Position.String() + " (binlog binlog.",
			"logged it as a statement, not as rows", quoted,
			"fix: make the writing sessions log rows (binlog_format=ROW", "floe resnapshot --table " + e.db + "." + tc.table} {
			if !strings.Contains(reason, part) || strings.Contains(reason, "\n") {
				t.Fatalf("%q: reason %q does not hold %q on one line", tc.stmt, reason, part)
			}
		}
	}
	r.Stop()

	// A later session that reads c1's chunks again (floe resnapshot) is
	// not stopped by the statements before it; c2's still stop it.
	s2 := e.source(cfg)
	if _, err := s2.Start(ctx, capture.StartRequest{Resume: info.From, Snapshot: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.PlanChunks(ctx, id(e.db, "c1"), 100); err != nil {
		t.Fatal(err)
	}
	if err := s2.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := startStream(t, s2)
	if b := r2.Next(); b.Changes[0].Op != capture.OpInsert {
		t.Fatalf("replay: first batch %+v, want the row-format insert", b.Changes)
	}
	for _, tc := range touching {
		if tc.table != "c2" {
			continue
		}
		if b := r2.Next(); len(b.Changes) != 1 || b.Changes[0].Op != capture.OpUnreadable || b.Changes[0].Table.Name != "c2" {
			t.Fatalf("replay of %q: %+v, want c2's OpUnreadable change (c1's are superseded by its snapshot)", tc.stmt, b.Changes)
		}
	}
}
