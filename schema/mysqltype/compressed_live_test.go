package mysqltype

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/deploy/testdb"
)

// TestDecodeRowsEventCompressedLive: MariaDB with log_bin_compress writes
// compressed rows events, which DecodeRowsEvent must leave to go-mysql
// (it decompresses them) rather than read as images. The values are the
// same as go-mysql's own, and some events were compressed.
func TestDecodeRowsEventCompressedLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := testdb.StartMariaDBForTest(ctx, t, testdb.MariaDBOptions{})
	if m.Flavor == testdb.FlavorMySQL {
		t.Skip("log_bin_compress is MariaDB's")
	}
	if err := m.CreateDatabase(ctx, "cmp", "floe", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, "cmp", "CREATE TABLE t (id INT PRIMARY KEY, s TEXT, d DECIMAL(10,2))",
		"SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Exec(context.Background(), "cmp", "SET GLOBAL log_bin_compress = OFF") }()
	conn, file, pos, _ := connectAtBinlogEnd(t, m, "cmp")
	const rows = 200
	if _, err := conn.Execute("INSERT INTO t SELECT seq, REPEAT(CONCAT('v', seq), 40), seq / 4 FROM seq_1_to_200"); err != nil {
		t.Fatal(err)
	}

	compressed := 0
	own := readRowsEvents(ctx, t, m, file, pos, "t", rows, func(e *replication.RowsEvent, data []byte) error {
		if reflect.ValueOf(e).Elem().Field(compressedField).Bool() {
			compressed++
		}
		return DecodeRowsEvent(e, data)
	})
	plain := readRowsEvents(ctx, t, m, file, pos, "t", rows, func(e *replication.RowsEvent, data []byte) error {
		return decodeRowsEvent(e, data, false)
	})
	if compressed == 0 {
		t.Fatal("no rows event was compressed: the test did not test the compressed path")
	}
	var got, want [][]any
	for _, e := range own {
		got = append(got, e.Rows...)
	}
	for _, e := range plain {
		want = append(want, e.Rows...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeRowsEvent on compressed events: %d rows, first %v; go-mysql: %d rows, first %v", len(got), got[0], len(want), want[0])
	}
}
