package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRESTCatalog runs floe with `sink.catalog.type: rest` against Apache
// Iceberg's REST catalog server (JDBC catalog on PostgreSQL, S3FileIO on
// versitygw), then reads the table through Trino's REST catalog and
// PyIceberg's RestCatalog and compares with the source.
func TestRESTCatalog(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	tr := trino(t)
	l := newLake(t, "restshop")
	rc := startRESTFor(t, l)

	l.exec(`CREATE TABLE events (id bigint PRIMARY KEY, kind text, qty integer, ts timestamp);
		CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
		INSERT INTO events SELECT g, 'k' || g % 4, g, timestamp '2024-03-01' + g * interval '1 second' FROM generate_series(1, 500) g;`,
		"ALTER TABLE events OWNER TO u_restshop", "ALTER TABLE markers OWNER TO u_restshop")
	l.writeConfig(`public\..*`, "    type: rest\n    uri: "+rc.URL+"\n", l.warehouse)
	r := l.start()
	l.exec("UPDATE events SET qty = -qty, kind = 'upd' WHERE id % 7 = 0", "DELETE FROM events WHERE id % 11 = 0",
		"INSERT INTO events VALUES (1000, 'new', 1, '1999-12-31 23:59:59.999999')")
	l.catchUpAndStop(r, "markers")

	props := trinoS3Props()
	props["iceberg.catalog.type"] = "rest"
	props["iceberg.rest-catalog.uri"] = rc.URL
	if err := tr.CreateCatalog(ctx, "restshop", props); err != nil {
		t.Fatal(err)
	}
	want := l.readPG("events", eventCols)
	if d := diff(want, readTrino(t, tr, "restshop.lake.events", eventCols), eventCols, 20); len(d) > 0 {
		t.Errorf("events through trino (rest catalog) differs from the source:\n%s", strings.Join(d, "\n"))
	}
	py := pyS3Props()
	py["type"] = "rest"
	py["uri"] = rc.URL
	p := readPython(t, py, "lake.events")["lake.events"]
	if d := diff(want, pyTable(t, p, eventCols), eventCols, 20); len(d) > 0 {
		t.Errorf("events through pyiceberg (rest catalog) differs from the source:\n%s", strings.Join(d, "\n"))
	}
	if t.Failed() {
		t.Logf("rest catalog log tail:\n%s", rc.LogTail(30))
	}
	t.Logf("events: %d rows equal in source, trino and pyiceberg via the rest catalog", len(want))
}

// startRESTFor starts a REST catalog server keeping its catalog in l's
// catalog database and its tables in l's warehouse; it is stopped when
// the test ends (its log tail is printed if the test failed).
func startRESTFor(t *testing.T, l *lake) *RESTCatalog {
	t.Helper()
	start := time.Now()
	rc, err := StartREST(context.Background(), RESTOptions{
		JDBCURL:  fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", sharedPG.Port, l.catDB),
		JDBCUser: l.catUser, JDBCPassword: testPassword,
		Warehouse: l.warehouse, S3: sharedS3,
	})
	if err != nil {
		t.Fatalf("rest catalog could not start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rest catalog log tail:\n%s", rc.LogTail(30))
		}
		_ = rc.Stop()
	})
	t.Logf("iceberg rest catalog ready in %s", time.Since(start).Round(time.Millisecond))
	return rc
}
