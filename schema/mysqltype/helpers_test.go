package mysqltype

import (
	"fmt"
	"testing"
	"time"

	"github.com/floe-cdc/floe/schema"
)

// columnOf maps a column as discovery does: its type as information_schema
// describes it (COLUMN_TYPE, DATA_TYPE when that is empty, and
// CHARACTER_SET_NAME), under the options o.
func columnOf(name, colType, dataType, charset string, notNull bool, o Options) (schema.Column, error) {
	t, err := FromInfoSchema(InfoSchema{ColumnType: colType, DataType: dataType, Charset: charset})
	if err != nil {
		return schema.Column{}, fmt.Errorf("map column %s: %w", name, err)
	}
	return Column(name, t, notNull, o)
}

// mysqlColumn is columnOf under the default options.
func mysqlColumn(name, colType, dataType, charset string, notNull bool) (schema.Column, error) {
	return columnOf(name, colType, dataType, charset, notNull, Options{})
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// wallMicros is the wall clock s ("2006-01-02 15:04:05.999999") as
// microseconds since 1970-01-01 00:00:00 on the wall; it panics on a
// malformed s.
func wallMicros(s string) int64 {
	tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return tm.UnixMicro()
}

// utcMicros is the UTC instant s ("2006-01-02 15:04:05.999999") as
// microseconds since the Unix epoch.
func utcMicros(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMicro()
}

// dayOf is the date s ("2006-01-02") as days since 1970-01-01; it panics
// on a malformed s.
func dayOf(s string) int32 {
	tm, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return int32(tm.Unix() / 86400)
}
