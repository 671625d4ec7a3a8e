package transform

import (
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/floe-cdc/floe/schema"
)

func srcTable() *schema.Table {
	return &schema.Table{Columns: []schema.Column{
		{Name: "id", Type: iceberg.PrimitiveTypes.Int64, Source: schema.TypeName("int8")},
		{Name: "name", Type: iceberg.PrimitiveTypes.String, Nullable: true, Source: schema.TypeName("text")},
		{Name: "body", Type: iceberg.PrimitiveTypes.String, Source: schema.TypeName("text")},
	}, Key: []int{0}}
}

func TestParseMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Mode
		err  bool
	}{{"upsert", Upsert, false}, {"changelog", Changelog, false}, {"Upsert", 0, true}, {"", 0, true}} {
		got, err := ParseMode(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseMode(%q) = %v, %v", c.in, got, err)
		}
		if !c.err && got.String() != c.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), c.in)
		}
	}
}

func TestSinkLayout(t *testing.T) {
	type col struct {
		name     string
		typ      iceberg.Type
		nullable bool
	}
	meta := []col{
		{ColOp, iceberg.PrimitiveTypes.String, false},
		{ColTS, iceberg.PrimitiveTypes.TimestampTz, false},
		{ColPos, iceberg.PrimitiveTypes.String, false},
		{ColSeq, iceberg.PrimitiveTypes.Int64, false},
	}
	cases := []struct {
		mode Mode
		want []col
	}{
		{Upsert, append([]col{
			{"id", iceberg.PrimitiveTypes.Int64, false},
			{"name", iceberg.PrimitiveTypes.String, true},
			{"body", iceberg.PrimitiveTypes.String, false},
		}, meta...)},
		{Changelog, append([]col{
			{"id", iceberg.PrimitiveTypes.Int64, true},
			{"name", iceberg.PrimitiveTypes.String, true},
			{"body", iceberg.PrimitiveTypes.String, true},
		}, meta...)},
	}
	src := srcTable()
	for _, c := range cases {
		t.Run(c.mode.String(), func(t *testing.T) {
			l := SinkLayout(src, c.mode)
			if len(l.Columns) != len(c.want) {
				t.Fatalf("layout %s: %d columns, want %d", l, len(l.Columns), len(c.want))
			}
			for i, w := range c.want {
				g := l.Columns[i]
				if g.Name != w.name || !g.Type.Equals(w.typ) || g.Nullable != w.nullable {
					t.Errorf("column %d = %s %s nullable=%v, want %s %s nullable=%v", i, g.Name, g.Type, g.Nullable, w.name, w.typ, w.nullable)
				}
				if i >= len(src.Columns) && g.Source != schema.TypeName("floe") {
					t.Errorf("metadata column %s has source %v", g.Name, g.Source)
				}
			}
			if len(l.Key) != 1 || l.Key[0] != 0 {
				t.Errorf("key = %v, want [0]", l.Key)
			}
			if SinkLayout(src, c.mode) != l {
				t.Error("same source pointer yielded a different layout pointer")
			}
			if err := isSinkLayout(l); err != nil {
				t.Error(err)
			}
		})
	}
	if SinkLayout(src, Upsert) == SinkLayout(src, Changelog) {
		t.Error("upsert and changelog layouts share a pointer")
	}
	if src.Columns[2].Nullable {
		t.Error("SinkLayout modified its source layout")
	}
}

func TestSinkLayoutCollision(t *testing.T) {
	for _, name := range []string{ColOp, ColTS, ColPos, ColSeq} {
		src := &schema.Table{Columns: []schema.Column{
			{Name: "id", Type: iceberg.PrimitiveTypes.Int64},
			{Name: name, Type: iceberg.PrimitiveTypes.String},
		}, Key: []int{0}}
		if _, err := BuildSinkLayout(src, Upsert); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("column %s: err = %v", name, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("column %s: SinkLayout did not panic", name)
				}
			}()
			SinkLayout(src, Changelog)
		}()
	}
}
