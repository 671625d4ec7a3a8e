package transform

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/floe-cdc/floe/capture"
	"github.com/floe-cdc/floe/schema"
)

// applyConverging applies changes as replayed over a resumed snapshot.
func applyConverging(t *testing.T, b *Buffer, changes []capture.Change) {
	t.Helper()
	for i, ch := range changes {
		if err := b.Apply(ch, Meta{Pos: "p", Seq: int64(i), Converging: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// reread builds the map of rows read again from the source.
func reread(layout *schema.Table, rows ...schema.Row) map[string]schema.Row {
	out := map[string]schema.Row{}
	for _, r := range rows {
		out[string(schema.AppendKeyOf(nil, layout, schema.Row{r[0]}))] = r
	}
	return out
}

func rereadIDs(t *testing.T, b *Buffer) []int64 {
	t.Helper()
	keys, err := b.RereadKeys()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, k := range keys {
		ids = append(ids, k[0].(int64))
	}
	slices.Sort(ids)
	return ids
}

func TestBufferConvergingUpsert(t *testing.T) {
	// A key change 1 -> 2 with an unchanged TOAST value, replayed over a
	// snapshot that read neither key 1 (gone) nor key 2 (not yet there).
	b := newBuf(t, Upsert, 0)
	applyConverging(t, b, []capture.Change{move(1, img(2, "b", U)), upd(5, "e", U), ins(6, "f", "y")})
	if p := b.PendingKeys(); len(p) != 0 {
		t.Fatalf("converging images must not be looked up in Iceberg, PendingKeys = %v", p)
	}
	if got := rereadIDs(t, b); !slices.Equal(got, []int64{2, 5}) {
		t.Fatalf("RereadKeys = %v, want [2 5]", got)
	}
	// Key 2 exists at the source now; key 5 is gone (a later change deletes it).
	dropped, err := b.Resolve(nil, reread(b.layout, schema.Row{int64(2), "b2", "TOASTED"}))
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	rows, dels, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2 b TOASTED u 0", "6 f y c 2"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
	if want := []int64{1, 2, 5, 6}; !slices.Equal(dels, want) {
		t.Errorf("delete keys = %v, want %v", dels, want)
	}
}

func TestBufferConvergingInheritedByLaterChange(t *testing.T) {
	// A converging pending image stays converging when a later, ordinary
	// change of the same key inherits its missing value.
	b := newBuf(t, Upsert, 0)
	applyConverging(t, b, []capture.Change{upd(1, "a", U)})
	if err := b.Apply(upd(1, "b", U), Meta{Pos: "q", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if got := rereadIDs(t, b); !slices.Equal(got, []int64{1}) {
		t.Fatalf("RereadKeys = %v, want [1]", got)
	}
	if _, err := b.Resolve(nil, reread(b.layout, schema.Row{int64(1), "now", "T"})); err != nil {
		t.Fatal(err)
	}
	rows, _, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 b T u 1"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
}

func TestBufferConvergingChangelog(t *testing.T) {
	b := newBuf(t, Changelog, 0)
	applyConverging(t, b, []capture.Change{upd(1, "a", U), upd(2, "b", U), ins(3, "c", "z")})
	if got := rereadIDs(t, b); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("RereadKeys = %v, want [1 2]", got)
	}
	dropped, err := b.Resolve(nil, reread(b.layout, schema.Row{int64(1), "x", "T1"}))
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	rows, _, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 a T1 u 0", "3 c z c 2"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
}

func TestBufferResolveMixesIcebergAndReread(t *testing.T) {
	// One Resolve fills ordinary images from Iceberg and converging ones
	// from the source; neither kind is dropped for lack of the other map.
	b := newBuf(t, Upsert, 0)
	applyConverging(t, b, []capture.Change{upd(1, "a", U)})
	if err := b.Apply(upd(2, "b", U), Meta{Pos: "q", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if p := b.PendingKeys(); len(p) != 1 || p[0][0] != int64(2) {
		t.Fatalf("PendingKeys = %v, want [[2]]", p)
	}
	if got := rereadIDs(t, b); !slices.Equal(got, []int64{1}) {
		t.Fatalf("RereadKeys = %v, want [1]", got)
	}
	dropped, err := b.Resolve(icebergRows(b.layout, schema.Row{int64(2), "old", "T2", "u"}),
		reread(b.layout, schema.Row{int64(1), "now", "T1"}))
	if err != nil || dropped != 0 {
		t.Fatalf("Resolve: dropped %d, err %v", dropped, err)
	}
	rows, _, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 a T1 u 0", "2 b T2 u 1"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
}

// TestBufferConvergingRereadAfterDrop: a converging change replayed in a
// layout from before a column was dropped (name, between the key and the
// TOAST value) is filled from the source's current row, which lacks that
// column: Reread lines the row up with the buffer's layout by name, so
// the unchanged value lands in its own column. (The rows used to be taken
// by position and refused for having fewer columns than the table.) A
// value that was not sent, of the very column the source dropped, cannot
// be filled: an error naming the column and floe resnapshot.
func TestBufferConvergingRereadAfterDrop(t *testing.T) {
	P := iceberg.PrimitiveTypes
	b := newBuf(t, Upsert, 0)
	applyConverging(t, b, []capture.Change{upd(1, "a", U)})
	now := &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "body", Type: P.String, Nullable: true}}, Key: []int{0}}
	row := b.Reread(now)(schema.Row{int64(1), "TOASTED"})
	if _, err := b.Resolve(nil, reread(b.layout, row)); err != nil {
		t.Fatal(err)
	}
	rows, _, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 a TOASTED u 0"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}

	b = newBuf(t, Upsert, 0)
	applyConverging(t, b, []capture.Change{upd(1, "a", U)})
	noBody := &schema.Table{Columns: []schema.Column{{Name: "id", Type: P.Int64}, {Name: "name", Type: P.String, Nullable: true}}, Key: []int{0}}
	_, err = b.Resolve(nil, reread(b.layout, b.Reread(noBody)(schema.Row{int64(1), "a"})))
	if err == nil || !strings.Contains(err.Error(), "column body") || !strings.Contains(err.Error(), "floe resnapshot") {
		t.Fatalf("Resolve with the TOAST column gone at the source: %v, want an error naming column body and floe resnapshot", err)
	}
}

// TestBufferSupersededSnapshotRow: in changelog mode a snapshot row
// marked Superseded (a chunk read beside the stream, older than the
// stream's change of its key) is logged, but a later change's unchanged
// value is filled from the stream's image, not from it, also when the key
// has no image in the buffer yet; upsert mode refuses such a row, and so
// does changelog mode for any other change.
func TestBufferSupersededSnapshotRow(t *testing.T) {
	b := newBuf(t, Changelog, 0)
	for i, ap := range []struct {
		ch         capture.Change
		superseded bool
	}{
		{upd(1, "a", "T1"), false},
		{read(1, "old", "T0"), true},
		{upd(1, "b", U), false},
		{read(2, "old", "T0"), true},
		{upd(2, "c", U), false},
	} {
		if err := b.Apply(ap.ch, Meta{Pos: "q", Seq: int64(i), Superseded: ap.superseded}); err != nil {
			t.Fatal(err)
		}
	}
	if p := b.PendingKeys(); len(p) != 1 || p[0][0] != int64(2) {
		t.Fatalf("PendingKeys = %v, want [[2]]: key 2's unchanged value is not the superseded row's", p)
	}
	if _, err := b.Resolve(icebergRows(b.layout, schema.Row{int64(2), "s", "T2", "u"}), nil); err != nil {
		t.Fatal(err)
	}
	rows, _, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1 a T1 u 0", "1 old T0 r 1", "1 b T1 u 2", "2 old T0 r 3", "2 c T2 u 4"}; !slices.Equal(rows, want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}

	up := newBuf(t, Upsert, 0)
	if err := up.Apply(read(1, "old", "T0"), Meta{Pos: "q", Superseded: true}); err == nil || !strings.Contains(err.Error(), "superseded") {
		t.Errorf("upsert mode applied a superseded row: %v", err)
	}
	if err := b.Apply(upd(3, "x", "y"), Meta{Pos: "q", Superseded: true}); err == nil || !strings.Contains(err.Error(), "superseded") {
		t.Errorf("changelog mode applied a superseded update: %v", err)
	}
}
