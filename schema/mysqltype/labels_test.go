package mysqltype

import (
	"slices"
	"testing"
)

func TestMySQLLabelsFromBinlog(t *testing.T) {
	// As information_schema shows enum('😀','b','it''s','?','x🎉y') in utf8mb4.
	shown := `enum('?','b','it''s','?','x?y')`
	c, err := mysqlColumn("k", shown, "enum", "utf8mb4", false)
	if err != nil {
		t.Fatal(err)
	}
	if !LabelsUncertain(c) {
		t.Fatal("labels with '?' not reported uncertain")
	}
	plain, _ := mysqlColumn("k", "enum('a','b')", "enum", "utf8mb4", false)
	if LabelsUncertain(plain) || Labels(plain) == nil {
		t.Fatalf("enum('a','b'): uncertain or no labels: %q", Labels(plain))
	}

	// The snapshot reads the stored labels in full.
	td, err := TextDecoder(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"😀", "?", "x🎉y", "it's", ""} {
		if got, err := td([]byte(v)); err != nil || got != v {
			t.Errorf("text %q: %v %v", v, got, err)
		}
	}
	for _, v := range []string{"é", "xy", "x🎉🎉y", "😀😀"} {
		if _, err := td([]byte(v)); err == nil {
			t.Errorf("text %q: accepted as a member", v)
		}
	}

	labels := []string{"😀", "b", "it's", "?", "x🎉y"}
	full, err := WithLabels(c, raw(labels...))
	if err != nil {
		t.Fatal(err)
	}
	if want := `enum('😀','b','it''s','?','x🎉y') character set utf8mb4`; full.Source.String() != want {
		t.Errorf("source type %q, want %q", full.Source.String(), want)
	}
	if got := Labels(full); !slices.Equal(got, labels) {
		t.Errorf("labels %q, want %q", got, labels)
	}
	bd, err := BinlogDecoder(full, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range labels {
		if got, err := bd(int64(i + 1)); err != nil || got != want {
			t.Errorf("binlog index %d: %v %v, want %q", i+1, got, err, want)
		}
	}

	set, _ := mysqlColumn("s", `set('?','x','\\?')`, "set", "utf8mb4", false)
	fullSet, err := WithLabels(set, raw("🐟", "x", `\🎉`))
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := BinlogDecoder(fullSet, Options{})
	if got, err := sd(int64(7)); err != nil || got != `🐟,x,\🎉` {
		t.Errorf("binlog SET 7: %v %v", got, err)
	}

	for _, bad := range [][]string{
		{"😀", "b", "it's", "?"},        // a label fewer
		{"😀", "c", "it's", "?", "x🎉y"}, // a different label
		{"é", "b", "it's", "?", "x🎉y"}, // '?' never stands for a BMP character
	} {
		if _, err := WithLabels(c, raw(bad...)); err == nil {
			t.Errorf("labels %q accepted for %s", bad, shown)
		}
	}
	if _, err := WithLabels(plain, raw("a", "b")); err != nil {
		t.Errorf("the same labels: %v", err)
	}
	// Labels arrive in the column's character set.
	latin, _ := mysqlColumn("l", "enum('é','?')", "enum", "latin1", false)
	if _, err := WithLabels(latin, [][]byte{{0xe9}, {'?'}}); err != nil {
		t.Errorf("latin1 labels: %v", err)
	}
}

func raw(labels ...string) [][]byte {
	out := make([][]byte, len(labels))
	for i, l := range labels {
		out[i] = []byte(l)
	}
	return out
}
