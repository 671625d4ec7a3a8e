package mysqltype

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// BenchmarkDecodeRowsEvent measures the stream's decoding of real rows
// events from MariaDB, per row: the images (DecodeRowsEvent, or go-mysql
// with go-mysql), then every value by its column's binlog decoder, as
// capture/mysql does. The table has the column types of the bench's
// orders table (cmd/floe-bench).
func BenchmarkDecodeRowsEvent(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, b, testdb.MariaDBOptions{})
	if err := m.CreateDatabase(ctx, "bench", "floe", "pw"); err != nil {
		b.Fatal(err)
	}
	const rows = 20000
	if err := m.Exec(ctx, "bench", `CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, status VARCHAR(16),
		amount DECIMAL(12,2), qty INT, placed_at TIMESTAMP(6) NULL, shipped_at DATETIME(6), ref BINARY(16), comment TEXT)`); err != nil {
		b.Fatal(err)
	}
	if m.Flavor == testdb.FlavorMySQL {
		b.Skip("the rows come from MariaDB's sequence engine")
	}
	conn, file, pos, _ := connectAtBinlogEnd(b, m, "bench")
	if _, err := conn.Execute(`INSERT INTO orders SELECT seq, 1 + seq % 500000, ELT(1 + seq % 4, 'new','paid','shipped','done'),
		(seq % 99991) / 10, 1 + seq % 7, TIMESTAMP'2021-01-01 00:00:00' + INTERVAL seq * 11 SECOND,
		TIMESTAMP'2021-01-02 00:00:00' + INTERVAL seq * 13 SECOND, UNHEX(MD5(seq)), CONCAT('order ', MD5(seq * 7))
		FROM seq_1_to_20000`); err != nil {
		b.Fatal(err)
	}
	meta, err := conn.Execute(`SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, ''), IS_NULLABLE
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'bench' AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION`)
	if err != nil {
		b.Fatal(err)
	}
	var decoders []func(any) (any, error)
	for r := range meta.RowNumber() {
		s := func(i int) string { v, _ := meta.GetString(r, i); return v }
		c, err := mysqlColumn(s(0), s(1), s(2), s(3), s(4) == "NO")
		if err != nil {
			b.Fatal(err)
		}
		d, err := BinlogDecoder(c, Options{})
		if err != nil {
			b.Fatal(err)
		}
		decoders = append(decoders, d)
	}

	// The rows events of the insert, each with a copy of its bytes: the
	// benchmark decodes them again and again.
	type event struct {
		e    *replication.RowsEvent
		data []byte
	}
	var events []event
	readRowsEvents(ctx, b, m, file, pos, "orders", rows, func(e *replication.RowsEvent, data []byte) error {
		events = append(events, event{e, append([]byte(nil), data...)})
		return DecodeRowsEvent(e, data)
	})

	for _, c := range []struct {
		name string
		own  bool
	}{{"go-mysql", false}, {"own", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, ev := range events {
					if err := decodeRowsEvent(ev.e, ev.data, c.own); err != nil {
						b.Fatal(err)
					}
					for _, row := range ev.e.Rows {
						for i, v := range row {
							if v == nil {
								continue
							}
							if _, err := decoders[i](v); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}

// connectAtBinlogEnd connects to database db on m as floe (closed when the
// test ends) and returns the connection, the binlog file and position the
// next write starts at, and go-mysql's flavor for m.
func connectAtBinlogEnd(tb testing.TB, m *testdb.MariaDB, db string) (conn *client.Conn, file string, pos int64, flavor string) {
	tb.Helper()
	conn, err := client.Connect(m.Addr(), "floe", "pw", db)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	status, flavor := "SHOW MASTER STATUS", mysql.MariaDBFlavor
	if m.Flavor == testdb.FlavorMySQL {
		status, flavor = "SHOW BINARY LOG STATUS", mysql.MySQLFlavor // MySQL 8.4+ dropped SHOW MASTER STATUS
	}
	st, err := conn.Execute(status)
	if err != nil {
		tb.Fatalf("%s: %v", status, err)
	}
	file, _ = st.GetString(0, 0)
	pos, _ = st.GetInt(0, 1)
	return conn, file, pos, flavor
}

// readRowsEvents reads MariaDB m's binlog from file:pos, decoding rows
// events with decode, until it has read rows rows of table, and returns
// table's rows events.
func readRowsEvents(ctx context.Context, tb testing.TB, m *testdb.MariaDB, file string, pos int64, table string, rows int,
	decode func(*replication.RowsEvent, []byte) error) []*replication.RowsEvent {
	tb.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4243, Flavor: mysql.MariaDBFlavor, Host: "127.0.0.1", Port: uint16(m.Port), User: "floe", Password: "pw",
		TimestampStringLocation: time.UTC, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RowsEventDecodeFunc: decode,
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: uint32(pos)})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*replication.RowsEvent
	for n := 0; n < rows; {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Table) == table {
			out = append(out, re)
			n += len(re.Rows)
		}
	}
	return out
}
