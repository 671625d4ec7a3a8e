package mysql

import (
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/floe-cdc/floe/capture"
)

const emojiDDL = `CREATE TABLE emo (id INT PRIMARY KEY,
	k ENUM('😀','b','?','ü🎉') CHARACTER SET utf8mb4,
	s SET('🎉','x','y🐟') CHARACTER SET utf8mb4,
	l ENUM('é','?') CHARACTER SET latin1)`

// TestEmojiLabels reads ENUM and SET labels with 4-byte UTF-8, which
// information_schema shows as '?', through the snapshot and the binlog.
func TestEmojiLabels(t *testing.T) {
	e := newEnv(t)
	e.exec(emojiDDL)
	rows := []string{
		"(1, '😀', '🎉,y🐟', 'é')",
		"(2, '?', 'x', '?')",
		"(3, 'ü🎉', '', NULL)",
		"(4, NULL, NULL, NULL)",
		"(5, 'b', 'y🐟,x,🎉', 'é')",
	}
	want := []string{"1|😀|🎉,y🐟|é", "2|?|x|?", "3|ü🎉||<nil>", "4|<nil>|<nil>|<nil>", "5|b|🎉,x,y🐟|é"}
	e.exec("INSERT INTO emo VALUES " + strings.Join(rows, ", "))

	s := e.source(e.config(e.db + `\.emo`))
	ctx := testCtx(t)
	if _, err := s.Start(ctx, capture.StartRequest{Snapshot: true}); err != nil {
		t.Fatal(err)
	}
	tid := id(e.db, "emo")
	b, err := s.ReadChunk(ctx, tid, capture.Chunk{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Changes) != len(want) {
		t.Fatalf("snapshot read %d rows, want %d", len(b.Changes), len(want))
	}
	for i, ch := range b.Changes {
		if got := fmtRow(ch.After); got != want[i] {
			t.Errorf("snapshot row %d: %s, want %s", i, got, want[i])
		}
	}

	r := startStream(t, s)
	e.exec("DELETE FROM emo")
	e.exec("INSERT INTO emo VALUES " + strings.Join(rows, ", "))
	e.exec("UPDATE emo SET k = 'ü🎉', s = 'y🐟' WHERE id = 1")
	del := r.Next()
	ins := r.Next()
	if len(del.Changes) != len(want) || len(ins.Changes) != len(want) {
		t.Fatalf("binlog: %d deletes and %d inserts, want %d each", len(del.Changes), len(ins.Changes), len(want))
	}
	for i := range want {
		if got := fmtRow(del.Changes[i].Before); got != want[i] {
			t.Errorf("binlog delete %d: %s, want %s", i, got, want[i])
		}
		if got := fmtRow(ins.Changes[i].After); got != want[i] {
			t.Errorf("binlog insert %d: %s, want %s", i, got, want[i])
		}
	}
	upd := r.Next()
	if len(upd.Changes) != 1 || fmtRow(upd.Changes[0].Before) != want[0] || fmtRow(upd.Changes[0].After) != "1|ü🎉|y🐟|é" {
		t.Fatalf("binlog update: %+v", upd.Changes)
	}
	// The TABLE_MAP labels (emoji) and information_schema's ('?') are
	// one layout: no layout version is made for them.
	if discovered, err := s.tables.Get(tid); err != nil || upd.Changes[0].Schema != discovered.layout {
		t.Fatalf("the stream's layout %s is not the discovered one (%v)", upd.Changes[0].Schema, err)
	}
}

// TestLabelMetadata covers TABLE_MAP events without label metadata
// (binlog_row_metadata below FULL) and with labels that changed.
func TestLabelMetadata(t *testing.T) {
	e := newEnv(t)
	e.exec(emojiDDL)
	s := e.source(e.config(e.db + `\.emo`))
	if _, err := s.Discover(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	tbl, err := s.tables.Get(id(e.db, "emo"))
	if err != nil {
		t.Fatal(err)
	}
	event := func(enums, sets [][][]byte) *replication.TableMapEvent {
		return &replication.TableMapEvent{ColumnCount: 4,
			ColumnType:   []byte{gomysql.MYSQL_TYPE_LONG, gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_STRING, gomysql.MYSQL_TYPE_STRING},
			ColumnMeta:   []uint16{0, uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 1, uint16(gomysql.MYSQL_TYPE_SET)<<8 | 1, uint16(gomysql.MYSQL_TYPE_ENUM)<<8 | 1},
			EnumStrValue: enums, SetStrValue: sets}
	}
	b := func(labels ...string) [][]byte {
		out := make([][]byte, len(labels))
		for i, l := range labels {
			out[i] = []byte(l)
		}
		return out
	}
	enums := [][][]byte{b("😀", "b", "?", "ü🎉"), {{0xe9}, []byte("?")}}
	sets := [][][]byte{b("🎉", "x", "y🐟")}

	full, err := s.decoders(tbl, event(enums, sets), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := full.dec[1](int64(1)); err != nil || v != "😀" {
		t.Errorf("ENUM index 1 with metadata: %v %v", v, err)
	}
	if again, _ := s.decoders(tbl, event(enums, sets), full); again != full {
		t.Error("the same labels built new decoders")
	}

	bare, err := s.decoders(tbl, event(nil, nil), full)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := bare.dec[1](int64(2)); err != nil || v != "b" {
		t.Errorf("ENUM index 2 without metadata: %v %v", v, err)
	}
	if _, err := bare.dec[1](int64(1)); err == nil || !strings.Contains(err.Error(), "binlog_row_metadata=FULL") {
		t.Errorf("ENUM index 1 (shown as '?') without metadata: %v, want an error naming binlog_row_metadata=FULL", err)
	}
	if _, err := bare.dec[2](int64(2)); err != nil {
		t.Errorf("SET 'x' without metadata: %v", err)
	}

	changed := [][][]byte{b("😀", "b", "?", "ü🎉", "new"), enums[1]}
	if _, err := s.decoders(tbl, event(changed, sets), full); err == nil {
		t.Error("an added ENUM label was not reported")
	}
}
