package state

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestGolden pins the table record this build writes, and that the
// version 1 records of older builds still read (their position and
// snapshot plan, which nothing read, are ignored).
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "table_v2.golden")
	got := encodeTable(TableState{Checkpoint: 42})
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if string(want) != string(got) {
		t.Fatalf("encoding changed (bump RecordVersion and add a golden):\n got %s\nwant %s", got, want)
	}
	for name, checkpoint := range map[string]int64{"table_v2": 42, "table_v1": 42, "table_v1_nosnapshot": 1} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := decodeTable(b)
		if err != nil || st != (TableState{Checkpoint: checkpoint}) {
			t.Fatalf("decode %s: %+v, %v; want checkpoint %d", name, st, err, checkpoint)
		}
	}
}

func TestRoundTripAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if all, err := s.Tables(); len(all) != 0 || err != nil {
		t.Fatalf("empty store: %v %v", all, err)
	}
	want := map[string]TableState{"public.a": {Checkpoint: 3}, "public.b": {Checkpoint: 4}}
	if err := s.PutTables(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s = open(t, dir)
	got, err := s.Tables()
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("after reopen: %v, %v; want %v", got, err, want)
	}
}

// TestOlderStateDir: a state dir an older build wrote (version 1 records
// with positions and plans, and a meta bucket with the acknowledged
// position) opens and reads; the next records are written as version 2.
func TestOlderStateDir(t *testing.T) {
	dir := t.TempDir()
	v1, err := os.ReadFile(filepath.Join("testdata", "table_v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		tables, err := tx.CreateBucket([]byte("tables"))
		if err != nil {
			return err
		}
		if err := tables.Put([]byte("public.old"), v1); err != nil {
			return err
		}
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return meta.Put([]byte("acked_position"), []byte(`{"v":1,"position":"pg.v1:16/B374D848"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, dir)
	if err := s.PutTables(map[string]TableState{"public.new": {Checkpoint: 43}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tables()
	if want := map[string]TableState{"public.old": {Checkpoint: 42}, "public.new": {Checkpoint: 43}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("Tables() = %v, %v; want %v", got, err, want)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketTables).Get([]byte("public.new"))); v != `{"v":2,"checkpoint":43}` {
			t.Errorf("new record %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnknownVersion(t *testing.T) {
	for _, rec := range []string{`{"v":3,"checkpoint":1}`, `{"checkpoint":1}`} {
		s := open(t, t.TempDir())
		err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketTables).Put([]byte("public.t"), []byte(rec))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Tables(); err == nil || !strings.Contains(err.Error(), "table public.t: decode record: unsupported version") ||
			!strings.Contains(err.Error(), "(this build reads 1 and 2)") {
			t.Fatalf("record %s: err=%v", rec, err)
		}
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	start := time.Now()
	s2, err := Open(dir)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second open of a held state dir succeeded")
	}
	if want := "state dir " + dir + " is in use by another floe process"; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("second open failed after %v, want about 1s", d)
	}
	// Once released, the directory can be opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, dir)
}

func TestTablesAndDeleteTables(t *testing.T) {
	s := open(t, t.TempDir())
	all, err := s.Tables()
	if err != nil || len(all) != 0 {
		t.Fatalf("empty store: %v %v", all, err)
	}
	want := map[string]TableState{"public.a": {Checkpoint: 3}, "public.b": {Checkpoint: 4}}
	if err := s.PutTables(want); err != nil {
		t.Fatal(err)
	}
	all, err = s.Tables()
	if err != nil || len(all) != 2 || all["public.a"] != want["public.a"] || all["public.b"] != want["public.b"] {
		t.Fatalf("Tables() = %v, %v; want %v", all, err, want)
	}
	if err := s.DeleteTables("public.a", "public.absent"); err != nil {
		t.Fatal(err)
	}
	all, err = s.Tables()
	if err != nil || len(all) != 1 || all["public.b"] != want["public.b"] {
		t.Fatalf("after DeleteTables: %v, %v", all, err)
	}
	if s.Dir() == "" {
		t.Fatal("Dir is empty")
	}
}
