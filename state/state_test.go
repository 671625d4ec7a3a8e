package state

import (
	"flag"
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

func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
	}{
		{"table_v1", encodeTable(TableState{Position: "pg.v1:16/B374D848", Checkpoint: 42, Snapshot: `{"v":1,"chunks":[{"i":0}],"done":""}`})},
		{"table_v1_nosnapshot", encodeTable(TableState{Position: "pg.v1:0/1", Checkpoint: 1})},
		{"acked_v1", encodeAcked("pg.v1:16/B374D848")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, c.got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if string(want) != string(c.got) {
				t.Fatalf("encoding changed:\n got %s\nwant %s", c.got, want)
			}
		})
	}
	// The golden files must also decode to what they encode.
	b, err := os.ReadFile(filepath.Join("testdata", "table_v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeTable(b)
	if err != nil || st.Checkpoint != 42 || st.Position != "pg.v1:16/B374D848" || !strings.Contains(st.Snapshot, "chunks") {
		t.Fatalf("decode golden table: %+v, %v", st, err)
	}
}

func TestRoundTripAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Table("public.t"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	if p, err := s.AckedPosition(); p != "" || err != nil {
		t.Fatalf("empty acked: %q %v", p, err)
	}
	want := map[string]TableState{
		"public.a": {Position: "pg.v1:0/10", Checkpoint: 3},
		"public.b": {Position: "pg.v1:0/20", Checkpoint: 4, Snapshot: "plan"},
	}
	if err := s.PutTables(want); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAckedPosition("pg.v1:0/20"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s = open(t, dir)
	for id, w := range want {
		got, ok, err := s.Table(id)
		if err != nil || !ok || got != w {
			t.Errorf("table %s: got %+v ok=%v err=%v, want %+v", id, got, ok, err, w)
		}
	}
	if p, err := s.AckedPosition(); p != "pg.v1:0/20" || err != nil {
		t.Fatalf("acked after reopen: %q %v", p, err)
	}
}

func TestUnknownVersion(t *testing.T) {
	s := open(t, t.TempDir())
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketTables).Put([]byte("public.t"), []byte(`{"v":2,"position":"x"}`)); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyAcked, []byte(`{"v":9,"position":"x"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Table("public.t"); err == nil || !strings.Contains(err.Error(), "unsupported version 2") {
		t.Fatalf("table with v2: err=%v", err)
	}
	if _, err := s.AckedPosition(); err == nil || !strings.Contains(err.Error(), "unsupported version 9") {
		t.Fatalf("acked with v9: err=%v", err)
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
	want := map[string]TableState{
		"public.a": {Position: "pg.v1:0/1", Checkpoint: 3},
		"public.b": {Position: "pg.v1:0/2", Checkpoint: 4, Snapshot: "plan"},
	}
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
	if _, found, _ := s.Table("public.a"); found {
		t.Fatal("public.a is still cached")
	}
	if s.Dir() == "" {
		t.Fatal("Dir is empty")
	}
}
