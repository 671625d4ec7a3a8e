package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

const ordersDDL = `CREATE TABLE orders (
	id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(10,2), qty BIGINT UNSIGNED,
	created DATETIME(6), seen TIMESTAMP(3) NULL, note TEXT, data VARBINARY(16), day DATE, flag BIT(3), kind ENUM('a','b'))`

func fmtRow(r schema.Row) string {
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = fmt.Sprintf("%v", v)
	}
	return strings.Join(parts, "|")
}

// scanAll reads the table through ScanTable.
func scanAll(t *testing.T, s *Source, tid capture.TableID) []string {
	t.Helper()
	var rows []string
	if err := s.ScanTable(testCtx(t), tid, func(r schema.Row) error {
		rows = append(rows, fmtRow(r))
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSnapshotChunksEqualTable(t *testing.T) {
	e := newEnv(t)
	e.exec(ordersDDL)
	for i := 1; i <= 250; i++ {
		e.exec(fmt.Sprintf(`INSERT INTO orders VALUES (%d, 'n%d', %d.25, 18446744073709551615, '2024-02-29 12:34:56.123456',
			'2024-01-01 00:00:01.5', 'text %d', X'00ff%02x', '1999-12-31', b'101', 'b')`, i*3, i, i, i, i%256))
	}
	s := e.source(e.config(e.db + `\.orders`))
	ctx := testCtx(t)
	infos, err := s.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Schema.KeyNames()[0] != "id" || len(infos[0].Schema.Columns) != 11 {
		t.Fatalf("discovered %+v", infos)
	}
	info, err := s.Start(ctx, capture.StartRequest{Snapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.Exact || info.From == nil {
		t.Fatalf("start info %+v, want Exact=false and a position", info)
	}
	tid := id(e.db, "orders")
	chunks, err := s.PlanChunks(ctx, tid, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 3 || chunks[0].Lower != nil || chunks[2].Upper != nil || chunks[0].Upper[0] != "300" {
		t.Fatalf("chunks = %+v, want 3 with the first ending at id 300", chunks)
	}
	var got []string
	for _, c := range chunks {
		b, err := s.ReadChunk(ctx, tid, c)
		if err != nil {
			t.Fatal(err)
		}
		if b.Chunk == nil || b.Chunk.Index != c.Index || b.Position.Compare(info.From) != 0 {
			t.Fatalf("chunk batch %+v", b)
		}
		for _, ch := range b.Changes {
			if ch.Op != capture.OpRead || ch.After.HasUnchanged() {
				t.Fatalf("change %+v", ch)
			}
			got = append(got, fmtRow(ch.After))
		}
	}
	want := scanAll(t, s, tid)
	if len(want) != 250 || !slices.Equal(got, want) {
		t.Fatalf("chunks hold %d rows, the table %d; first got %q want %q", len(got), len(want), got[:1], want[:1])
	}
	if err := s.EndSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadChunk(ctx, tid, chunks[0]); !errors.Is(err, capture.ErrSnapshotEnded) {
		t.Fatalf("ReadChunk after EndSnapshot: %v", err)
	}
}

func TestStreamChanges(t *testing.T) {
	e := newEnv(t)
	e.exec(ordersDDL, "CREATE TABLE items (k VARCHAR(10) PRIMARY KEY, v INT)", "CREATE TABLE ignored (id INT PRIMARY KEY)")
	cfg := e.config(e.db+`\.orders`, e.db+`\.items`)
	cfg.MaxBatchChanges = 50
	s := e.source(cfg)
	ctx := testCtx(t)
	info, err := s.Start(ctx, capture.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := startStream(t, s)
	e.exec(`INSERT INTO orders (id, name, amount, created, seen, note, day, kind) VALUES (1, 'one', 1.50, '2024-01-02 03:04:05', '2024-01-02 03:04:05.250', 'hello', '2024-01-02', 'a')`)
	e.exec("INSERT INTO ignored VALUES (1)")
	e.exec("UPDATE orders SET name = 'uno' WHERE id = 1")
	e.exec("UPDATE orders SET id = 2 WHERE id = 1")
	e.tx("INSERT INTO items VALUES ('x', 1)", "UPDATE orders SET qty = 7 WHERE id = 2", "DELETE FROM items WHERE k = 'x'")
	e.exec("DELETE FROM orders WHERE id = 2")
	var big []string
	for i := 0; i < 120; i++ {
		big = append(big, fmt.Sprintf("INSERT INTO items VALUES ('k%03d', %d)", i, i))
	}
	e.tx(big...)
	e.exec("TRUNCATE TABLE items")

	prev := info.From
	var batches []capture.Batch
	for len(batches) < 9 {
		b := r.Next()
		if b.Position.Compare(prev) < 0 || (b.Position.Compare(prev) == 0 && len(batches) > 0 && !batches[len(batches)-1].More) {
			t.Fatalf("batch %d position %s not after %s", len(batches), b.Position, prev)
		}
		prev = b.Position
		batches = append(batches, b)
	}
	one := func(i int) capture.Change {
		t.Helper()
		if len(batches[i].Changes) != 1 {
			t.Fatalf("batch %d has %d changes, want 1: %+v", i, len(batches[i].Changes), batches[i].Changes)
		}
		return batches[i].Changes[0]
	}
	ins := one(0)
	if ins.Op != capture.OpInsert || ins.After[1] != "one" || ins.After[0] != int32(1) || ins.Before != nil {
		t.Fatalf("insert = %+v", ins)
	}
	upd := one(1)
	if upd.Op != capture.OpUpdate || upd.Before[1] != "one" || upd.After[1] != "uno" || upd.After[6] != "hello" {
		t.Fatalf("update = %+v", upd)
	}
	move := one(2)
	if move.Op != capture.OpUpdate || move.Before[0] != int32(1) || move.After[0] != int32(2) || move.BeforeKeyOnly {
		t.Fatalf("key change = %+v", move)
	}
	multi := batches[3].Changes
	if len(multi) != 3 || multi[0].Table.Name != "items" || multi[1].Table.Name != "orders" || multi[2].Op != capture.OpDelete || multi[2].Before[0] != "x" {
		t.Fatalf("multi-table transaction = %+v", multi)
	}
	del := one(4)
	if del.Op != capture.OpDelete || del.Before[0] != int32(2) || del.After != nil || del.Before[1] != "uno" {
		t.Fatalf("delete = %+v", del)
	}
	// 120 inserts with MaxBatchChanges 50: parts of 50, 50 (More) and 20.
	if !batches[5].More || !batches[6].More || batches[7].More ||
		len(batches[5].Changes)+len(batches[6].Changes)+len(batches[7].Changes) != 120 || len(batches[7].Changes) != 20 {
		t.Fatalf("large transaction parts: %d/%v %d/%v %d/%v", len(batches[5].Changes), batches[5].More,
			len(batches[6].Changes), batches[6].More, len(batches[7].Changes), batches[7].More)
	}
	if batches[5].Position.Compare(batches[7].Position) != 0 {
		t.Fatalf("part position %s differs from the final %s", batches[5].Position, batches[7].Position)
	}
	if tr := one(8); tr.Op != capture.OpTruncate || tr.Table.Name != "items" {
		t.Fatalf("truncate = %+v", tr)
	}
}
