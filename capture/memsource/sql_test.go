package memsource

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/parse.golden")

// parseCorpus covers every rule of the SQL subset and the errors of each.
var parseCorpus = []string{
	"CREATE TABLE t (id bigint PRIMARY KEY, v text)",
	"create table t (a int not null, b varchar(20) default 'x', c decimal(10, 2) default -1.5, primary key (a, b));",
	"CREATE TABLE t (a int DEFAULT NULL NOT NULL)",
	"CREATE TABLE t",
	"CREATE TABLE t (a int, PRIMARY (a))",
	"CREATE TABLE t (a varchar(x))",
	"CREATE TABLE t (a int NOT 1)",
	"CREATE TABLE t (a int, b int",
	"DROP TABLE t",
	"DROP TABLE 1",
	"TRUNCATE t",
	"TRUNCATE TABLE t;",
	"ALTER TABLE t ADD COLUMN n int DEFAULT 5",
	"ALTER TABLE t ADD n text NOT NULL",
	"ALTER TABLE t RENAME COLUMN a TO b",
	"ALTER TABLE t RENAME a b",
	"ALTER TABLE t DROP a",
	"INSERT INTO t VALUES (1, 'a''b', NULL), (-2, 'c', 3.25)",
	"INSERT INTO t (id, v) VALUES (1, 'x')",
	"INSERT INTO t (id, v VALUES (1)",
	"INSERT INTO t VALUES 1",
	"INSERT INTO t VALUES (1, -'x')",
	"UPDATE t SET v = 'x', n = n + 1, m = m - 2, k = j, z = NULL WHERE id = 1 AND v <> 'y'",
	"UPDATE t SET v = 'x' WHERE id BETWEEN 1 AND 10 AND k IN (1, 2, 3) AND a >= 2 AND b != 3 AND c < -1 AND d <= 4 AND e > 5",
	"UPDATE t SET v WHERE id = 1",
	"UPDATE t SET n = n + WHERE id = 1",
	"UPDATE t v = 1",
	"DELETE FROM t",
	"DELETE FROM t WHERE id = 1",
	"DELETE FROM t WHERE id BETWEEN 1 10",
	"DELETE FROM t WHERE id IN 1",
	"DELETE FROM t WHERE id LIKE 'a'",
	"DELETE FROM t WHERE id = 1 extra",
	"DELETE t",
	"SELECT 1",
	"",
	"INSERT INTO t VALUES ('open",
	"DELETE FROM t WHERE id = 1 # x",
}

// TestParse pins what each statement of parseCorpus parses into, or the
// error it gives (testdata/parse.golden; -update rewrites it).
func TestParse(t *testing.T) {
	var b strings.Builder
	for _, src := range parseCorpus {
		st, err := parse(src)
		fmt.Fprintf(&b, "%s\n\t", src)
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
			continue
		}
		dump(&b, reflect.ValueOf(st))
		b.WriteString("\n")
	}
	const golden = "testdata/parse.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("parse results differ from %s:\n%s", golden, got)
	}
}

// dump writes v with its unexported fields, following pointers.
func dump(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Kind() == reflect.Pointer {
			b.WriteString("&")
		}
		dump(b, v.Elem())
	case reflect.Struct:
		b.WriteString(v.Type().Name() + "{")
		for i := range v.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dump(b, v.Field(i))
		}
		b.WriteString("}")
	case reflect.Slice:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			if i > 0 {
				b.WriteString(" ")
			}
			dump(b, v.Index(i))
		}
		b.WriteString("]")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v)
	}
}
