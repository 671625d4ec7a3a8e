package pgtype

import (
	"testing"
	"unicode/utf8"

	"github.com/floe-cdc/floe/schema"
)

// FuzzPostgresArray: the array parser never panics on any input, for
// elements of every decoder kind, and returns a list or a *schema.ValueError.
func FuzzPostgresArray(f *testing.F) {
	for _, s := range []string{
		"{}", "{1,2,NULL}", `{"a,b","c\"d",NULL,"NULL"}`, "{{1,2},{3,4}}", "[0:1]={1,2}",
		`{"\\x00ff"}`, "{ 1 , 2 }", `{a\ b}`, `{"`, "{", "}", `{\}`, "{1;2}",
		`{"2024-01-02 03:04:05+00",infinity}`, "{1.5,-2.0}", "{t,f}",
	} {
		f.Add(s)
	}
	var decoders []schema.Decoder
	for _, src := range []Type{
		pgArray(pgType("int4", 23)), pgArray(pgType("text", 25)), pgArray(pgNumeric(5, 1)),
		pgArray(pgType("bytea", 17)), pgArray(pgType("timestamptz", 1184)), pgArray(pgType("box", 603)),
		pgArray(pgType("bool", 16)), pgArray(pgType("money", 790)), pgArray(pgType("uuid", 2950)),
	} {
		decoders = append(decoders, mustDecoder(f, mustColumn(f, src)))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range decoders {
			v, err := d([]byte(s))
			if err != nil {
				if _, ok := err.(*schema.ValueError); !ok {
					t.Fatalf("%q: error %T %v, want *schema.ValueError", s, err, err)
				}
				continue
			}
			l, ok := v.([]any)
			if !ok || l == nil {
				t.Fatalf("%q: decoded %T %v, want a non-nil []any", s, v, v)
			}
			for _, e := range l {
				if str, ok := e.(string); ok && !utf8.ValidString(str) {
					t.Fatalf("%q: invalid UTF-8 element %q", s, str)
				}
			}
		}
	})
}
